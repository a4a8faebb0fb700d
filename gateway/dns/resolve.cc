#include "gateway/dns/resolve.h"

#include <memory>

#include "gateway/dns/cache.h"
#include "gateway/net/address.h"

namespace fedgw::dns {

std::vector<srv_candidate> federation_srv_names(const std::string& domain, bool allow_tcp) {
  std::vector<srv_candidate> names{{"_sipfederationtls._tcp." + domain, transport::tls},
                                   {"_sips._tcp." + domain, transport::tls},
                                   {"_sip._tls." + domain, transport::tls}};
  if (allow_tcp) names.push_back({"_sip._tcp." + domain, transport::tcp});
  return names;
}

namespace {

// The more telling of two unsuccessful outcomes.
outcome combine(outcome a, outcome b) {
  if (is_failure(a)) return a;
  if (is_failure(b)) return b;
  if (a == outcome::nxdomain || b == outcome::nxdomain) return outcome::nxdomain;
  return outcome::nodata;
}

answer literal_answer(const std::string& ip) {
  answer a;
  a.result = outcome::ok;
  a.addresses.push_back(address_record{ip, net::is_ipv6(ip), 0});
  return a;
}

}  // namespace

host_lookup make_host_lookup(const std::string& host, const answer& a, source a_from, const answer& aaaa,
                             source aaaa_from) {
  host_lookup out;
  out.host = host;
  out.queries.push_back(make_report(host, rr_type::a, a, a_from));
  out.queries.push_back(make_report(host, rr_type::aaaa, aaaa, aaaa_from));
  std::vector<address_record> v4, v6;
  if (a.result == outcome::ok) v4 = a.addresses;
  if (aaaa.result == outcome::ok) v6 = aaaa.addresses;
  out.addresses = order_addresses(v4, v6);
  out.result = !out.addresses.empty() ? outcome::ok : combine(a.result, aaaa.result);
  return out;
}

void lookup_host(const std::string& host, const lookup_fn& lookup, std::function<void(host_lookup)> done) {
  if (net::is_ip(host)) {
    host_lookup out;
    out.host = host;
    out.result = outcome::ok;
    out.addresses = literal_answer(host).addresses;
    done(std::move(out));
    return;
  }
  struct pair_state {
    std::string host;
    answer a, aaaa;
    source a_from = source::dns, aaaa_from = source::dns;
    int pending = 2;
    std::function<void(host_lookup)> done;
  };
  auto st = std::make_shared<pair_state>();
  st->host = host;
  st->done = std::move(done);
  auto finish = [st] {
    if (--st->pending == 0) st->done(make_host_lookup(st->host, st->a, st->a_from, st->aaaa, st->aaaa_from));
  };
  lookup(host, rr_type::a, [st, finish](const answer& x, source from) {
    st->a = x;
    st->a_from = from;
    finish();
  });
  lookup(host, rr_type::aaaa, [st, finish](const answer& x, source from) {
    st->aaaa = x;
    st->aaaa_from = from;
    finish();
  });
}

namespace {

struct resolve_job : std::enable_shared_from_this<resolve_job> {
  resolution res;
  resolve_options options;
  lookup_fn lookup;
  std::function<void(resolution)> done;
  std::vector<srv_candidate> names;
  size_t next = 0;
  // Target phase.
  std::vector<srv_record> ordered;
  std::vector<host_lookup> hosts;
  size_t pending_hosts = 0;
  std::string chosen_srv;
  transport chosen_proto = transport::tls;

  void finish(resolve_status status, std::string error) {
    res.status = status;
    res.error = std::move(error);
    if (status != resolve_status::ok) res.targets.clear();
    auto callback = std::move(done);
    callback(std::move(res));
  }

  std::string outcomes() const {
    std::string s;
    for (const auto& q : res.queries) {
      if (!s.empty()) s += ", ";
      s += q.name + " " + type_name(q.type) + " " + outcome_name(q.result);
    }
    return s;
  }

  void ask_srv() {
    if (next == names.size()) {
      fallback();
      return;
    }
    auto self = shared_from_this();
    lookup(names[next].name, rr_type::srv, [self](const answer& a, source from) { self->on_srv(a, from); });
  }

  void on_srv(const answer& a, source from) {
    const auto& name = names[next];
    res.queries.push_back(make_report(name.name, rr_type::srv, a, from));
    if (a.result == outcome::ok) {
      chosen_srv = name.name;
      chosen_proto = name.proto;
      if (!options.random) options.random = make_random_source();
      ordered = order_srv(a.srv, options.random);
      resolve_targets();
    } else if (a.result == outcome::no_service) {
      finish(resolve_status::no_service,
             "DNS: " + name.name + ": no service (SRV target \".\"): " + res.domain + " offers no federation");
    } else if (is_negative(a.result)) {
      ++next;
      ask_srv();
    } else {
      finish(resolve_status::dns_failure, res.queries.back().text);
    }
  }

  // RFC 3263 §4.2 without SRV records: the domain's own addresses, TLS on 5061.
  void fallback() {
    auto self = shared_from_this();
    lookup_host(res.domain, lookup, [self](host_lookup h) {
      auto& res = self->res;
      res.queries.insert(res.queries.end(), h.queries.begin(), h.queries.end());
      if (h.result == outcome::ok) {
        target t;
        t.host = res.domain;
        t.port = default_tls_port;
        t.proto = transport::tls;
        t.addresses = self->flag(h.addresses, t.port);
        res.targets.push_back(std::move(t));
        self->finish(resolve_status::ok, {});
      } else if (is_negative(h.result)) {
        self->finish(resolve_status::no_record,
                     "DNS: " + res.domain + ": no federation record (" + self->outcomes() + ")");
      } else {
        for (const auto& q : h.queries)
          if (is_failure(q.result)) return self->finish(resolve_status::dns_failure, q.text);
        self->finish(resolve_status::dns_failure, "DNS: " + res.domain + ": lookup failed");
      }
    });
  }

  std::vector<target_address> flag(const std::vector<address_record>& addresses, uint16_t port) const {
    std::function<bool(const std::string&)> test;
    if (options.unreachable) test = [this, port](const std::string& ip) { return options.unreachable(ip, port); };
    return flag_unreachable(addresses, test);
  }

  void resolve_targets() {
    hosts.resize(ordered.size());
    if (ordered.empty()) return finish_targets();
    pending_hosts = ordered.size() + 1;
    auto self = shared_from_this();
    for (size_t i = 0; i < ordered.size(); ++i) {
      lookup_host(ordered[i].target, lookup, [self, i](host_lookup h) {
        self->hosts[i] = std::move(h);
        if (--self->pending_hosts == 0) self->finish_targets();
      });
    }
    if (--pending_hosts == 0) finish_targets();
  }

  void finish_targets() {
    std::string failure, missing;
    for (size_t i = 0; i < ordered.size(); ++i) {
      auto& h = hosts[i];
      res.queries.insert(res.queries.end(), h.queries.begin(), h.queries.end());
      if (h.result != outcome::ok) {
        if (!missing.empty()) missing += ", ";
        missing += h.host + ": " + outcome_name(h.result);
        if (is_failure(h.result) && failure.empty())
          for (const auto& q : h.queries)
            if (is_failure(q.result) && failure.empty()) failure = q.text;
        continue;
      }
      target t;
      t.host = ordered[i].target;
      t.port = ordered[i].port;
      t.proto = chosen_proto;
      t.srv_name = chosen_srv;
      t.priority = ordered[i].priority;
      t.weight = ordered[i].weight;
      t.addresses = flag(h.addresses, t.port);
      res.targets.push_back(std::move(t));
    }
    if (!res.targets.empty()) {
      unreachable_targets_last(res.targets);
      return finish(resolve_status::ok, {});
    }
    if (!failure.empty()) return finish(resolve_status::dns_failure, failure);
    finish(resolve_status::no_address,
           "DNS: " + chosen_srv + ": no address for any SRV target (" + missing + ")");
  }
};

}  // namespace

void resolve_domain(const std::string& domain, resolve_options options, const lookup_fn& lookup,
                    std::function<void(resolution)> done) {
  auto job = std::make_shared<resolve_job>();
  job->res.domain = normalize_name(domain);
  job->options = std::move(options);
  job->lookup = lookup;
  job->done = std::move(done);
  const auto& d = job->res.domain;
  if (net::is_ip(d)) {
    target t;
    t.host = d;
    t.port = default_tls_port;
    t.addresses = job->flag(literal_answer(d).addresses, t.port);
    job->res.targets.push_back(std::move(t));
    return job->finish(resolve_status::ok, {});
  }
  if (!net::is_hostname(d))
    return job->finish(resolve_status::no_record, "DNS: \"" + domain + "\" is not a domain name");
  job->names = federation_srv_names(d, job->options.allow_tcp_federation);
  job->ask_srv();
}

}  // namespace fedgw::dns
