#include "actors/proxy_core.h"

#include <chrono>
#include <functional>
#include <unordered_map>

#include "gateway/net/address.h"
#include "gateway/sip/response.h"

namespace fedgw {

namespace {

struct transaction {
  caf::actor origin;
  sip::Message request;  // as forwarded; raw() keeps the bytes as received
  bool invite = false;
  // INVITE only: where it went, so that a CANCEL can follow it.
  std::string origin_branch;
  proxy::side to = proxy::side::external;
  std::string domain;
  std::string target_address;
};

struct core_state {
  proxy_core_options options;
  std::unordered_map<std::string, transaction> transactions;
  // Pending INVITEs by the branch of the Via they arrived with (RFC 3261 §9.2 CANCEL matching).
  std::unordered_map<std::string, std::string> invites_by_origin_branch;
  // INVITEs that ended with a non-2xx answer, by origin branch: the gateway sent the
  // downstream ACK itself; the upstream ACK (same branch) is absorbed (RFC 3261 §17.1.1.3).
  std::unordered_map<std::string, int64_t> acked_until_ms;
  uint64_t sequence = 0;
  control::Counters counters;
  // Policy refusals are logged once per domain and minute, not per request.
  std::unordered_map<std::string, int64_t> refusal_logged_minute;
};

using self_ptr = caf::stateful_actor<core_state>*;

int64_t now_minute() {
  return std::chrono::duration_cast<std::chrono::minutes>(std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

void count_response(control::Counters& c, int code) {
  switch (code / 100) {
    case 1: c.set_responses_1xx(c.responses_1xx() + 1); break;
    case 2: c.set_responses_2xx(c.responses_2xx() + 1); break;
    case 3: c.set_responses_3xx(c.responses_3xx() + 1); break;
    case 4: c.set_responses_4xx(c.responses_4xx() + 1); break;
    case 5: c.set_responses_5xx(c.responses_5xx() + 1); break;
    default: c.set_responses_6xx(c.responses_6xx() + 1); break;
  }
}

// A response of the gateway's own to `request` (built from the bytes as received).
void respond(self_ptr self, const caf::actor& to, const sip::Message& request, int code, std::string reason,
             std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (request.method() == "ACK") return;  // ACK is never answered
  auto original = sip::parse_message(request.raw(), {{}, true, false});
  auto response = sip::make_response(original ? *original : request, code, reason);
  if (!response) return;
  if (!extra_name.empty()) response->add_header(extra_name, extra_value);
  response->add_header("Server", "fedgw");
  count_response(self->state.counters, code);
  caf::anon_send(to, send_atom::value, response->serialize());
}

void log_refusal(self_ptr self, const std::string& domain, const std::string& text) {
  auto& last = self->state.refusal_logged_minute[domain];
  auto minute = now_minute();
  if (last == minute) return;
  last = minute;
  report(self->state.options.log, severity::warning, "policy", text + " (further refusals for " + domain +
                                                                  " this minute are not logged)");
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
  if (request.method() != "OPTIONS") return false;
  auto uri = sip::parse_uri(request.request_uri());
  if (!uri || !uri->is_sip() || !uri->user.empty()) return false;
  auto host = std::string(uri->host_unbracketed());
  return s.serves(host) || host == s.internal.host || host == s.external.host;
}

void forward(self_ptr self, proxy::side to, const std::string& domain, std::string wire, const std::string& branch,
             const std::string& target_address) {
  auto& st = self->state;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  st.counters.set_requests_out(st.counters.requests_out() + 1);
  if (to == proxy::side::external)
    self->send(st.options.registry, send_atom::value, domain, std::move(wire), me, branch);
  else
    self->send(st.options.registry, internal_atom::value, std::move(wire), me, branch, target_address);
}

// A CANCEL or the ACK of a non-2xx answer for a forwarded INVITE (RFC 3261 §9.1,
// §17.1.1.3): its Request-URI, our Via (same branch), Route, From, Call-ID and
// CSeq number, with `to` as the To header.
std::string follow_up_request(const sip::Message& invite, std::string_view method, std::string_view to) {
  std::string text = std::string(method) + " " + std::string(invite.request_uri()) + " SIP/2.0\r\n";
  text += "Via: " + std::string(invite.get_all("Via").front()) + "\r\n";
  for (auto route : invite.get_all("Route")) text += "Route: " + std::string(route) + "\r\n";
  text += "Max-Forwards: 70\r\n";
  text += "From: " + std::string(invite.get("From").value_or("")) + "\r\n";
  text += "To: " + std::string(to) + "\r\n";
  text += "Call-ID: " + std::string(invite.call_id()) + "\r\n";
  text += "CSeq: " + std::to_string(invite.cseq().number) + " " + std::string(method) + "\r\n";
  return text + "Content-Length: 0\r\n\r\n";
}

// RFC 3261 §16.10: a CANCEL is answered here and follows the pending INVITE
// to where it went (same Request-URI, Call-ID, From, To, CSeq number, Route and our Via).
void handle_cancel(self_ptr self, const sip_origin& origin, const sip::Message& cancel) {
  auto& st = self->state;
  auto branch = cancel.top_via().branch();
  auto found = branch ? st.invites_by_origin_branch.find(std::string(*branch)) : st.invites_by_origin_branch.end();
  if (found == st.invites_by_origin_branch.end())
    return respond(self, origin.connection, cancel, 481, "Call/Transaction Does Not Exist");
  auto t = st.transactions.find(found->second);
  if (t == st.transactions.end())
    return respond(self, origin.connection, cancel, 481, "Call/Transaction Does Not Exist");
  respond(self, origin.connection, cancel, 200, "OK");
  const auto& invite = t->second.request;
  forward(self, t->second.to, t->second.domain,
          follow_up_request(invite, "CANCEL", invite.get("To").value_or("")), t->first, t->second.target_address);
}

void handle_request(self_ptr self, sip_origin& origin, sip::Message& request) {
  auto& st = self->state;
  const auto& s = *st.options.settings;
  st.counters.set_requests_in(st.counters.requests_in() + 1);
  auto mf = sip::check_max_forwards(request);
  if (!mf.ok()) return respond(self, origin.connection, request, 483, "Too Many Hops");
  if (proxy::is_looped(request, s)) return respond(self, origin.connection, request, 482, "Loop Detected");
  if (!sip::unsupported_option_tags(request, sip::HeaderId::kProxyRequire, {}).empty()) {
    auto bad = sip::make_bad_extension_response(request, sip::HeaderId::kProxyRequire, {});
    if (bad) {
      count_response(st.counters, 420);
      caf::anon_send(origin.connection, send_atom::value, bad->serialize());
    }
    return;
  }
  if (request.method() == "CANCEL") return handle_cancel(self, origin, request);
  if (request.method() == "ACK") {
    auto branch = request.top_via().branch();
    auto acked = branch ? st.acked_until_ms.find(std::string(*branch)) : st.acked_until_ms.end();
    if (acked != st.acked_until_ms.end()) {
      st.acked_until_ms.erase(acked);
      return;  // the ACK of a non-2xx answer: hop-by-hop, already sent downstream
    }
  }
  if (answers_locally(request, s)) {
    return respond(self, origin.connection, request, 200, "OK", "Allow",
                   "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY, PUBLISH, INFO");
  }
  auto d = proxy::route_request(request, origin.from, origin.identities, s);
  if (d.status != 0) {
    if (d.policy_refusal)
      log_refusal(self, d.domain.empty() ? proxy::uri_domain(request.from().uri_text) : d.domain,
                  std::string(request.method()) + " from " + proxy::side_name(origin.from) + " " +
                    origin.address + " refused: " + d.reason);
    return respond(self, origin.connection, request, d.status, d.reason);
  }
  for (size_t i = 0; i < d.routes_to_pop; ++i) request.remove_top_route();
  request.decrement_max_forwards();
  const auto& in_iface = s.facing(origin.from);
  const auto& out_iface = s.facing(d.to);
  if (d.record_route) {
    // RFC 5658 double Record-Route: the value facing the next hop ends up on top.
    auto origin_domain = origin.from == proxy::side::external ? d.domain : std::string();
    auto target_domain = d.to == proxy::side::external ? d.domain : std::string();
    request.prepend_record_route(proxy::record_route_value(in_iface, origin.from, origin_domain));
    request.prepend_record_route(proxy::record_route_value(out_iface, d.to, target_domain));
  }
  auto branch = proxy::make_branch(s, st.options.shard, ++st.sequence);
  request.prepend_via(proxy::via_value(out_iface, branch));
  auto target_address = request_target_address(request);
  forward(self, d.to, d.domain, request.serialize(), branch, target_address);
  if (request.method() == "ACK") return;  // no transaction, no response
  bool invite = request.method() == "INVITE";
  transaction t{origin.connection, std::move(request), invite, {}, d.to, d.domain, target_address};
  if (invite) {
    respond(self, origin.connection, t.request, 100, "Trying");
    // The second Via (the one the INVITE arrived with) identifies it for CANCEL.
    auto vias = t.request.vias();
    if (vias.size() >= 2 && vias[1].branch()) {
      t.origin_branch = std::string(*vias[1].branch());
      st.invites_by_origin_branch[t.origin_branch] = branch;
    }
  }
  st.transactions.emplace(branch, std::move(t));
  self->delayed_send(self, st.options.transaction_timeout, timeout_atom::value, branch);
}

// RFC 3261 §17.1.1.3: the client transaction of an INVITE that got a non-2xx
// final answer sends the ACK itself (same branch, Request-URI, Route; To with the answer's tag).
void ack_downstream(self_ptr self, const transaction& t, const sip::Message& response) {
  // No branch to track: an ACK gets no response.
  forward(self, t.to, t.domain, follow_up_request(t.request, "ACK", response.get("To").value_or("")),
          std::string(), t.target_address);
}

// Ends a transaction. For an INVITE answered non-2xx, the upstream ACK that
// follows (same branch as the INVITE) is absorbed for a while.
void finish_transaction(self_ptr self, std::unordered_map<std::string, transaction>::iterator it, int status) {
  auto& st = self->state;
  if (it->second.invite && status >= 300 && !it->second.origin_branch.empty()) {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now().time_since_epoch()).count();
    for (auto i = st.acked_until_ms.begin(); i != st.acked_until_ms.end();)
      i = i->second < now ? st.acked_until_ms.erase(i) : std::next(i);
    st.acked_until_ms[it->second.origin_branch] = now + 32000;
  }
  if (!it->second.origin_branch.empty()) st.invites_by_origin_branch.erase(it->second.origin_branch);
  st.transactions.erase(it);
}

caf::behavior proxy_core_impl(self_ptr self, proxy_core_options options) {
  self->state.options = std::move(options);
  return {
    [=](request_atom, sip_origin& origin, sip::Message& request) { handle_request(self, origin, request); },
    [=](response_atom, sip::Message& response) {
      auto& st = self->state;
      auto branch = response.top_via().branch();
      if (!branch) return;
      auto it = st.transactions.find(std::string(*branch));
      if (it == st.transactions.end()) return;  // late or duplicate: the transaction is over
      if (response.cseq().method == "CANCEL") return;  // our hop-by-hop CANCEL, answered already
      if (it->second.invite && response.status_code() >= 300) ack_downstream(self, it->second, response);
      response.remove_top_via();
      count_response(st.counters, response.status_code());
      caf::anon_send(it->second.origin, send_atom::value, response.serialize());
      if (response.status_code() >= 200) finish_transaction(self, it, response.status_code());
    },
    [=](fail_atom, const std::string& branch, int status, const std::string& reason) {
      auto& st = self->state;
      auto it = st.transactions.find(branch);
      if (it == st.transactions.end()) return;
      respond(self, it->second.origin, it->second.request, status, reason);
      finish_transaction(self, it, status);
    },
    [=](timeout_atom, const std::string& branch) {
      auto& st = self->state;
      auto it = st.transactions.find(branch);
      if (it == st.transactions.end()) return;
      respond(self, it->second.origin, it->second.request, 408, "Request Timeout - no final response from the next hop");
      finish_transaction(self, it, 408);
    },
    [=](counters_atom) { return self->state.counters; },
    [=](config_atom, std::shared_ptr<const proxy::settings>& settings) { self->state.options.settings = std::move(settings); },
  };
}

}  // namespace

caf::actor spawn_proxy_core(caf::actor_system& system, proxy_core_options options) {
  return system.spawn(proxy_core_impl, std::move(options));
}

size_t shard_for_call(std::string_view call_id, size_t shards) {
  return shards == 0 ? 0 : std::hash<std::string_view>{}(call_id) % shards;
}

}  // namespace fedgw
