#include "actors/dns_resolver.h"

#include <arpa/inet.h>

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "gateway/dns/cache.h"
#include "gateway/dns/engine.h"
#include "gateway/dns/resolve.h"
#include "gateway/dns/selection.h"
#include "gateway/net/address.h"

namespace fedgw {

namespace {

using waiter = std::function<void(const dns::answer&, dns::source)>;
using query_key = std::pair<std::string, uint16_t>;  // normalized name, type

// "::0001" and "::1" are one address on the unreachable list.
std::string canonical_ip(const std::string& ip) {
  unsigned char buf[sizeof(in6_addr)];
  char text[INET6_ADDRSTRLEN] = {};
  int family = net::is_ipv6(ip) ? AF_INET6 : AF_INET;
  if (inet_pton(family, ip.c_str(), buf) != 1) return ip;
  inet_ntop(family, buf, text, sizeof text);
  return text;
}

struct resolver_state {
  static inline const char* name = "dns_resolver";

  dns_resolver_options options;
  status_log_actor log;
  std::unique_ptr<dns::engine> engine;
  config::Dns config;
  dns::answer_cache cache;
  dns::unreachable_list unreachable;
  std::map<query_key, std::vector<std::pair<waiter, dns::source>>> in_flight;
  std::map<std::string, std::vector<dns::srv_record>> static_srv;
  std::map<std::string, std::vector<dns::address_record>> static_hosts;
  dns::random_source random;
  uint64_t generation = 0;
  dns::stats counters;
  dns::lookup_fn lookup;
  metrics::dns_block metrics;
  std::map<query_key, std::chrono::steady_clock::time_point> sent;  // queries in flight: when asked (latency)
};

metrics::dns_result metrics_result(dns::outcome o) {
  switch (o) {
    case dns::outcome::ok: return metrics::dns_result::ok;
    case dns::outcome::no_service: return metrics::dns_result::no_service;
    case dns::outcome::nxdomain: return metrics::dns_result::nxdomain;
    case dns::outcome::nodata: return metrics::dns_result::nodata;
    case dns::outcome::timeout: return metrics::dns_result::timeout;
    case dns::outcome::server_failure: return metrics::dns_result::servfail;
    case dns::outcome::bad_answer: return metrics::dns_result::bad_answer;
    case dns::outcome::error: break;
  }
  return metrics::dns_result::error;
}

using self_ptr = dns_resolver_actor::stateful_pointer<resolver_state>;

void log_status(self_ptr self, severity level, std::string text) {
  if (self->state.log) report(self->state.log, level, "dns", std::move(text));
}

// Answers from config dns.srv / dns.hosts, or nothing.
bool static_answer(resolver_state& st, const std::string& key, dns::rr_type type, dns::answer& out) {
  if (type == dns::rr_type::srv) {
    auto it = st.static_srv.find(key);
    if (it == st.static_srv.end()) return false;
    out.srv = it->second;
    out.result = out.srv.size() == 1 && out.srv.front().target == "." ? dns::outcome::no_service : dns::outcome::ok;
    return true;
  }
  auto it = st.static_hosts.find(key);
  if (it == st.static_hosts.end()) return false;
  bool v6 = type == dns::rr_type::aaaa;
  for (const auto& a : it->second)
    if (a.ipv6 == v6) out.addresses.push_back(a);
  out.result = out.addresses.empty() ? dns::outcome::nodata : dns::outcome::ok;
  return true;
}

// One question: static config, cache, a query in flight, or a new query.
void lookup(self_ptr self, const std::string& name, dns::rr_type type, waiter done) {
  auto& st = self->state;
  ++st.counters.requests;
  auto key = dns::normalize_name(name);
  auto metrics_type = metrics::dns_type_of(static_cast<uint16_t>(type));
  dns::answer a;
  if (static_answer(st, key, type, a)) {
    ++st.counters.static_hits;
    st.metrics.count(metrics_type, metrics::dns_result::static_config);
    done(a, dns::source::static_config);
    return;
  }
  if (auto hit = st.cache.find(key, type, st.options.clock())) {
    ++st.counters.cache_hits;
    st.metrics.count(metrics_type, metrics::dns_result::cache_hit);
    done(*hit, dns::source::cache);
    return;
  }
  query_key qk{key, static_cast<uint16_t>(type)};
  auto it = st.in_flight.find(qk);
  if (it != st.in_flight.end()) {
    ++st.counters.coalesced;
    st.metrics.count(metrics_type, metrics::dns_result::coalesced);
    it->second.emplace_back(std::move(done), dns::source::coalesced);
    return;
  }
  st.in_flight[qk].emplace_back(std::move(done), dns::source::dns);
  st.sent[qk] = std::chrono::steady_clock::now();
  if (!net::is_srv_owner_name(key)) {
    // c-ares would reject it too; answer without a query.
    dns::answer bad;
    bad.result = dns::outcome::error;
    bad.detail = "\"" + name + "\" is not a valid DNS name";
    caf::anon_send(dns_resolver_actor{self}, dns_answer_atom::value, key, qk.second, st.generation, bad);
    return;
  }
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self);
  auto generation = st.generation;
  // Runs on the DNS thread: parse there, then hand the answer to this actor.
  st.engine->query(key, type, [weak, key, type, generation](dns::raw_result raw) {
    auto strong = weak.lock();
    if (!strong) return;
    caf::anon_send(caf::actor_cast<dns_resolver_actor>(strong), dns_answer_atom::value, key,
                   static_cast<uint16_t>(type), generation, dns::to_answer(raw, type));
  });
}

void on_answer(self_ptr self, const std::string& key, uint16_t type_code, uint64_t generation, dns::answer& a) {
  auto& st = self->state;
  auto type = static_cast<dns::rr_type>(type_code);
  // Answers to questions asked before a reconfiguration are delivered, not cached.
  if (generation == st.generation) st.cache.put(key, type, a, st.options.clock());
  if (dns::is_failure(a.result)) {
    ++st.counters.failures;
    log_status(self, severity::error, dns::make_report(key, type, a, dns::source::dns).text);
  }
  auto metrics_type = metrics::dns_type_of(type_code);
  st.metrics.count(metrics_type, metrics_result(a.result));
  if (auto sent = st.sent.find({key, type_code}); sent != st.sent.end()) {
    st.metrics.latency[metrics::ix(metrics_type)].observe(
      metrics::dns_bounds,
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - sent->second).count());
    st.sent.erase(sent);
  }
  auto it = st.in_flight.find({key, type_code});
  if (it == st.in_flight.end()) return;
  auto waiters = std::move(it->second);
  st.in_flight.erase(it);
  for (auto& [w, from] : waiters) w(a, from);
}

void apply_config(self_ptr self, const config::Dns& dns, bool initial) {
  auto& st = self->state;
  dns::engine_settings settings;
  settings.servers.assign(dns.servers().begin(), dns.servers().end());
  settings.timeout_ms = dns.has_timeout_ms() ? dns.timeout_ms() : 2000;
  settings.tries = dns.has_tries() ? dns.tries() : 2;
  std::string error;
  if (!st.engine->configure(settings, error)) {
    log_status(self, severity::error, error + (initial ? "" : "; keeping the previous DNS settings"));
    if (!initial) return;
  }
  st.config = dns;
  dns::cache_options co;
  co.max_ttl_s = dns.has_max_cache_ttl_s() ? dns.max_cache_ttl_s() : 3600;
  co.negative_default_s = st.options.negative_default_ttl_s;
  co.failure_ttl_s = st.options.failure_ttl_s;
  co.max_entries = st.options.max_cache_entries;
  st.cache.set_options(co);
  st.cache.clear();
  ++st.generation;
  st.static_srv.clear();
  for (const auto& r : dns.srv()) {
    dns::srv_record rec;
    rec.priority = static_cast<uint16_t>(r.has_priority() ? r.priority() : 10);
    rec.weight = static_cast<uint16_t>(r.has_weight() ? r.weight() : 10);
    rec.port = static_cast<uint16_t>(r.has_port() ? r.port() : 5061);
    rec.target = r.target() == "." ? "." : dns::normalize_name(r.target());
    st.static_srv[dns::normalize_name(r.name())].push_back(std::move(rec));
  }
  st.static_hosts.clear();
  for (const auto& h : dns.hosts()) {
    auto& list = st.static_hosts[dns::normalize_name(h.host())];
    for (const auto& ip : h.addresses()) list.push_back(dns::address_record{ip, net::is_ipv6(ip), 0});
  }
  if (error.empty())
    log_status(self, severity::info,
               "DNS: using " + st.engine->servers() + " (timeout " + std::to_string(settings.timeout_ms) +
                 " ms, " + std::to_string(settings.tries) + " tries, cache ceiling " +
                 std::to_string(co.max_ttl_s) + " s, " + std::to_string(dns.srv_size()) + " static SRV, " +
                 std::to_string(dns.hosts_size()) + " static hosts)");
}

dns_resolver_actor::behavior_type dns_resolver_impl(self_ptr self, config::Dns dns, status_log_actor log,
                                                    dns_resolver_options options) {
  auto& st = self->state;
  st.options = options;
  if (!st.options.clock) st.options.clock = [] { return dns::clock::now(); };
  st.log = std::move(log);
  st.random = dns::make_random_source(options.random_seed);
  st.engine = std::make_unique<dns::engine>();
  st.lookup = [self](const std::string& name, dns::rr_type type, waiter done) {
    lookup(self, name, type, std::move(done));
  };
  apply_config(self, dns, true);
  return {
    [=](resolve_atom, const std::string& domain) -> caf::result<dns::resolution> {
      auto rp = self->make_response_promise<dns::resolution>();
      auto& st = self->state;
      dns::resolve_options o;
      o.allow_tcp_federation = st.config.allow_tcp_federation();
      o.random = st.random;
      o.unreachable = [self](const std::string& ip, uint16_t port) {
        return self->state.unreachable.contains(canonical_ip(ip), port, self->state.options.clock());
      };
      // "Not found" is the requester's to report (a connection, the readiness check), once;
      // failures of DNS itself were reported per query already.
      dns::resolve_domain(domain, std::move(o), st.lookup,
                          [rp](dns::resolution r) mutable { rp.deliver(std::move(r)); });
      return rp;
    },
    [=](srv_atom, const std::string& name) -> caf::result<dns::srv_lookup> {
      auto rp = self->make_response_promise<dns::srv_lookup>();
      lookup(self, name, dns::rr_type::srv, [name, rp](const dns::answer& a, dns::source from) mutable {
        dns::srv_lookup out;
        out.name = dns::normalize_name(name);
        out.result = a.result;
        out.records = a.srv;
        out.query = dns::make_report(out.name, dns::rr_type::srv, a, from);
        rp.deliver(std::move(out));
      });
      return rp;
    },
    [=](host_atom, const std::string& host) -> caf::result<dns::host_lookup> {
      auto rp = self->make_response_promise<dns::host_lookup>();
      dns::lookup_host(dns::normalize_name(host), self->state.lookup,
                       [rp](dns::host_lookup h) mutable { rp.deliver(std::move(h)); });
      return rp;
    },
    [=](unreach_atom, const std::string& ip, uint16_t port) {
      auto& st = self->state;
      auto now = st.options.clock();
      st.unreachable.expire(now);
      st.unreachable.mark(canonical_ip(ip), port, now + st.options.unreachable_ttl);
    },
    [=](reach_atom, const std::string& ip, uint16_t port) {
      self->state.unreachable.clear(canonical_ip(ip), port);
    },
    [=](config_atom, const config::Dns& next) { apply_config(self, next, false); },
    [=](dns_flush_atom) { self->state.cache.clear(); },
    [=](dns_stats_atom) {
      auto& st = self->state;
      dns::stats s = st.counters;
      s.queries_sent = st.engine->queries_sent();
      s.cache_entries = st.cache.size();
      s.unreachable_entries = st.unreachable.expire(st.options.clock());
      return s;
    },
    [=](metrics_atom) { return self->state.metrics; },
    [=](dns_answer_atom, const std::string& key, uint16_t type, uint64_t generation, dns::answer& a) {
      on_answer(self, key, type, generation, a);
    },
  };
}

}  // namespace

dns_resolver_actor spawn_dns_resolver(caf::actor_system& system, const config::Dns& dns, status_log_actor log,
                                      dns_resolver_options options) {
  return system.spawn(dns_resolver_impl, dns, std::move(log), options);
}

}  // namespace fedgw
