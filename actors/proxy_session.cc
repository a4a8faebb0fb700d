#include "actors/proxy_session.h"

#include <algorithm>
#include <cctype>

#include "actors/proxy_core.h"
#include "actors/socket_bridge.h"
#include "gateway/config/config.h"
#include "gateway/net/address.h"
#include "gateway/proxy/connection.h"
#include "gateway/proxy/digest.h"
#include "gateway/proxy/log_throttle.h"
#include "gateway/proxy/registration.h"
#include "gateway/proxy/transactions.h"
#include "gateway/sip/response.h"

namespace fedgw {
namespace {

using clock = std::chrono::steady_clock;
constexpr std::string_view register_token = "register";  // the connection token of our REGISTERs

struct session_state;
using self_ptr = proxy_session_actor::stateful_pointer<session_state>;

// A request relayed to the proxy for a shard: kept until its final response, so that a 401/407 from the
// proxy can be answered once with the login's credentials (RFC 3261 §22.2: the same request with CSeq + 1
// and a new branch). The shard's transaction knows only the original branch and CSeq: the response to
// the retry gets them back before it is delivered.
struct relayed_request {
  proxy_core_actor shard;
  std::string branch;
  std::string wire;  // as first sent; emptied once retried
  bool retried = false;
  std::string original_via;   // top Via value of the original
  std::string original_cseq;  // CSeq value of the original
};
using relayed_ptr = std::shared_ptr<relayed_request>;

// An INVITE sent again with credentials: its CANCEL and its ACKs (hop-by-hop for a non-2xx answer,
// end-to-end for a 2xx) come from the shard and the caller with the original CSeq (and, hop-by-hop, the
// original branch); they leave with the retry's. By Call-ID, for 64·T1 (32 s).
struct invite_retry {
  std::string original_branch;
  std::string retry_branch;
  uint32_t cseq = 0;  // the original
  std::chrono::steady_clock::time_point until;
};
constexpr size_t max_invite_retries = 10000;

struct session_events final : proxy::connection_events {
  self_ptr self;
  explicit session_events(self_ptr s) : self(s) {}
  bool write(std::string_view bytes) override;
  void close(bool flush) override;
  void request(sip::Message&& m) override;
  void response(const proxy::connection_token& token, sip::Message&& m) override;
  void failed(const proxy::connection_token& token, const std::string& branch, int status,
              const std::string& reason) override;
  void established(const std::vector<std::string>& identities) override;
  void log(severity level, const char* component, const std::string& text) override;
  void setup_failed(const std::string& text) override;
  bool congested() override;
};

struct session_state {
  proxy_session_options options;
  std::string proxy;     // "ip:port"
  std::string incoming;  // sip_proxy.incoming "ip:port": Contact and Via sent-by of the REGISTERs
  std::unique_ptr<session_events> events;
  std::unique_ptr<proxy::sip_connection> core;
  std::unique_ptr<proxy::registration> registration;
  conn_id conn = 0;
  bool output_congested = false;  // as the last write found the socket's output; cleared by drained_atom
  uint64_t attempt = 0;
  uint64_t connects = 0;
  std::string setup_error;  // the connection core's last error on this connection (the close reason says less)
  bool answered = false;    // the proxy answered SIP on this connection: it is up, the back-off starts over
  std::chrono::seconds backoff{0};
  std::string last_failure;  // logged once until it changes (or a minute passed)
  proxy::log_throttle failure_logged{std::chrono::seconds(60), 1};
  bool stopping = false;
  proxy::digest::answerer request_digest;  // the proxy's last challenge to a relayed request
  proxy::log_throttle refused_logged{std::chrono::seconds(60), 1};
  std::unordered_map<std::string, invite_retry> invite_retries;
};

// `via` with `from` (its branch) replaced by `to`.
std::string with_branch(std::string via, const std::string& from, const std::string& to) {
  auto at = via.find(from);
  if (at != std::string::npos) via.replace(at, from.size(), to);
  return via;
}

// Replaces the top Via value and the CSeq value of `m` (requests sent again with credentials, and their
// answers on the way back to the shard).
void set_top_via_and_cseq(sip::Message& m, const std::string& via, const std::string& cseq) {
  m.remove_top_via();
  m.prepend_via(via);
  m.remove_header("CSeq");
  m.add_header("CSeq", cseq);
}

proxy::digest::credentials login(self_ptr self) {
  const auto& p = self->state.options.settings;
  return {p.username(), p.password()};
}

void note(self_ptr self, severity level, const std::string& text) {
  report(self->state.options.log, level, "sip_proxy", text);
}

void send(self_ptr self, proxy::registration::step step) {
  auto& st = self->state;
  if (step.log) note(self, step.error ? severity::error : severity::info, *step.log);
  if (step.send)
    st.core->transmit(std::move(*step.send), std::string(register_token), st.registration->branch(), clock::now());
}

// "connect to 127.0.0.1:5099 failed: Connection refused" -> "connection refused"
std::string failure_reason(const std::string& reactor_reason) {
  auto at = reactor_reason.rfind("failed: ");
  std::string why = at == std::string::npos ? reactor_reason : reactor_reason.substr(at + 8);
  if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
  return why;
}

void connect(self_ptr self);

// The connection failed or dropped: log (a repeated reason once a minute), then try again after the back-off.
void retry_later(self_ptr self, const std::string& text) {
  auto& st = self->state;
  st.registration->disconnected(text);
  st.backoff = st.backoff.count() == 0 ? st.options.backoff_initial : std::min(st.backoff * 2, st.options.backoff_max);
  bool allowed = st.failure_logged.allow("", clock::now());  // the same reason again: once a minute
  if (text != st.last_failure || allowed) {
    st.last_failure = text;
    note(self, severity::error, text + "; retrying in " + std::to_string(st.backoff.count()) + " s");
  }
  self->delayed_send(self, st.backoff, reconnect_atom::value, st.attempt);
}

void connect(self_ptr self) {
  auto& st = self->state;
  if (st.stopping) return;
  const auto& p = st.options.settings;
  ++st.attempt;
  st.setup_error.clear();
  st.answered = false;
  st.registration->connecting();
  std::unique_ptr<tls::tls_stream> tls;
  tls::contexts_ptr contexts;
  if (p.transport() == config::TLS || p.transport() == config::MTLS) {
    contexts = st.options.tls ? st.options.tls->get() : nullptr;
    if (!contexts) return retry_later(self, "connection to SIP proxy " + st.proxy + " not possible: no certificate in use for " + config::transport_name(p.transport()));
    auto ssl = contexts->new_client_session(p.server_name());
    if (p.transport() == config::TLS) SSL_certs_clear(ssl.get());  // TLS: the gateway shows no certificate
    tls = std::make_unique<tls::tls_stream>(std::move(ssl));
  }
  // A new core per connection: the in-flight table and framer belong to one socket.
  proxy::connection_options o;
  o.where = proxy::side::external;
  o.inbound = false;
  o.domain = p.server_name().empty() ? p.ip() : p.server_name();
  o.contexts = contexts;
  o.limits = st.options.limits;
  o.timers = st.options.timers;
  o.keepalive = st.options.keepalive;
  o.idle_timeout = std::chrono::hours(24 * 365);  // the registration refresh keeps it busy; never closed as idle
  st.events = std::make_unique<session_events>(self);
  st.core = std::make_unique<proxy::sip_connection>(o, *st.events, clock::now());
  std::string error;
  auto conn = st.options.reactor->connect_tcp(
    net::endpoint{p.ip(), static_cast<uint16_t>(p.port())}, p.interface(),
    std::make_shared<flow_socket_bridge<proxy_session_actor>>(caf::actor_cast<proxy_session_actor>(self)), error);
  if (conn == 0) return retry_later(self, "connection to SIP proxy " + st.proxy + " failed: " + failure_reason(error));
  st.conn = conn;
  st.core->attach(st.proxy, std::move(tls), clock::now());
  self->delayed_send(self, st.options.connect_timeout, connect_timeout_atom::value, st.attempt);
}

bool session_events::write(std::string_view bytes) {
  auto& st = self->state;
  return st.conn != 0 && st.options.reactor->write(st.conn, bytes, &st.output_congested);
}

bool session_events::congested() { return self->state.output_congested; }

void session_events::close(bool flush) {
  auto& st = self->state;
  if (st.conn != 0) st.options.reactor->close(st.conn, flush);
}

// Requests from the proxy on this connection: OPTIONS (its keep-alive probe) is answered here, the rest
// goes to the proxy core, vouched for by the proxy.
void session_events::request(sip::Message&& m) {
  auto& st = self->state;
  if (m.method() == "OPTIONS" || st.options.shards.empty()) {
    auto response = sip::make_response(m, m.method() == "OPTIONS" ? 200 : 503,
                                       m.method() == "OPTIONS" ? "OK" : "Service Unavailable - the data path is not running",
                                       "fgw", st.options.limits);
    if (response) st.core->respond(response->serialize());
    return;
  }
  sip_origin origin{caf::actor_cast<response_sink>(self), proxy::side::external,
                    {std::string(proxy::trusted_proxy_identity)}, st.proxy};
  auto shard = shard_for_call(m.call_id(), st.options.shards.size());
  caf::anon_send(st.options.shards[shard], request_atom::value, std::move(origin), std::move(m));
}

// A CANCEL or ACK of an INVITE that was sent again with credentials: the retry's CSeq (and branch).
std::string follow_invite_retry(self_ptr self, std::string wire) {
  auto& st = self->state;
  auto m = sip::parse_message(wire);
  if (!m.ok()) return wire;
  auto method = m->method();
  auto it = st.invite_retries.find(std::string(m->call_id()));
  if ((method != "ACK" && method != "CANCEL") || it == st.invite_retries.end() || m->cseq().number != it->second.cseq)
    return wire;
  // The hop-by-hop ones carry the INVITE's branch; an ACK for a 2xx has a branch of its own.
  auto via = std::string(m->get_all("Via").front());
  if (auto branch = m->top_via_branch(); branch && *branch == it->second.original_branch)
    via = with_branch(std::move(via), it->second.original_branch, it->second.retry_branch);
  set_top_via_and_cseq(*m, via, std::to_string(it->second.cseq + 1) + " " + std::string(method));
  return m->serialize();
}

// `wire` with (Proxy-)Authorization answering the proxy's last challenge (the next nonce count).
std::optional<std::string> with_credentials(self_ptr self, const std::string& wire) {
  auto& st = self->state;
  auto m = sip::parse_message(wire);
  if (!m.ok() || !st.request_digest.ready()) return std::nullopt;
  auto value = st.request_digest.next(login(self), m->method(), m->request_uri());
  if (!m->add_header(st.request_digest.header(), value).ok()) return std::nullopt;
  return m->serialize();
}

// A 401/407 to a relayed request: the same request again with the login's credentials (once). False when
// it cannot be answered (then the challenge goes to the shard as the final response).
bool answer_challenge(self_ptr self, const relayed_ptr& r, const sip::Message& challenge_response) {
  auto& st = self->state;
  if (r->retried || r->wire.empty()) return false;
  bool proxy_auth = challenge_response.status_code() == 407;
  std::string why;
  auto c = proxy::digest::pick_challenge(
    challenge_response.get_all(proxy_auth ? "Proxy-Authenticate" : "WWW-Authenticate"), why);
  if (!c) return false;
  auto original = sip::parse_message(r->wire);
  if (!original.ok()) return false;
  auto& m = *original;
  auto vias = m.get_all("Via");
  if (vias.empty()) return false;
  st.request_digest.challenged(std::move(*c), proxy_auth);
  r->original_via = std::string(vias.front());
  r->original_cseq = std::string(m.get("CSeq").value_or(""));
  if (r->original_via.find(r->branch) == std::string::npos) return false;  // not our Via on top
  auto retry_branch = r->branch + ".auth";
  auto cseq = m.cseq();
  if (cseq.method == "INVITE") {
    // The challenge is a non-2xx final answer: ACK it (RFC 3261 §17.1.1.3), then remember the retry so
    // that the INVITE's CANCEL and ACKs follow it.
    st.core->transmit(proxy::follow_up_request(m, "ACK", challenge_response.get("To").value_or("")), r, "",
                      clock::now());
    if (st.invite_retries.size() >= max_invite_retries) st.invite_retries.clear();
    st.invite_retries[std::string(m.call_id())] =
      invite_retry{r->branch, retry_branch, cseq.number, clock::now() + std::chrono::seconds(32)};
  }
  set_top_via_and_cseq(m, with_branch(r->original_via, r->branch, retry_branch),
                       std::to_string(cseq.number + 1) + " " + std::string(cseq.method));
  m.add_header(st.request_digest.header(), st.request_digest.next(login(self), m.method(), m.request_uri()));
  r->retried = true;
  r->wire.clear();
  st.core->transmit(m.serialize(), r, retry_branch, clock::now());
  return true;
}

void session_events::response(const proxy::connection_token& token, sip::Message&& m) {
  auto& st = self->state;
  if (token.type() == typeid(relayed_ptr)) {
    const auto& r = std::any_cast<const relayed_ptr&>(token);
    int code = m.status_code();
    if ((code == 401 || code == 407) && answer_challenge(self, r, m)) return;
    if (r->retried) {
      if ((code == 401 || code == 407) && st.refused_logged.allow("", clock::now()))
        note(self, severity::error,
             "SIP proxy refused the credentials of user \"" + st.options.settings.username() + "\" for a " +
               std::string(m.cseq().method) + " (" + std::to_string(code) + " " + std::string(m.reason()) +
               "; logged once a minute)");
      set_top_via_and_cseq(m, r->original_via, r->original_cseq);  // back to what the shard sent
    }
    return caf::anon_send(r->shard, response_atom::value, std::move(m));
  }
  if (token.type() != typeid(std::string) || std::any_cast<const std::string&>(token) != register_token) return;
  bool handled = false;
  auto step = st.registration->on_response(m, clock::now(), handled);
  if (!handled) return;
  if (!st.answered) {
    st.answered = true;
    st.backoff = {};
    st.last_failure.clear();
  }
  send(self, std::move(step));
}

// The shard knows the request by its own branch (a retry's is another).
void session_events::failed(const proxy::connection_token& token, const std::string& /*sent_branch*/, int status,
                            const std::string& reason) {
  if (token.type() == typeid(relayed_ptr)) {
    const auto& r = std::any_cast<const relayed_ptr&>(token);
    if (!r->branch.empty()) caf::anon_send(r->shard, fail_atom::value, r->branch, status, reason);
  }
  // Our own REGISTER: the close that follows starts a new connection.
}

void session_events::established(const std::vector<std::string>&) {
  auto& st = self->state;
  ++st.connects;
  const auto& p = st.options.settings;
  // In a run of failures only the outcome is logged (registered, or the next failure).
  if (st.last_failure.empty())
    note(self, severity::info, "connected to SIP proxy " + st.proxy + " over " + config::transport_name(p.transport()) +
                               (p.transport() == config::TCP ? "" : " (" + st.core->transport_description() + ")"));
  send(self, st.registration->connected(st.incoming, clock::now()));
}

// The core's own lines: errors become the reason of the failure the session reports (once, with the
// back-off); the rest (connection down, ...) would repeat what the session says.
void session_events::log(severity level, const char*, const std::string& text) {
  if (level == severity::error) self->state.setup_error = text;
}

void session_events::setup_failed(const std::string& text) { self->state.setup_error = text; }

proxy_session_actor::behavior_type session_impl(self_ptr self, proxy_session_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  const auto& p = st.options.settings;
  st.proxy = net::endpoint{p.ip(), static_cast<uint16_t>(p.port())}.to_string();
  proxy::registration::options r;
  r.login = login(self);
  r.aor_domain = st.options.aor_domain;
  std::string scheme_transport = p.transport() == config::TCP ? "tcp" : "tls";
  r.registrar_uri = "sip:" + st.proxy + ";transport=" + scheme_transport;
  r.transport = p.transport() == config::TCP ? "TCP" : "TLS";
  st.incoming = net::endpoint{p.incoming().bind_ip(), static_cast<uint16_t>(p.incoming().port())}.to_string();
  r.contact_host = st.incoming;
  r.expires = st.options.expires;
  st.registration = std::make_unique<proxy::registration>(std::move(r));
  note(self, severity::info,
       "SIP proxy mode: logging in at " + st.proxy + " over " + config::transport_name(p.transport()) + " as user \"" +
         p.username() + "\"" + (p.interface().empty() ? "" : " from " + p.interface()));
  self->attach_functor([=](const caf::error&) {
    auto& s = self->state;
    s.stopping = true;
    if (s.conn != 0) s.options.reactor->close(s.conn, false);
  });
  connect(self);
  self->delayed_send(self, std::chrono::seconds(1), peer_tick_atom::value);
  return {
    [=](data_atom, conn_id c, std::string& bytes) {
      auto& s = self->state;
      if (c != s.conn) return;
      s.options.reactor->consumed(c, bytes.size());
      s.core->receive(bytes, clock::now());
    },
    [=](connected_atom, conn_id c) {
      auto& s = self->state;
      if (c == s.conn) s.core->connected(clock::now());
    },
    [=](closed_atom, conn_id c, const std::string& reason) {
      auto& s = self->state;
      if (c != s.conn) return;
      s.conn = 0;
      s.output_congested = false;  // a later connection starts uncongested
      s.core->closed(reason);
      if (s.stopping) return;
      auto why = !s.setup_error.empty() ? s.setup_error : failure_reason(reason);
      retry_later(self, "connection to SIP proxy " + s.proxy + (s.answered ? " lost: " : " failed: ") + why);
    },
    [=](drained_atom, conn_id c) {
      auto& s = self->state;
      if (c != s.conn) return;
      s.output_congested = false;
      s.core->drained(clock::now());
    },
    [=](respond_atom, const std::string& wire) {
      auto& s = self->state;
      if (s.conn != 0) s.core->respond(wire);
    },
    [=](transmit_atom, std::string& wire, const proxy_core_actor& shard, const std::string& branch) {
      auto& s = self->state;
      // Down (or waiting for the back-off): the reason at once, never silence. Connecting: the core queues.
      if (s.conn == 0) {
        if (!branch.empty())
          caf::anon_send(shard, fail_atom::value, branch, 503,
                         "Service Unavailable - SIP proxy " + s.proxy + " not connected: " +
                           (s.registration->last_error().empty() ? std::string("connecting") : s.registration->last_error()));
        return;
      }
      // Requests are kept for one answer to a challenge; CANCEL and ACK (untracked) are never challenged but
      // follow an INVITE that was sent again.
      auto r = std::make_shared<relayed_request>();
      r->shard = shard;
      r->branch = branch;
      if (branch.empty() && !s.invite_retries.empty()) wire = follow_invite_retry(self, std::move(wire));
      if (!branch.empty()) {
        r->wire = wire;
        // The proxy asked for credentials before: send them right away, its nonce with the next count.
        if (s.request_digest.ready()) wire = with_credentials(self, r->wire).value_or(std::move(wire));
      }
      s.core->transmit(std::move(wire), std::move(r), branch, clock::now());
    },
    [=](close_atom, const std::string& reason) {
      auto& s = self->state;
      if (s.conn == 0) return;
      s.setup_error = reason;
      s.options.reactor->close(s.conn, true);
    },
    [=](connect_timeout_atom, uint64_t attempt) {
      auto& s = self->state;
      if (attempt != s.attempt || s.conn == 0 || s.core->established()) return;
      s.setup_error = "no connection within " + std::to_string(s.options.connect_timeout.count()) + " s (timeout)";
      s.options.reactor->close(s.conn, false);
    },
    [=](reconnect_atom, uint64_t attempt) {
      auto& s = self->state;
      if (attempt == s.attempt && s.conn == 0) connect(self);
    },
    [=](peer_tick_atom) {
      auto& s = self->state;
      if (s.stopping) return;
      auto now = clock::now();
      if (s.conn != 0 && s.core->established()) {
        s.core->tick(now);
        send(self, s.registration->tick(now));
      }
      for (auto it = s.invite_retries.begin(); it != s.invite_retries.end();)
        it = it->second.until <= now ? s.invite_retries.erase(it) : std::next(it);
      self->delayed_send(self, std::chrono::seconds(1), peer_tick_atom::value);
    },
    [=](login_atom) {
      auto& s = self->state;
      note(self, severity::info, "SIP proxy login requested again for user \"" + s.options.settings.username() + "\"");
      auto step = s.registration->relogin(clock::now());
      if (s.conn != 0 && s.core->established()) send(self, std::move(step));
    },
    [=](status_atom) {
      auto& s = self->state;
      control::ProxySessionStatus out;
      out.set_state(std::string(proxy::registration::state_name(s.registration->current())));
      out.set_proxy(s.proxy);
      out.set_transport(config::transport_name(s.options.settings.transport()));
      out.set_user(s.options.settings.username());
      out.set_aor(s.registration->aor());
      if (s.registration->current() == proxy::registration::state::registered)
        out.set_expires_in_s(
          std::chrono::duration_cast<std::chrono::seconds>(s.registration->expires_at() - clock::now()).count());
      out.set_last_error(s.registration->last_error());
      out.set_registers_sent(s.registration->registers_sent());
      out.set_connects(s.connects);
      return out;
    },
  };
}

}  // namespace

proxy_session_actor spawn_proxy_session(caf::actor_system& system, proxy_session_options options) {
  return system.spawn(session_impl, std::move(options));
}

}  // namespace fedgw
