#include "gateway/dns/resolve.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <optional>

namespace fedgw::dns {
namespace {

// Canned answers; unknown questions get NXDOMAIN. With `deferred`, answers are
// queued and released by run(), like answers arriving later from the network.
struct fake_dns {
  std::map<std::pair<std::string, rr_type>, answer> answers;
  std::vector<std::string> asked;
  bool deferred = false;
  std::deque<std::function<void()>> queue;

  void srv(const std::string& name, std::vector<srv_record> records) {
    answer a;
    a.result = outcome::ok;
    a.srv = std::move(records);
    a.ttl = 300;
    answers[{name, rr_type::srv}] = a;
  }
  void host(const std::string& name, std::vector<std::string> v4, std::vector<std::string> v6) {
    if (!v4.empty()) {
      answer a;
      a.result = outcome::ok;
      for (auto& ip : v4) a.addresses.push_back({ip, false, 300});
      answers[{name, rr_type::a}] = a;
    } else {
      answers[{name, rr_type::a}].result = outcome::nodata;
    }
    if (!v6.empty()) {
      answer a;
      a.result = outcome::ok;
      for (auto& ip : v6) a.addresses.push_back({ip, true, 300});
      answers[{name, rr_type::aaaa}] = a;
    } else {
      answers[{name, rr_type::aaaa}].result = outcome::nodata;
    }
  }
  void fail(const std::string& name, rr_type t, outcome r, std::string detail) {
    answer a;
    a.result = r;
    a.detail = std::move(detail);
    answers[{name, t}] = a;
  }
  lookup_fn fn() {
    return [this](const std::string& name, rr_type t, std::function<void(const answer&, source)> done) {
      asked.push_back(name + " " + type_name(t));
      answer a;
      auto it = answers.find({name, t});
      if (it != answers.end()) {
        a = it->second;
      } else {
        a.result = outcome::nxdomain;
      }
      if (deferred) {
        queue.push_back([a, done] { done(a, source::dns); });
      } else {
        done(a, source::dns);
      }
    };
  }
  void run() {
    while (!queue.empty()) {
      auto f = std::move(queue.front());
      queue.pop_front();
      f();
    }
  }
};

resolution run_resolve(fake_dns& dns, const std::string& domain, resolve_options o = {}) {
  if (!o.random) o.random = make_random_source(1);
  std::optional<resolution> out;
  int calls = 0;
  resolve_domain(domain, o, dns.fn(), [&](resolution r) {
    ++calls;
    out = std::move(r);
  });
  dns.run();
  EXPECT_EQ(calls, 1);
  return out.value_or(resolution{});
}

srv_record rec(uint16_t priority, uint16_t weight, uint16_t port, std::string target) {
  return srv_record{priority, weight, port, std::move(target), 300};
}

TEST(ResolveDomain, FederationSrvFirstOrderedTargetsWithAddresses) {
  for (bool deferred : {false, true}) {
    fake_dns dns;
    dns.deferred = deferred;
    dns.srv("_sipfederationtls._tcp.b.test", {rec(20, 0, 5062, "backup.b.test"), rec(10, 5, 5061, "sip.b.test")});
    dns.srv("_sips._tcp.b.test", {rec(1, 1, 5061, "other.b.test")});  // never asked
    dns.host("sip.b.test", {"10.0.0.1", "10.0.0.2"}, {"fd00::1"});
    dns.host("backup.b.test", {"10.0.0.9"}, {});
    auto r = run_resolve(dns, "B.test.");
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.domain, "b.test");
    ASSERT_EQ(r.targets.size(), 2u);
    EXPECT_EQ(r.targets[0].host, "sip.b.test");
    EXPECT_EQ(r.targets[0].port, 5061);
    EXPECT_EQ(r.targets[0].proto, transport::tls);
    EXPECT_EQ(r.targets[0].srv_name, "_sipfederationtls._tcp.b.test");
    ASSERT_EQ(r.targets[0].addresses.size(), 3u);
    EXPECT_EQ(r.targets[0].addresses[0].ip, "fd00::1");
    EXPECT_EQ(r.targets[0].addresses[1].ip, "10.0.0.1");
    EXPECT_EQ(r.targets[1].host, "backup.b.test");
    EXPECT_EQ(r.targets[1].port, 5062);
    // 1 SRV + 2 x (A, AAAA).
    EXPECT_EQ(r.queries.size(), 5u);
    EXPECT_EQ(r.queries[0].name, "_sipfederationtls._tcp.b.test");
    EXPECT_EQ(r.queries[0].records, 2u);
    for (auto& q : dns.asked) EXPECT_EQ(q.find("_sips"), std::string::npos) << q;
  }
}

TEST(ResolveDomain, FallsThroughNegativeSrvNamesInOrder) {
  fake_dns dns;
  dns.fail("_sipfederationtls._tcp.c.test", rr_type::srv, outcome::nodata, "");
  dns.srv("_sip._tls.c.test", {rec(0, 0, 5061, "sip.c.test")});
  dns.host("sip.c.test", {"192.0.2.7"}, {});
  auto r = run_resolve(dns, "c.test");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.targets.at(0).srv_name, "_sip._tls.c.test");
  ASSERT_GE(r.queries.size(), 3u);
  EXPECT_EQ(r.queries[0].result, outcome::nodata);
  EXPECT_EQ(r.queries[1].name, "_sips._tcp.c.test");
  EXPECT_EQ(r.queries[1].result, outcome::nxdomain);
  EXPECT_EQ(r.queries[2].result, outcome::ok);
}

TEST(ResolveDomain, TcpOnlyWhenAllowed) {
  fake_dns dns;
  dns.srv("_sip._tcp.t.test", {rec(0, 0, 5060, "sip.t.test")});
  dns.host("sip.t.test", {"192.0.2.8"}, {});
  dns.host("t.test", {"192.0.2.9"}, {});
  auto r = run_resolve(dns, "t.test");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.targets.at(0).host, "t.test");  // A/AAAA fallback, TCP record ignored
  EXPECT_EQ(r.targets.at(0).port, 5061);
  resolve_options o;
  o.allow_tcp_federation = true;
  r = run_resolve(dns, "t.test", o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.targets.at(0).host, "sip.t.test");
  EXPECT_EQ(r.targets.at(0).proto, transport::tcp);
  EXPECT_EQ(r.targets.at(0).srv_name, "_sip._tcp.t.test");
}

TEST(ResolveDomain, NoSrvMeansOwnAddressesOnTls5061) {
  fake_dns dns;
  dns.host("d.test", {"192.0.2.10"}, {"2001:db8::10"});
  auto r = run_resolve(dns, "d.test");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.targets.size(), 1u);
  EXPECT_EQ(r.targets[0].host, "d.test");
  EXPECT_EQ(r.targets[0].port, 5061);
  EXPECT_EQ(r.targets[0].proto, transport::tls);
  EXPECT_TRUE(r.targets[0].srv_name.empty());
  EXPECT_EQ(r.targets[0].addresses.size(), 2u);
  EXPECT_EQ(r.queries.size(), 5u);
}

TEST(ResolveDomain, NothingAtAllIsNotFound) {
  fake_dns dns;
  auto r = run_resolve(dns, "nobody.test");
  EXPECT_EQ(r.status, resolve_status::no_record);
  EXPECT_TRUE(r.not_found());
  EXPECT_EQ(r.sip_status(), 404);
  EXPECT_TRUE(r.targets.empty());
  ASSERT_EQ(r.queries.size(), 5u);  // 3 SRV names, A, AAAA
  for (auto& q : r.queries) EXPECT_EQ(q.result, outcome::nxdomain);
  EXPECT_NE(r.error.find("no federation record"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("_sipfederationtls._tcp.nobody.test SRV NXDOMAIN"), std::string::npos) << r.error;
}

TEST(ResolveDomain, DotTargetMeansNoServiceWithoutFallback) {
  fake_dns dns;
  answer dot;
  dot.result = outcome::no_service;
  dot.srv = {rec(0, 0, 0, ".")};
  dns.answers[{"_sipfederationtls._tcp.e.test", rr_type::srv}] = dot;
  dns.host("e.test", {"192.0.2.11"}, {});
  auto r = run_resolve(dns, "e.test");
  EXPECT_EQ(r.status, resolve_status::no_service);
  EXPECT_EQ(r.sip_status(), 404);
  EXPECT_EQ(dns.asked, (std::vector<std::string>{"_sipfederationtls._tcp.e.test SRV"}));
  EXPECT_NE(r.error.find("no service"), std::string::npos);
}

TEST(ResolveDomain, DnsFailureIsNotNotFound) {
  fake_dns dns;
  dns.fail("_sipfederationtls._tcp.f.test", rr_type::srv, outcome::timeout,
           "server 127.0.0.1:5353 timed out after 2 tries");
  dns.srv("_sips._tcp.f.test", {rec(0, 0, 5061, "sip.f.test")});
  auto r = run_resolve(dns, "f.test");
  EXPECT_EQ(r.status, resolve_status::dns_failure);
  EXPECT_FALSE(r.not_found());
  EXPECT_EQ(r.sip_status(), 503);
  EXPECT_EQ(r.queries.size(), 1u);  // a less preferred record is not used instead
  EXPECT_EQ(r.error, "DNS: _sipfederationtls._tcp.f.test SRV: server 127.0.0.1:5353 timed out after 2 tries");
}

TEST(ResolveDomain, TargetsWithoutAddressesAreDropped) {
  fake_dns dns;
  dns.srv("_sipfederationtls._tcp.g.test", {rec(10, 0, 5061, "gone.g.test"), rec(20, 0, 5061, "sip.g.test")});
  dns.host("sip.g.test", {"192.0.2.12"}, {});
  auto r = run_resolve(dns, "g.test");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.targets.size(), 1u);
  EXPECT_EQ(r.targets[0].host, "sip.g.test");
  EXPECT_EQ(r.queries.size(), 5u);  // the dead target's queries are reported

  fake_dns none;
  none.srv("_sipfederationtls._tcp.h.test", {rec(10, 0, 5061, "gone.h.test")});
  r = run_resolve(none, "h.test");
  EXPECT_EQ(r.status, resolve_status::no_address);
  EXPECT_EQ(r.sip_status(), 503);

  fake_dns failing;
  failing.srv("_sipfederationtls._tcp.i.test", {rec(10, 0, 5061, "slow.i.test")});
  failing.fail("slow.i.test", rr_type::a, outcome::timeout, "server x timed out after 2 tries");
  r = run_resolve(failing, "i.test");
  EXPECT_EQ(r.status, resolve_status::dns_failure);
}

TEST(ResolveDomain, UnreachableAddressesAndTargetsGoLast) {
  fake_dns dns;
  dns.srv("_sipfederationtls._tcp.u.test", {rec(10, 0, 5061, "a.u.test"), rec(20, 0, 5061, "b.u.test")});
  dns.host("a.u.test", {"10.0.0.1"}, {});
  dns.host("b.u.test", {"10.0.0.2", "10.0.0.3"}, {});
  resolve_options o;
  o.unreachable = [](const std::string& ip, uint16_t port) {
    return port == 5061 && (ip == "10.0.0.1" || ip == "10.0.0.2");
  };
  auto r = run_resolve(dns, "u.test", o);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.targets.size(), 2u);
  EXPECT_EQ(r.targets[0].host, "b.u.test");
  EXPECT_EQ(r.targets[0].addresses[0].ip, "10.0.0.3");
  EXPECT_TRUE(r.targets[0].addresses[1].unreachable);
  EXPECT_EQ(r.targets[1].host, "a.u.test");
  EXPECT_TRUE(r.targets[1].all_unreachable());
}

TEST(ResolveDomain, IpLiteralsAndBadNames) {
  fake_dns dns;
  auto r = run_resolve(dns, "192.0.2.1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.targets.at(0).addresses.at(0).ip, "192.0.2.1");
  EXPECT_TRUE(dns.asked.empty());
  r = run_resolve(dns, "not a domain");
  EXPECT_EQ(r.status, resolve_status::no_record);
  EXPECT_TRUE(dns.asked.empty());
}

TEST(HostLookup, CombinesFamilies) {
  fake_dns dns;
  dns.host("v4.test", {"192.0.2.1"}, {});
  std::optional<host_lookup> h;
  lookup_host("v4.test", dns.fn(), [&](host_lookup x) { h = x; });
  ASSERT_TRUE(h);
  EXPECT_EQ(h->result, outcome::ok);
  EXPECT_EQ(h->queries.at(1).result, outcome::nodata);
  lookup_host("nx.test", dns.fn(), [&](host_lookup x) { h = x; });
  EXPECT_EQ(h->result, outcome::nxdomain);
  dns.fail("bad.test", rr_type::aaaa, outcome::server_failure, "SERVFAIL");
  lookup_host("bad.test", dns.fn(), [&](host_lookup x) { h = x; });
  EXPECT_EQ(h->result, outcome::server_failure);
}

}  // namespace
}  // namespace fedgw::dns
