// The DNS resolver actor against a real dnsmasq on loopback (tests/gateway/dns/dnsmasq.h).
#include "actors/dns_resolver.h"

#include <ares.h>
#include <gtest/gtest.h>
#include <sys/select.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <future>
#include <memory>

#include "gateway/dns/engine.h"
#include "tests/gateway/dns/dnsmasq.h"

namespace fedgw {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> records() {
  std::vector<std::string> r{
    "--local-ttl=300",
    // Several priorities and weights, IPv4 + IPv6 targets.
    "--srv-host=_sipfederationtls._tcp.peer.test,sip1.peer.test,5061,10,60",
    "--srv-host=_sipfederationtls._tcp.peer.test,sip2.peer.test,5061,10,40",
    "--srv-host=_sipfederationtls._tcp.peer.test,backup.peer.test,5062,20,0",
    "--host-record=sip1.peer.test,127.0.1.1,fd00::1:1",
    "--host-record=sip2.peer.test,127.0.1.2",
    "--host-record=backup.peer.test,127.0.1.3,fd00::1:3",
    // Only the second SRV name.
    "--srv-host=_sips._tcp.sips.test,sip.sips.test,5061,0,0",
    "--host-record=sip.sips.test,127.0.2.1",
    // Plain TCP federation.
    "--srv-host=_sip._tcp.tcp.test,sip.tcp.test,5060,0,0",
    "--host-record=sip.tcp.test,127.0.3.1",
    "--host-record=tcp.test,127.0.3.2",
    // No SRV at all: A/AAAA of the domain.
    "--host-record=plain.test,127.0.4.1,fd00::4:1",
    // "." target.
    "--srv-host=_sipfederationtls._tcp.none.test",
    "--host-record=none.test,127.0.5.1",
    // TTLs.
    "--host-record=short.test,127.0.6.1,1",
    "--host-record=long.test,127.0.6.2,600",
    "--host-record=v4only.test,127.0.7.1",
    // Coalescing.
    "--srv-host=_sips._tcp.crowd.test,sip.crowd.test,5061,0,0",
  };
  for (int i = 0; i < 40; ++i)
    r.push_back("--srv-host=_sipfederationtls._tcp.big.test,target-number-" + std::to_string(i) +
                ".big.test,5061,10," + std::to_string(i + 1));
  r.push_back("--host-record=target-number-7.big.test,127.0.10.7");
  return r;
}

// Sends n srv lookups at once from one event-based actor; replies with
// "outcome/source" of each answer.
caf::behavior fan_out(caf::event_based_actor* self) {
  return {
    [=](srv_atom, dns_resolver_actor resolver, std::string name,
        int n) -> caf::result<std::vector<std::string>> {
      auto rp = self->make_response_promise<std::vector<std::string>>();
      auto results = std::make_shared<std::vector<std::string>>();
      for (int i = 0; i < n; ++i)
        self->request(resolver, caf::infinite, srv_atom::value, name).then([=](dns::srv_lookup& x) mutable {
          results->push_back(std::string(dns::outcome_name(x.result)) + "/" + dns::source_name(x.query.from));
          if (static_cast<int>(results->size()) == n) rp.deliver(*results);
        });
      return rp;
    },
  };
}

class DnsResolver : public ::testing::Test {
protected:
  void SetUp() override {
    server = std::make_unique<test::dnsmasq>(records());
    ASSERT_TRUE(server->running()) << server->start_error();
    log = spawn_status_log(sys, status_log_options{30, false});
  }

  void TearDown() override {
    for (auto& r : resolvers) caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
    if (log) caf::anon_send_exit(log, caf::exit_reason::user_shutdown);
  }

  config::Dns settings() const {
    config::Dns d;
    d.add_servers(server->server());
    d.set_timeout_ms(1000);
    d.set_tries(2);
    return d;
  }

  dns_resolver_actor spawn(const config::Dns& d, dns_resolver_options o = {}) {
    if (o.random_seed == 0) o.random_seed = 99;
    if (!o.clock) {
      // Cache TTLs and the unreachable list run on a test clock: a TTL expires when
      // the test advances it (advance()), not after a real wait.
      o.clock = [start = std::chrono::steady_clock::now(), offset = clock_offset_ms] {
        return start + std::chrono::milliseconds(offset->load());
      };
    }
    auto r = spawn_dns_resolver(sys, d, log, o);
    resolvers.push_back(r);
    return r;
  }

  template <class T, class... Ts>
  T ask(const dns_resolver_actor& r, Ts&&... xs) {
    caf::scoped_actor self{sys};
    T out;
    self->request(r, std::chrono::seconds(20), std::forward<Ts>(xs)...)
      .receive([&](T& x) { out = std::move(x); }, [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return out;
  }
  dns::resolution resolve(const dns_resolver_actor& r, const std::string& domain) {
    return ask<dns::resolution>(r, resolve_atom::value, domain);
  }
  dns::srv_lookup srv(const dns_resolver_actor& r, const std::string& name) {
    return ask<dns::srv_lookup>(r, srv_atom::value, name);
  }
  dns::host_lookup host(const dns_resolver_actor& r, const std::string& name) {
    return ask<dns::host_lookup>(r, host_atom::value, name);
  }
  dns::stats stats(const dns_resolver_actor& r) { return ask<dns::stats>(r, dns_stats_atom::value); }

  // Moves the resolvers' clock forward (see spawn()).
  void advance(std::chrono::milliseconds d) { *clock_offset_ms += d.count(); }

  // Returns once every query `r` sent so far is in dnsmasq's log: dnsmasq logs
  // queries in the order they arrive, so a new one (an NXDOMAIN SRV question)
  // appearing in the log means the earlier ones are there too. Checks that a query
  // was NOT sent wait for this instead of sleeping.
  void all_queries_logged(const dns_resolver_actor& r) {
    auto marker = "_marker-" + std::to_string(++markers) + "._tcp.test";
    EXPECT_EQ(srv(r, marker).result, dns::outcome::nxdomain);
    EXPECT_EQ(server->wait_queries(marker, "SRV", 1), 1u);
  }

  std::vector<status_entry> log_entries() {
    caf::scoped_actor self{sys};
    std::vector<status_entry> out;
    self->request(log, std::chrono::seconds(5), caf::get_atom::value)
      .receive([&](std::vector<status_entry>& x) { out = std::move(x); },
               [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return out;
  }
  bool logged(severity level, const std::string& text) {
    for (const auto& e : log_entries())
      if (e.component == "dns" && e.level == static_cast<uint8_t>(level) && e.text.find(text) != std::string::npos)
        return true;
    return false;
  }

  std::unique_ptr<test::dnsmasq> server;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  status_log_actor log;
  std::vector<dns_resolver_actor> resolvers;
  std::shared_ptr<std::atomic<int64_t>> clock_offset_ms = std::make_shared<std::atomic<int64_t>>(0);
  int markers = 0;
};

std::vector<std::string> ips(const dns::target& t) {
  std::vector<std::string> out;
  for (const auto& a : t.addresses) out.push_back(a.ip);
  return out;
}

TEST_F(DnsResolver, PrioritiesWeightsAndBothAddressFamilies) {
  auto r = spawn(settings());
  auto res = resolve(r, "peer.test");
  ASSERT_TRUE(res.ok()) << res.error;
  ASSERT_EQ(res.targets.size(), 3u);
  std::map<std::string, dns::target> by_host;
  for (auto& t : res.targets) by_host[t.host] = t;
  EXPECT_EQ(res.targets[2].host, "backup.peer.test");  // priority 20 last
  EXPECT_EQ(res.targets[2].port, 5062);
  EXPECT_EQ(by_host["sip1.peer.test"].priority, 10);
  EXPECT_EQ(by_host["sip1.peer.test"].weight, 60);
  EXPECT_EQ(by_host["sip1.peer.test"].srv_name, "_sipfederationtls._tcp.peer.test");
  EXPECT_EQ(by_host["sip1.peer.test"].proto, dns::transport::tls);
  EXPECT_EQ(ips(by_host["sip1.peer.test"]), (std::vector<std::string>{"fd00::1:1", "127.0.1.1"}));
  EXPECT_EQ(ips(by_host["sip2.peer.test"]), (std::vector<std::string>{"127.0.1.2"}));
  EXPECT_EQ(ips(by_host["backup.peer.test"]), (std::vector<std::string>{"fd00::1:3", "127.0.1.3"}));
  ASSERT_EQ(res.queries.size(), 7u);  // 1 SRV + 3 x (A, AAAA)
  EXPECT_EQ(res.queries[0].records, 3u);
  EXPECT_EQ(res.queries[0].ttl, 300u);
  EXPECT_EQ(res.queries[0].from, dns::source::dns);

  // Every request gets its own RFC 2782 order: over 2,000 requests (answered
  // from the cache) sip1 (weight 60) comes first with p = 61/101.
  const int n = 2000;
  int sip1_first = 0;
  for (int i = 0; i < n; ++i) {
    auto again = resolve(r, "peer.test");
    ASSERT_EQ(again.targets.size(), 3u);
    sip1_first += again.targets[0].host == "sip1.peer.test";
    ASSERT_EQ(again.targets[2].host, "backup.peer.test");
  }
  double p = 61.0 / 101, e1 = p * n, e2 = (1 - p) * n;
  double chi = (sip1_first - e1) * (sip1_first - e1) / e1 + (n - sip1_first - e2) * (n - sip1_first - e2) / e2;
  EXPECT_LT(chi, 10.83) << sip1_first << " of " << n;  // df = 1, p = 0.001
  EXPECT_EQ(server->queries("_sipfederationtls._tcp.peer.test", "SRV"), 1u);  // the rest came from the cache
}

TEST_F(DnsResolver, SrvLookupGivesTtlsPrioritiesWeightsPortsTargets) {
  auto r = spawn(settings());
  auto s = srv(r, "_sipfederationtls._tcp.peer.test");
  ASSERT_EQ(s.result, dns::outcome::ok) << s.query.text;
  ASSERT_EQ(s.records.size(), 3u);
  std::map<std::string, dns::srv_record> by_target;
  for (auto& x : s.records) by_target[x.target] = x;
  EXPECT_EQ(by_target["sip1.peer.test"].priority, 10);
  EXPECT_EQ(by_target["sip1.peer.test"].weight, 60);
  EXPECT_EQ(by_target["sip1.peer.test"].port, 5061);
  EXPECT_EQ(by_target["sip1.peer.test"].ttl, 300u);
  EXPECT_EQ(by_target["backup.peer.test"].port, 5062);
  EXPECT_EQ(by_target["backup.peer.test"].weight, 0);
  EXPECT_EQ(s.query.text, "DNS: _sipfederationtls._tcp.peer.test SRV: 3 records, TTL 300");
  auto cached = srv(r, "_SIPFEDERATIONTLS._tcp.peer.test.");
  EXPECT_EQ(cached.query.from, dns::source::cache);
  EXPECT_LE(cached.query.ttl, 300u);
  EXPECT_EQ(cached.records.size(), 3u);
}

TEST_F(DnsResolver, FallsThroughSrvNamesAndListsEveryQuery) {
  auto r = spawn(settings());
  auto res = resolve(r, "sips.test");
  ASSERT_TRUE(res.ok()) << res.error;
  ASSERT_EQ(res.targets.size(), 1u);
  EXPECT_EQ(res.targets[0].srv_name, "_sips._tcp.sips.test");
  EXPECT_EQ(ips(res.targets[0]), (std::vector<std::string>{"127.0.2.1"}));
  ASSERT_GE(res.queries.size(), 2u);
  EXPECT_EQ(res.queries[0].name, "_sipfederationtls._tcp.sips.test");
  EXPECT_EQ(res.queries[0].result, dns::outcome::nxdomain);
  EXPECT_EQ(res.queries[0].text, "DNS: _sipfederationtls._tcp.sips.test SRV: NXDOMAIN");
  EXPECT_EQ(res.queries[1].result, dns::outcome::ok);
  EXPECT_EQ(server->queries("_sip._tls.sips.test", "SRV"), 0u);  // not needed
}

TEST_F(DnsResolver, TcpFederationOnlyWhenAllowed) {
  auto strict = spawn(settings());
  auto res = resolve(strict, "tcp.test");
  ASSERT_TRUE(res.ok()) << res.error;
  EXPECT_EQ(res.targets.at(0).host, "tcp.test");  // A/AAAA fallback, TLS 5061
  EXPECT_EQ(res.targets.at(0).proto, dns::transport::tls);
  auto d = settings();
  d.set_allow_tcp_federation(true);
  auto open = spawn(d);
  res = resolve(open, "tcp.test");
  ASSERT_TRUE(res.ok()) << res.error;
  EXPECT_EQ(res.targets.at(0).host, "sip.tcp.test");
  EXPECT_EQ(res.targets.at(0).port, 5060);
  EXPECT_EQ(res.targets.at(0).proto, dns::transport::tcp);
  EXPECT_EQ(res.targets.at(0).srv_name, "_sip._tcp.tcp.test");
}

TEST_F(DnsResolver, WithoutSrvTheDomainsOwnAddressesOn5061) {
  auto r = spawn(settings());
  auto res = resolve(r, "plain.test");
  ASSERT_TRUE(res.ok()) << res.error;
  ASSERT_EQ(res.targets.size(), 1u);
  EXPECT_EQ(res.targets[0].host, "plain.test");
  EXPECT_EQ(res.targets[0].port, 5061);
  EXPECT_TRUE(res.targets[0].srv_name.empty());
  EXPECT_EQ(ips(res.targets[0]), (std::vector<std::string>{"fd00::4:1", "127.0.4.1"}));
  EXPECT_EQ(res.queries.size(), 5u);
}

TEST_F(DnsResolver, NxdomainEverywhereIsNotFoundForTheRequesterToReport) {
  auto r = spawn(settings());
  auto res = resolve(r, "nobody.test");
  EXPECT_EQ(res.status, dns::resolve_status::no_record);
  EXPECT_TRUE(res.not_found());
  EXPECT_EQ(res.sip_status(), 404);
  ASSERT_EQ(res.queries.size(), 5u);
  const char* expected[] = {"_sipfederationtls._tcp.nobody.test", "_sips._tcp.nobody.test",
                            "_sip._tls.nobody.test", "nobody.test", "nobody.test"};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(res.queries[i].name, expected[i]);
    EXPECT_EQ(res.queries[i].result, dns::outcome::nxdomain) << res.queries[i].text;
  }
  EXPECT_EQ(res.error.rfind("DNS: nobody.test: no federation record", 0), 0u) << res.error;
  // The requester reports it (once); the resolver adds no second entry. Its report would
  // have been sent to the log before the answer to us, so asking the log now is ordered.
  EXPECT_FALSE(logged(severity::warning, "no federation record"));
}

TEST_F(DnsResolver, DotTargetMeansNoServiceAndNoFallback) {
  auto r = spawn(settings());
  auto res = resolve(r, "none.test");
  EXPECT_EQ(res.status, dns::resolve_status::no_service);
  EXPECT_EQ(res.sip_status(), 404);
  EXPECT_NE(res.error.find("offers no federation"), std::string::npos) << res.error;
  EXPECT_EQ(res.queries.size(), 1u);
  auto s = srv(r, "_sipfederationtls._tcp.none.test");
  EXPECT_EQ(s.result, dns::outcome::no_service);
  all_queries_logged(r);
  EXPECT_EQ(server->queries("none.test", "A"), 0u);
  EXPECT_EQ(server->queries("_sips._tcp.none.test", "SRV"), 0u);
}

TEST_F(DnsResolver, NodataForAMissingFamilyOrType) {
  auto r = spawn(settings());
  auto h = host(r, "v4only.test");
  EXPECT_EQ(h.result, dns::outcome::ok);
  ASSERT_EQ(h.queries.size(), 2u);
  EXPECT_EQ(h.queries[0].result, dns::outcome::ok);
  EXPECT_EQ(h.queries[1].result, dns::outcome::nodata);
  EXPECT_EQ(h.queries[1].text, "DNS: v4only.test AAAA: NODATA");
  EXPECT_EQ(srv(r, "v4only.test").result, dns::outcome::nodata);
  auto nx = host(r, "missing.test");
  EXPECT_EQ(nx.result, dns::outcome::nxdomain);
  EXPECT_TRUE(nx.addresses.empty());
}

TEST_F(DnsResolver, AnswerIsCachedForItsTtlThenAskedAgain) {
  auto r = spawn(settings());
  EXPECT_EQ(host(r, "short.test").addresses.at(0).ip, "127.0.6.1");  // TTL 1
  EXPECT_EQ(host(r, "long.test").addresses.at(0).ip, "127.0.6.2");   // TTL 600
  auto again = host(r, "short.test");
  EXPECT_EQ(again.queries[0].from, dns::source::cache);
  EXPECT_EQ(server->wait_queries("short.test", "A", 1), 1u);
  advance(1100ms);
  auto expired = host(r, "short.test");
  EXPECT_EQ(expired.queries[0].from, dns::source::dns);
  EXPECT_EQ(expired.addresses.at(0).ip, "127.0.6.1");
  EXPECT_EQ(server->wait_queries("short.test", "A", 2), 2u);
  EXPECT_EQ(host(r, "long.test").queries[0].from, dns::source::cache);
  EXPECT_EQ(server->queries("long.test", "A"), 1u);
}

TEST_F(DnsResolver, ConfiguredCeilingShortensLongTtls) {
  auto d = settings();
  d.set_max_cache_ttl_s(1);
  auto r = spawn(d);
  auto first = host(r, "long.test");  // TTL 600, capped to 1 s
  EXPECT_EQ(first.queries[0].ttl, 600u);
  EXPECT_EQ(host(r, "long.test").queries[0].from, dns::source::cache);
  advance(1100ms);
  EXPECT_EQ(host(r, "long.test").queries[0].from, dns::source::dns);
  EXPECT_EQ(server->wait_queries("long.test", "A", 2), 2u);
}

TEST_F(DnsResolver, NegativeAnswersAreCachedPerRfc2308) {
  // An authoritative-only dnsmasq: negative answers carry an SOA with TTL and MINIMUM 1.
  test::dnsmasq auth({"--auth-server=ns.auth.test,127.0.0.1", "--auth-zone=auth.test", "--auth-ttl=1",
                      "--host-record=a.auth.test,127.0.9.1"});
  ASSERT_TRUE(auth.running()) << auth.start_error();
  config::Dns d = settings();
  d.clear_servers();
  d.add_servers(auth.server());
  auto with_soa = spawn(d);
  auto without_soa = spawn(settings());  // negative_default_ttl_s = 30
  EXPECT_EQ(srv(with_soa, "_sips._tcp.nx.auth.test").result, dns::outcome::nxdomain);
  EXPECT_EQ(host(with_soa, "a.auth.test").queries[1].result, dns::outcome::nodata);  // AAAA NODATA, with SOA
  EXPECT_EQ(srv(without_soa, "_sips._tcp.nx.test").result, dns::outcome::nxdomain);
  auto cached = srv(with_soa, "_sips._tcp.nx.auth.test");
  EXPECT_EQ(cached.query.from, dns::source::cache);
  EXPECT_EQ(cached.result, dns::outcome::nxdomain);
  EXPECT_EQ(auth.wait_queries("_sips._tcp.nx.auth.test", "SRV", 1), 1u);
  advance(1100ms);
  // SOA TTL 1 s: asked again.
  EXPECT_EQ(srv(with_soa, "_sips._tcp.nx.auth.test").query.from, dns::source::dns);
  EXPECT_EQ(auth.wait_queries("_sips._tcp.nx.auth.test", "SRV", 2), 2u);
  EXPECT_EQ(host(with_soa, "a.auth.test").queries[1].from, dns::source::dns);
  EXPECT_EQ(auth.wait_queries("a.auth.test", "AAAA", 2), 2u);
  // No SOA: the 30 s default still holds.
  auto still = srv(without_soa, "_sips._tcp.nx.test");
  EXPECT_EQ(still.query.from, dns::source::cache);
  EXPECT_EQ(still.result, dns::outcome::nxdomain);
  EXPECT_EQ(server->queries("_sips._tcp.nx.test", "SRV"), 1u);
  // Asked for a name outside its zone, the authoritative server refuses.
  auto refused = srv(with_soa, "_sips._tcp.elsewhere.example");
  EXPECT_EQ(refused.result, dns::outcome::server_failure);
  EXPECT_NE(refused.query.text.find("server " + auth.server()), std::string::npos) << refused.query.text;
}

TEST_F(DnsResolver, SilentServerTimesOutWithSpecificErrorForRequesterAndLog) {
  test::black_hole hole;
  config::Dns d;
  d.add_servers(hole.server());
  d.set_timeout_ms(100);
  d.set_tries(2);
  auto r = spawn(d);
  auto t0 = std::chrono::steady_clock::now();
  auto res = resolve(r, "peer.test");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 180ms);
  EXPECT_EQ(res.status, dns::resolve_status::dns_failure);
  EXPECT_FALSE(res.not_found());
  EXPECT_EQ(res.sip_status(), 503);
  std::string expected = "DNS: _sipfederationtls._tcp.peer.test SRV: server " + hole.server() +
                         " timed out after 2 tries (100 ms each)";
  EXPECT_EQ(res.error, expected);
  ASSERT_EQ(res.queries.size(), 1u);
  EXPECT_EQ(res.queries[0].result, dns::outcome::timeout);
  EXPECT_TRUE(logged(severity::error, expected));
  auto s = srv(r, "_sips._tcp.other.test");
  EXPECT_EQ(s.result, dns::outcome::timeout);
  EXPECT_EQ(stats(r).failures, 2u);
}

TEST_F(DnsResolver, ThousandConcurrentRequestsMakeOneQuery) {
  auto r = spawn(settings());
  caf::scoped_actor self{sys};
  auto fan = sys.spawn(fan_out);
  std::vector<std::string> results;
  self->request(fan, 20s, srv_atom::value, r, std::string("_sips._tcp.crowd.test"), 1000)
    .receive([&](std::vector<std::string>& x) { results = std::move(x); },
             [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  caf::anon_send_exit(fan, caf::exit_reason::user_shutdown);
  ASSERT_EQ(results.size(), 1000u);
  std::map<std::string, int> kinds;
  for (auto& x : results) ++kinds[x];
  EXPECT_EQ(kinds["OK/dns"], 1) << ::testing::PrintToString(kinds);
  std::printf("[ coalesce ] 1000 requests: %d sent the query, %d joined it in flight, %d came from the cache\n",
              kinds["OK/dns"], kinds["OK/dns, coalesced"], kinds["OK/cache"]);
  EXPECT_EQ(kinds["OK/dns, coalesced"] + kinds["OK/cache"], 999);
  auto st = stats(r);
  EXPECT_EQ(st.queries_sent, 1u);
  EXPECT_EQ(st.coalesced + st.cache_hits, 999u);
  all_queries_logged(r);
  EXPECT_EQ(server->queries("_sips._tcp.crowd.test", "SRV"), 1u);
}

TEST_F(DnsResolver, ConcurrentRequestsJoinTheQueryInFlight) {
  // A silent server keeps the query in flight, so every later request must join it.
  test::black_hole hole;
  config::Dns d;
  d.add_servers(hole.server());
  d.set_timeout_ms(300);
  d.set_tries(1);
  auto r = spawn(d);
  caf::scoped_actor self{sys};
  auto fan = sys.spawn(fan_out);
  std::vector<std::string> results;
  self->request(fan, 20s, srv_atom::value, r, std::string("_sips._tcp.crowd.test"), 1000)
    .receive([&](std::vector<std::string>& x) { results = std::move(x); },
             [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  caf::anon_send_exit(fan, caf::exit_reason::user_shutdown);
  ASSERT_EQ(results.size(), 1000u);
  std::map<std::string, int> kinds;
  for (auto& x : results) ++kinds[x];
  EXPECT_EQ(kinds["timeout/dns"], 1);
  EXPECT_EQ(kinds["timeout/dns, coalesced"], 999);
  auto st = stats(r);
  EXPECT_EQ(st.queries_sent, 1u);
  EXPECT_EQ(st.coalesced, 999u);
}

TEST_F(DnsResolver, LargeAnswerComesOverTcp) {
  auto r = spawn(settings());
  auto s = srv(r, "_sipfederationtls._tcp.big.test");
  ASSERT_EQ(s.result, dns::outcome::ok) << s.query.text;
  EXPECT_EQ(s.records.size(), 40u);
  EXPECT_EQ(server->wait_queries("_sipfederationtls._tcp.big.test", "SRV", 2), 2u);  // UDP (truncated), TCP
  auto res = resolve(r, "big.test");  // 40 targets, one of which has an address
  ASSERT_TRUE(res.ok()) << res.error;
  ASSERT_EQ(res.targets.size(), 1u);
  EXPECT_EQ(res.targets[0].host, "target-number-7.big.test");
  EXPECT_EQ(res.queries.size(), 1u + 80u);
}

TEST_F(DnsResolver, StaticRecordsAnswerBeforeDns) {
  auto d = settings();
  auto* s = d.add_srv();
  s->set_name("_sipfederationtls._tcp.lab.test");
  s->set_port(5071);
  s->set_target("sip.lab.test");
  auto* h = d.add_hosts();
  h->set_host("sip.lab.test");
  h->add_addresses("192.0.2.50");
  h->add_addresses("2001:db8::50");
  auto* shadow = d.add_hosts();  // wins over dnsmasq's 127.0.4.1
  shadow->set_host("plain.test");
  shadow->add_addresses("192.0.2.51");
  auto r = spawn(d);
  auto res = resolve(r, "lab.test");
  ASSERT_TRUE(res.ok()) << res.error;
  ASSERT_EQ(res.targets.size(), 1u);
  EXPECT_EQ(res.targets[0].port, 5071);
  EXPECT_EQ(ips(res.targets[0]), (std::vector<std::string>{"2001:db8::50", "192.0.2.50"}));
  for (auto& q : res.queries) EXPECT_EQ(q.from, dns::source::static_config) << q.text;
  auto p = host(r, "plain.test");
  ASSERT_EQ(p.addresses.size(), 1u);
  EXPECT_EQ(p.addresses[0].ip, "192.0.2.51");
  EXPECT_EQ(p.queries[1].result, dns::outcome::nodata);
  EXPECT_EQ(stats(r).queries_sent, 0u);
  all_queries_logged(r);
  EXPECT_EQ(server->queries("_sipfederationtls._tcp.lab.test", "SRV"), 0u);
  EXPECT_EQ(server->queries("sip.lab.test", "A"), 0u);
  EXPECT_EQ(server->queries("plain.test", "A"), 0u);
}

TEST_F(DnsResolver, ReconfigurationAtRuntime) {
  test::black_hole hole;
  config::Dns broken;
  broken.add_servers(hole.server());
  broken.set_timeout_ms(50);
  broken.set_tries(1);
  auto r = spawn(broken);
  EXPECT_EQ(resolve(r, "plain.test").status, dns::resolve_status::dns_failure);
  caf::anon_send(r, config_atom::value, settings());
  auto res = resolve(r, "plain.test");  // the cached failure went with the old settings
  ASSERT_TRUE(res.ok()) << res.error;
  EXPECT_TRUE(logged(severity::info, "DNS: using " + server->server()));
  // A bad server list is refused and the running settings stay.
  config::Dns bad = settings();
  bad.clear_servers();
  bad.add_servers("nonsense");
  caf::anon_send(r, config_atom::value, bad);
  caf::anon_send(r, dns_flush_atom::value);
  EXPECT_TRUE(resolve(r, "sips.test").ok());
  EXPECT_TRUE(logged(severity::error, "\"nonsense\" is not ip:port"));
  // New static records take effect.
  config::Dns with_static = settings();
  auto* h = with_static.add_hosts();
  h->set_host("plain.test");
  h->add_addresses("192.0.2.99");
  caf::anon_send(r, config_atom::value, with_static);
  EXPECT_EQ(ips(resolve(r, "plain.test").targets.at(0)), (std::vector<std::string>{"192.0.2.99"}));
}

TEST_F(DnsResolver, UnreachableAddressesAreListedLastUntilTheyExpire) {
  dns_resolver_options o;
  o.unreachable_ttl = 400ms;
  auto r = spawn(settings(), o);
  EXPECT_EQ(ips(resolve(r, "plain.test").targets.at(0)), (std::vector<std::string>{"fd00::4:1", "127.0.4.1"}));
  caf::anon_send(r, unreach_atom::value, std::string("fd00:0::4:1"), uint16_t{5061});
  caf::anon_send(r, unreach_atom::value, std::string("127.0.4.1"), uint16_t{5062});  // other port: no effect
  auto res = resolve(r, "plain.test");
  ASSERT_EQ(res.targets.size(), 1u);
  EXPECT_EQ(ips(res.targets[0]), (std::vector<std::string>{"127.0.4.1", "fd00::4:1"}));
  EXPECT_FALSE(res.targets[0].addresses[0].unreachable);
  EXPECT_TRUE(res.targets[0].addresses[1].unreachable);
  // The name itself is not poisoned: other requests still get every address.
  EXPECT_EQ(host(r, "plain.test").addresses.size(), 2u);
  EXPECT_EQ(stats(r).unreachable_entries, 2u);
  // A whole target unreachable: it goes after the others.
  caf::anon_send(r, unreach_atom::value, std::string("fd00::1:1"), uint16_t{5061});
  caf::anon_send(r, unreach_atom::value, std::string("127.0.1.1"), uint16_t{5061});
  auto peer = resolve(r, "peer.test");
  ASSERT_EQ(peer.targets.size(), 3u);
  EXPECT_EQ(peer.targets[2].host, "sip1.peer.test");
  EXPECT_TRUE(peer.targets[2].all_unreachable());
  caf::anon_send(r, reach_atom::value, std::string("127.0.1.1"), uint16_t{5061});
  peer = resolve(r, "peer.test");
  EXPECT_NE(peer.targets[2].host, "sip1.peer.test");
  advance(450ms);
  res = resolve(r, "plain.test");
  EXPECT_EQ(ips(res.targets.at(0)), (std::vector<std::string>{"fd00::4:1", "127.0.4.1"}));
  EXPECT_FALSE(res.targets[0].addresses[0].unreachable);
  EXPECT_EQ(stats(r).unreachable_entries, 0u);
}

}  // namespace
}  // namespace fedgw
