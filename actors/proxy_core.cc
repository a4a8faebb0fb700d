#include "actors/proxy_core.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <random>

#include <openssl/rand.h>

#include "gateway/metrics/metrics.h"
#include "gateway/net/address.h"
#include "gateway/proxy/dialog_flows.h"
#include "gateway/proxy/log_throttle.h"
#include "gateway/proxy/transactions.h"
#include "gateway/sip/response.h"

namespace fedgw {

namespace {

using clock = std::chrono::steady_clock;

static_assert(static_cast<int>(proxy::side::internal) == static_cast<int>(metrics::side::internal) &&
              static_cast<int>(proxy::side::external) == static_cast<int>(metrics::side::external));
metrics::side metrics_side(proxy::side s) { return static_cast<metrics::side>(s); }

// Who a request came from, as the transaction table keeps it: the connection to answer on (the
// identity: equality compares only it), and for the metrics its side, method and arrival time.
struct request_origin {
  response_sink sink;
  metrics::side from = metrics::side::internal;
  metrics::method method = metrics::method::other;
  clock::time_point received{};
  bool operator==(const request_origin& o) const { return sink == o.sink; }
};

using transaction_table = proxy::client_transactions<request_origin>;

struct core_state;
using self_ptr = proxy_core_actor::stateful_pointer<core_state>;

// The transaction table's effects, performed with messages.
struct transaction_io : transaction_table::callbacks {
  self_ptr self = nullptr;
  void to_origin(const request_origin& origin, int code, std::string wire) override;
  void answer(const request_origin& origin, const sip::Message& request, int code, std::string reason) override;
  void to_next_hop(const proxy::next_hop& hop, std::string wire) override;
  void response_in(const request_origin& origin, const proxy::next_hop& hop, const sip::Message& response) override;
  void finished(const request_origin& origin, int code, clock::time_point now) override;
};

constexpr auto dialog_flow_expiry = std::chrono::hours(1);

struct core_state {
  proxy_core_options options;
  transaction_io io;
  std::unique_ptr<transaction_table> transactions;
  uint64_t sequence = 0;
  std::mt19937_64 random;
  bool tick_armed = false;
  // Counted once, here; fedctl status's control::Counters are derived from the shards' blocks (status_counters).
  metrics::sip_block metrics;
  // Policy refusals are logged once per speaker (certificate identity or address) and minute.
  proxy::log_throttle refusals;
  // The partner connection of each dialog's latest request (external origins are connections).
  proxy::dialog_flows<response_sink> flows{0, dialog_flow_expiry};  // sized in proxy_core_impl (options)
  std::unordered_set<caf::actor_addr> watched;  // connections monitored for `flows` and `routes`
  // Partner domain -> its established connection (as the registry told): requests go there without the
  // registry hop. Bounded (options.max_routes); an entry goes with its connection.
  std::unordered_map<std::string, response_sink> routes;
};

void count_response_out(self_ptr self, const request_origin& to, int code) {
  self->state.metrics.count_response(to.from, metrics::direction::out, to.method, code);
}

// A response of the gateway's own to `request` (built from the bytes as received).
void respond(self_ptr self, const request_origin& to, const sip::Message& request, int code, std::string reason,
             std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (to.method == metrics::method::ack) return;  // ACK is never answered
  auto original = sip::parse_message(request.raw(), {self->state.options.limits, true, false});
  auto response = sip::make_response(original ? *original : request, code, reason, {}, self->state.options.limits);
  if (!response) return;
  if (!extra_name.empty()) response->add_header(extra_name, extra_value);
  response->add_header("Server", "fedgw");
  count_response_out(self, to, code);
  if (code >= 200) self->state.metrics.count_local(code, metrics::reason_of(code, reason));
  caf::anon_send(to.sink, respond_atom::value, response->serialize());
}

void transaction_io::to_origin(const request_origin& origin, int code, std::string wire) {
  count_response_out(self, origin, code);
  caf::anon_send(origin.sink, respond_atom::value, std::move(wire));
}

void transaction_io::answer(const request_origin& origin, const sip::Message& request, int code, std::string reason) {
  if (code == 408) ++self->state.metrics.transaction_timeouts;  // the table's timers: no final response in time
  respond(self, origin, request, code, std::move(reason));
}

void transaction_io::response_in(const request_origin& origin, const proxy::next_hop& hop,
                                 const sip::Message& response) {
  auto method = response.cseq().method == "CANCEL" ? metrics::method::cancel : origin.method;
  self->state.metrics.count_response(metrics_side(hop.to), metrics::direction::in, method, response.status_code());
}

void transaction_io::finished(const request_origin& origin, int, clock::time_point now) {
  self->state.metrics.transaction_seconds.observe(
    metrics::transaction_bounds, std::chrono::duration_cast<std::chrono::nanoseconds>(now - origin.received).count());
}

// Discovered partners get at most partners.discovered_rate_limit requests/s from the gateway (all shards
// together). CANCEL and ACK (untracked: empty branch) end transactions and are never limited.
bool over_outbound_rate(self_ptr self, const std::string& domain, const std::string& branch) {
  auto& st = self->state;
  const auto& s = *st.options.settings;
  if (branch.empty() || !st.options.outbound_limits || s.allow_listed(domain)) return false;
  auto now = clock::now();
  auto verdict = st.options.outbound_limits->take(domain, s.discovered_rate_limit, now);
  if (verdict == proxy::partner_rate_limiter::verdict::allowed) return false;
  bool full = verdict == proxy::partner_rate_limiter::verdict::table_full;
  ++st.metrics.rate_limited_out;
  if (st.options.outbound_limits->should_log(domain, now))
    report(st.options.log, severity::warning, "policy",
           st.options.outbound_limits->refusal_text(verdict, domain, s.discovered_rate_limit, "to"));
  // After this handler, when the transaction exists.
  self->send(self, fail_atom::value, branch, 503,
             std::string(full ? "Service Unavailable - too many discovered partners at once"
                              : "Service Unavailable - rate limit for " + domain));
  return true;
}

void forward(self_ptr self, const proxy::next_hop& hop, metrics::method method, std::string wire,
             const std::string& branch) {
  auto& st = self->state;
  proxy_core_actor me = caf::actor_cast<proxy_core_actor>(self);
  st.metrics.count_request(metrics_side(hop.to), metrics::direction::out, method);
  if (hop.to == proxy::side::internal)
    return self->send(st.options.registry, deliver_atom::value, std::move(wire), me, branch, hop.address);
  if (over_outbound_rate(self, hop.domain, branch)) return;
  // SIP_PROXY mode: the registry hands everything for partners to the session with the proxy.
  if (st.options.settings && st.options.settings->via_proxy)
    return self->send(st.options.registry, forward_atom::value, hop.domain, hop.node, std::move(wire), me, branch);
  // In-dialog: back on the connection the partner's latest request of this dialog came in on.
  if (!hop.call_id.empty())
    if (auto flow = st.flows.find(hop.call_id, hop.domain, clock::now()))
      return self->send(caf::actor_cast<connection_actor>(*flow), transmit_atom::value, std::move(wire), me, branch);
  if (hop.node.empty()) {
    auto route = st.routes.find(hop.domain);
    if (route != st.routes.end())
      return self->send(caf::actor_cast<connection_actor>(route->second), transmit_atom::value, std::move(wire), me,
                        branch);
  }
  self->send(st.options.registry, forward_atom::value, hop.domain, hop.node, std::move(wire), me, branch);
}

// CANCEL and ACK are hop-by-hop and untracked (empty branch): no rate or queue
// limit refuses them and no failure of theirs can end their INVITE.
void transaction_io::to_next_hop(const proxy::next_hop& hop, std::string wire) {
  auto method = wire.compare(0, 7, "CANCEL ") == 0 ? metrics::method::cancel : metrics::method::ack;
  forward(self, hop, method, std::move(wire), {});
}

// A partner's dialog request: its connection carries the gateway's next
// in-dialog requests of that dialog (see dialog_flows.h).
void remember_flow(self_ptr self, const sip_origin& origin, const sip::Message& request, const proxy::decision& d) {
  auto& st = self->state;
  if (!origin.connection || d.domain.empty()) return;
  st.flows.remember(std::string(request.call_id()), d.domain, origin.connection, clock::now());
  if (st.watched.insert(origin.connection.address()).second) self->monitor(origin.connection);
}

void arm_tick(self_ptr self) {
  auto& st = self->state;
  if (st.tick_armed || st.transactions->size() + st.transactions->absorbed_ack_count() == 0) return;
  st.tick_armed = true;
  // One timer per shard, not per transaction: deadlines are checked every 250 ms.
  self->delayed_send(self, std::chrono::milliseconds(250), proxy_tick_atom::value);
}

void log_refusal(self_ptr self, const sip_origin& origin, const std::string& text) {
  auto key = origin.from == proxy::side::external && !origin.identities.empty() ? origin.identities.front()
                                                                                 : origin.address;
  if (!self->state.refusals.allow(key, clock::now())) return;
  report(self->state.options.log, severity::warning, "policy",
         text + " (further refusals for " + key + " this minute are not logged)");
}

// "ip:port" of a Request-URI that names an address (a Contact), else "".
std::string request_target_address(const sip::Message& request) {
  auto uri = request.parse_request_uri();
  if (!uri || !uri->is_sip() || uri->port == 0) return {};
  auto host = std::string(uri->host_unbracketed());
  if (!net::is_ip(host)) return {};
  return net::endpoint{host, uri->port}.to_string();
}

bool answers_locally(const sip::Message& request, const proxy::settings& s) {
  // OPTIONS to a served domain or to the gateway itself (no user part): a connectivity test.
  if (request.method() != "OPTIONS" || request.has("Route")) return false;
  auto uri = sip::parse_uri(request.request_uri());
  if (!uri || !uri->is_sip() || !uri->user.empty()) return false;
  auto host = std::string(uri->host_unbracketed());
  return s.serves(host) || host == s.internal.host || host == s.external.host;
}

bool refused(self_ptr self, const sip_origin& origin, const request_origin& who, const sip::Message& request,
             const proxy::decision& d) {
  if (d.status == 0) return false;
  if (d.policy_refusal)
    log_refusal(self, origin, std::string(request.method()) + " from " + proxy::side_name(origin.from) + " " +
                                origin.address + " refused: " + d.reason);
  if (d.status == 403) self->state.metrics.policy_rejections.add(metrics::ix(d.rule));
  respond(self, who, request, d.status, d.reason);
  return true;
}

void handle_request(self_ptr self, sip_origin& origin, sip::Message& request) {
  auto& st = self->state;
  const auto& s = *st.options.settings;
  request_origin who{origin.connection, metrics_side(origin.from), metrics::method_of(request.method()), clock::now()};
  st.metrics.count_request(who.from, metrics::direction::in, who.method);
  auto mf = sip::check_max_forwards(request);
  if (!mf.ok()) return respond(self, who, request, 483, "Too Many Hops");
  if (proxy::is_looped(request, s)) return respond(self, who, request, 482, "Loop Detected");
  if (!sip::unsupported_option_tags(request, sip::HeaderId::kProxyRequire, {}).empty()) {
    auto bad = sip::make_bad_extension_response(request, sip::HeaderId::kProxyRequire, {});
    if (bad) {
      count_response_out(self, who, 420);
      st.metrics.count_local(420, metrics::reason::other);
      caf::anon_send(origin.connection, respond_atom::value, bad->serialize());
    }
    return;
  }
  // Who is speaking: before CANCEL, ACK and local OPTIONS, so that policy covers them too.
  if (refused(self, origin, who, request, proxy::check_origin(request, origin.from, origin.identities, s))) return;
  if (who.method == metrics::method::cancel) {
    auto branch = request.top_via_branch();
    auto r = branch ? st.transactions->on_cancel(who, *branch, who.received)
                    : transaction_table::cancel_result::unknown;
    if (r == transaction_table::cancel_result::unknown)
      return respond(self, who, request, 481, "Call/Transaction Does Not Exist");
    return respond(self, who, request, 200, "OK");
  }
  if (who.method == metrics::method::ack) {
    auto branch = request.top_via_branch();
    if (branch && st.transactions->absorb_ack(*branch)) return;  // hop-by-hop: already sent downstream
  }
  if (answers_locally(request, s)) {
    return respond(self, who, request, 200, "OK", "Allow",
                   "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY, PUBLISH, INFO");
  }
  auto d = proxy::route_request(request, origin.from, origin.identities, s);
  if (refused(self, origin, who, request, d)) return;
  for (size_t i = 0; i < d.routes_to_pop; ++i) request.remove_top_route();
  if (d.strip_identity)
    for (auto name : proxy::identity_headers) request.remove_header(name);
  request.decrement_max_forwards();
  if (d.record_route) {
    // RFC 5658 double Record-Route: the value facing the next hop ends up on top.
    auto origin_domain = origin.from == proxy::side::external ? d.domain : std::string();
    auto target_domain = d.to == proxy::side::external ? d.domain : std::string();
    request.prepend_record_route(proxy::record_route_value(s, origin.from, origin_domain, request));
    request.prepend_record_route(proxy::record_route_value(s, d.to, target_domain, request));
  }
  // The branch it arrived with (parsed already): CANCEL and ACK matching.
  auto origin_branch = std::string(request.top_via_branch().value_or(""));
  auto branch = proxy::make_branch(s, st.options.shard, ++st.sequence, st.random());
  request.prepend_via(proxy::via_value(s.facing(d.to), branch));
  proxy::next_hop hop{d.to, d.domain, request_target_address(request), d.node,
                      d.in_dialog && d.to == proxy::side::external ? std::string(request.call_id()) : std::string()};
  if (origin.from == proxy::side::external && (d.in_dialog || d.record_route)) remember_flow(self, origin, request, d);
  if (who.method == metrics::method::ack)
    return forward(self, hop, who.method, request.serialize(), {});  // no transaction, no response
  forward(self, hop, who.method, request.serialize(), branch);
  if (who.method == metrics::method::invite) respond(self, who, request, 100, "Trying");
  ++st.metrics.transactions_started;
  st.transactions->start(branch, who, origin_branch, std::move(request), std::move(hop), who.received);
  arm_tick(self);
}

// The shard's block with its gauges filled in (shard 0 also reports the connections' dropped responses).
metrics::sip_block current_metrics(self_ptr self) {
  auto& st = self->state;
  auto m = st.metrics;
  m.transactions_active = st.transactions->size();
  if (st.options.shard == 0 && st.options.stray_responses) m.responses_dropped = st.options.stray_responses->load();
  return m;
}

}  // namespace

control::Counters status_counters(const metrics::sip_block& m) {
  control::Counters c;
  c.set_requests_in(m.requests_total(metrics::direction::in));
  c.set_requests_out(m.requests_total(metrics::direction::out));
  c.set_responses_1xx(m.responses_total(metrics::direction::out, 1));
  c.set_responses_2xx(m.responses_total(metrics::direction::out, 2));
  c.set_responses_3xx(m.responses_total(metrics::direction::out, 3));
  c.set_responses_4xx(m.responses_total(metrics::direction::out, 4));
  c.set_responses_5xx(m.responses_total(metrics::direction::out, 5));
  c.set_responses_6xx(m.responses_total(metrics::direction::out, 6));
  c.set_responses_dropped(m.responses_dropped);
  return c;
}

namespace {

proxy_core_actor::behavior_type proxy_core_impl(self_ptr self, proxy_core_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.flows = proxy::dialog_flows<response_sink>(st.options.max_dialog_flows, dialog_flow_expiry);
  st.io.self = self;
  st.transactions = std::make_unique<transaction_table>(st.options.timers, st.io);
  uint64_t seed = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed);
  st.random.seed(seed);
  self->set_down_handler([=](const caf::down_msg& down) {
    auto& s = self->state;
    s.watched.erase(down.source);
    s.flows.forget_if([&](const response_sink& c) { return c.address() == down.source; });
    for (auto it = s.routes.begin(); it != s.routes.end();)
      it = it->second.address() == down.source ? s.routes.erase(it) : std::next(it);
  });
  return {
    [=](request_atom, sip_origin& origin, sip::Message& request) { handle_request(self, origin, request); },
    [=](response_atom, sip::Message& response) {
      auto branch = response.top_via_branch();
      if (!branch) return;
      self->state.transactions->on_response(std::string(*branch), response, clock::now());
    },
    [=](fail_atom, const std::string& branch, int status, const std::string& reason) {
      self->state.transactions->on_failure(branch, status, reason, clock::now());
    },
    [=](route_atom, std::string& domain, response_sink& connection) {
      auto& s = self->state;
      // Only a new domain overflows the map (then relearned from the registry): the registry sends a domain's
      // route with each request of a burst it forwarded, and clearing for those sent every other domain back.
      if (s.routes.size() >= s.options.max_routes && s.routes.find(domain) == s.routes.end()) s.routes.clear();
      s.routes[std::move(domain)] = connection;
      if (s.watched.insert(connection.address()).second) self->monitor(connection);
    },
    [=](proxy_tick_atom) {
      auto& s = self->state;
      s.tick_armed = false;
      s.transactions->expire(clock::now());
      arm_tick(self);
    },
    [=](metrics_atom) -> metrics::sip_block { return current_metrics(self); },
    [=](config_atom, std::shared_ptr<const proxy::settings>& settings) {
      self->state.options.settings = std::move(settings);
    },
  };
}

}  // namespace

proxy_core_actor spawn_proxy_core(caf::actor_system& system, proxy_core_options options) {
  return system.spawn(proxy_core_impl, std::move(options));
}

size_t shard_for_call(std::string_view call_id, size_t shards) {
  return shards == 0 ? 0 : std::hash<std::string_view>{}(call_id) % shards;
}

size_t proxy_core_shards(size_t workers) { return std::max<size_t>(1, (workers + 1) / 2); }

size_t dialog_flows_per_shard(size_t workers) {
  size_t shards = proxy_core_shards(workers);
  return (dialog_flows_per_worker * std::max<size_t>(1, workers) + shards - 1) / shards;
}

}  // namespace fedgw
