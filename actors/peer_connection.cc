#include "actors/peer_connection.h"

#include <chrono>
#include <algorithm>
#include <deque>
#include <unordered_map>

#include "actors/proxy_core.h"
#include "actors/socket_bridge.h"
#include "gateway/proxy/dialer.h"
#include "gateway/proxy/log_throttle.h"
#include "gateway/proxy/rate_limit.h"
#include "gateway/sip/framer.h"
#include "gateway/sip/response.h"
#include "gateway/sip/uri.h"
#include "gateway/tls/tls_stream.h"

namespace fedgw {

namespace {

using clock = std::chrono::steady_clock;

struct queued_request {
  std::string wire;
  proxy_core_actor shard;
  std::string branch;
};

// A request sent on this connection that may still be answered: only its
// responses are accepted here (RFC 3261 §18.1.2 matching, bound to the connection).
struct pending_request {
  proxy_core_actor shard;
  bool invite = false;
  clock::time_point expires{};
};

struct connection_state {
  peer_connection_options options;
  tls::contexts_ptr contexts;  // taken from options.tls at the start
  bool inbound = true;
  conn_id conn = 0;
  std::string address;
  std::string domain;  // outbound: the partner domain
  std::string node;    // outbound to a route-set node ("host:port"): that node, not the domain's DNS targets
  std::vector<std::string> reached_nodes;  // partner nodes registered for this connection (bounded)
  std::unique_ptr<tls::tls_stream> tls;
  std::unique_ptr<sip::StreamFramer> framer;
  bool established = false;  // TCP up and, with TLS, handshake done and peer verified
  std::vector<std::string> identities;
  std::deque<queued_request> queue;
  std::unordered_map<std::string, pending_request> in_flight;  // by branch of our Via
  bool write_failed = false;   // logged and closing: later writes are dropped silently
  bool known_uc_server = false;  // internal: registered as the UC server (it spoke SIP or is authenticated)
  bool got_message = false;         // a complete SIP message arrived (not a keep-alive)
  std::vector<std::string> spoke_as;  // inbound partner: domains registered for reuse
  bool marked_established = false;  // reactor::established() called
  bool incomplete_deadline = false; // reactor::set_deadline() armed for a partial message
  proxy::log_throttle stray_logged{std::chrono::seconds(60), 1};
  int64_t last_activity_ms = 0;
  int64_t since_ms = 0;
  // Outbound target walk.
  proxy::outbound_dialer dialer;  // the DNS target walk
  uint64_t attempt = 0;
  bool closed = false;
};

using self_ptr = connection_actor::stateful_pointer<connection_state>;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string label(self_ptr self) {
  auto& st = self->state;
  std::string who = st.domain.empty() ? std::string(proxy::side_name(st.options.where)) : st.domain;
  if (!st.node.empty()) who += " node " + st.node;
  return who + " " + st.address;
}

void log(self_ptr self, severity level, const std::string& text) {
  report(self->state.options.log, level, "peer", text);
}

// The first write that fails closes the connection, logged once: bytes lost
// from the middle of a TLS record stream cannot be recovered.
void write_failed(self_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.write_failed) return;
  st.write_failed = true;
  log(self, severity::error, label(self) + ": " + why + ", closing the connection");
  st.options.reactor->close(st.conn, false);
}

void write_raw(self_ptr self, std::string_view bytes) {
  auto& st = self->state;
  if (st.conn == 0 || st.write_failed || bytes.empty()) return;
  if (!st.options.reactor->write(st.conn, bytes)) write_failed(self, "output buffer full or connection gone");
}

// Writes bytes to the socket, through TLS when the connection has it.
void write_wire(self_ptr self, std::string_view bytes) {
  auto& st = self->state;
  if (st.conn == 0 || st.write_failed) return;
  if (st.tls) {
    // Plaintext waiting for the handshake is bounded like the reactor's write buffer.
    if (!st.tls->established() && st.tls->held_back_bytes() + bytes.size() > (1u << 20))
      return write_failed(self, "more than 1 MiB waiting for the TLS handshake");
    std::string out;
    auto r = st.tls->send(bytes, out);
    write_raw(self, out);
    if (r.failed) write_failed(self, "TLS: " + r.error);
    return;
  }
  write_raw(self, bytes);
}

void fail_pending(self_ptr self, int status, const std::string& reason) {
  auto& st = self->state;
  for (auto& q : st.queue) caf::anon_send(q.shard, fail_atom::value, q.branch, status, reason);
  st.queue.clear();
  for (auto& [branch, p] : st.in_flight) caf::anon_send(p.shard, fail_atom::value, branch, status, reason);
  st.in_flight.clear();
}

// How long a request's responses are accepted: timer B/F, for INVITE timer C
// and the RFC 6026 accepted state (2xx retransmissions) on top.
clock::duration answer_window(const peer_connection_options& o, bool invite) {
  return invite ? o.timers.final_response + o.timers.timer_c + o.timers.linger
                : o.timers.final_response + std::chrono::seconds(1);
}

void send_request(self_ptr self, std::string& wire, const proxy_core_actor& shard, const std::string& branch) {
  auto& st = self->state;
  // Untracked requests (ACK, the gateway's CANCEL: empty branch) get no response of their own.
  if (!branch.empty()) {
    bool invite = wire.compare(0, 7, "INVITE ") == 0;
    st.in_flight[branch] = pending_request{shard, invite, clock::now() + answer_window(st.options, invite)};
  }
  st.last_activity_ms = now_ms();
  write_wire(self, wire);
}

// An internal connection becomes a destination for requests to the gateway's
// domains only once it is known to be the UC server.
void register_uc_server(self_ptr self) {
  auto& st = self->state;
  if (st.known_uc_server || st.options.where != proxy::side::internal) return;
  st.known_uc_server = true;
  caf::anon_send(st.options.registry, uc_server_atom::value, caf::actor_cast<connection_actor>(self), st.address);
  log(self, severity::info, "UC server connection from " + st.address + " is in use");
}

peer_info info(self_ptr self) {
  auto& st = self->state;
  peer_info i;
  i.domain = st.domain;
  i.address = st.address;
  i.direction = st.inbound ? "inbound" : "outbound";
  i.tls = st.tls ? st.tls->description() : "TCP";
  i.state = st.established ? "up" : "connecting";
  i.since_ms = st.since_ms;
  return i;
}

// An inbound partner connection serves `domain` (for requests to it, RFC 5923)
// once a request From that domain arrived on it and the domain is one of its
// certificate identities (the anti-spoofing rule); registered once.
void serves_domain(self_ptr self, const std::string& domain) {
  auto& st = self->state;
  if (!st.inbound || st.options.where != proxy::side::external || domain.empty()) return;
  if (std::find(st.identities.begin(), st.identities.end(), domain) == st.identities.end()) return;
  if (std::find(st.spoke_as.begin(), st.spoke_as.end(), domain) != st.spoke_as.end()) return;
  st.spoke_as.push_back(domain);
  auto i = info(self);
  caf::anon_send(st.options.registry, up_atom::value, std::vector<std::string>{domain},
                 caf::actor_cast<connection_actor>(self), std::move(i));
}

// A partner connection reaches a node of the partner (RFC 5923 reuse for
// in-dialog requests that the route set sends there): registered for a domain
// the partner authenticated as, a few nodes per connection at most.
void reaches_node(self_ptr self, const std::string& domain, const std::string& node) {
  auto& st = self->state;
  constexpr size_t max_nodes_per_connection = 8;
  if (st.options.where != proxy::side::external || domain.empty() || node.empty()) return;
  if (std::find(st.identities.begin(), st.identities.end(), domain) == st.identities.end()) return;
  if (std::find(st.reached_nodes.begin(), st.reached_nodes.end(), node) != st.reached_nodes.end()) return;
  if (st.reached_nodes.size() >= max_nodes_per_connection) return;
  st.reached_nodes.push_back(node);
  caf::anon_send(st.options.registry, node_atom::value, domain, node, caf::actor_cast<connection_actor>(self));
}

void became_established(self_ptr self) {
  auto& st = self->state;
  st.established = true;
  st.since_ms = now_ms();
  if (st.options.where == proxy::side::internal) {
    log(self, severity::info, "internal connection up from " + st.address);
    if (st.options.uc_server_authenticated) register_uc_server(self);
  } else {
    std::string names;
    for (const auto& n : st.identities) names += (names.empty() ? "" : ", ") + n;
    log(self, severity::info,
        std::string(st.inbound ? "inbound" : "outbound") + " connection up: " + (st.domain.empty() ? names : st.domain) +
          " at " + st.address + (st.node.empty() ? std::string() : " (route-set node " + st.node + ")") + " (" +
          (st.tls ? st.tls->description() : std::string("TCP")) +
          (st.inbound ? ", certificate names " + names : std::string()) + ")");
    // RFC 5923 reuse, but a certificate name is no DNS override: an outbound
    // connection serves the domain whose DNS records led to it; an inbound one
    // a domain only once the partner spoke as it (see serves_domain()). An
    // outbound connection also reaches the node it went to, by name and address.
    if (!st.inbound) {
      if (st.node.empty())
        caf::anon_send(st.options.registry, up_atom::value, std::vector<std::string>{st.domain},
                       caf::actor_cast<connection_actor>(self), info(self));
      else
        reaches_node(self, st.domain, st.node);
      if (const auto& at = st.dialer.current()) {
        if (!net::is_ip(at->host))
          reaches_node(self, st.domain, proxy::lower(at->host) + ":" + std::to_string(at->where.port));
        reaches_node(self, st.domain, proxy::lower(at->where.to_string()));
      }
    }
  }
  while (!st.queue.empty()) {
    auto q = std::move(st.queue.front());
    st.queue.pop_front();
    send_request(self, q.wire, q.shard, q.branch);
  }
}

// Framing: stream transport (Content-Length mandatory). A top Via without a
// branch is accepted (RFC 2543 elements, RFC 4475 §3.1.1.7): the gateway adds
// its own branch, only CANCEL matching needs the origin's.

struct framer_events : sip::StreamFramer::Callbacks {
  self_ptr self;
  explicit framer_events(self_ptr s) : self(s) {}

  void on_message(sip::Message&& m) override {
    auto& st = self->state;
    st.last_activity_ms = now_ms();
    st.got_message = true;
    register_uc_server(self);  // an internal peer that speaks SIP is the UC server
    if (m.is_request() && st.options.where == proxy::side::external && rate_limited(m)) return;
    if (m.is_request()) {
      auto from_domain = proxy::uri_domain(m.from().uri_text);
      serves_domain(self, from_domain);
      if (st.options.where == proxy::side::external)
        for (const auto& node : proxy::sending_nodes(m)) reaches_node(self, from_domain, node);
      sip_origin origin{caf::actor_cast<response_sink>(self), st.options.where, st.identities, st.address};
      auto shard = shard_for_call(m.call_id(), st.options.shards.size());
      caf::anon_send(st.options.shards[shard], request_atom::value, std::move(origin), std::move(m));
      return;
    }
    // A response is accepted only for a request sent on this very connection.
    auto branch = m.top_via().branch();
    auto pending = branch ? st.in_flight.find(std::string(*branch)) : st.in_flight.end();
    if (pending == st.in_flight.end()) {
      if (st.options.stray_responses) st.options.stray_responses->fetch_add(1, std::memory_order_relaxed);
      if (st.stray_logged.allow("", clock::now()))
        log(self, severity::warning, label(self) + ": response " + std::to_string(m.status_code()) +
                                       " matches no request sent on this connection, dropped (logged once a minute)");
      return;
    }
    auto shard = pending->second.shard;
    int code = m.status_code();
    if (pending->second.invite) {
      // INVITE: 2xx may repeat or fork (RFC 6026); keep matching until the window ends.
      if (code >= 300) st.in_flight.erase(pending);
      else if (code >= 200) pending->second.expires = clock::now() + st.options.timers.linger;
      else pending->second.expires = clock::now() + answer_window(st.options, true);
    } else if (code >= 200) {
      st.in_flight.erase(pending);
    }
    caf::anon_send(shard, response_atom::value, std::move(m));
  }
  // Discovered partners get `discovered_rate_limit` requests/s; beyond, 503 with Retry-After.
  bool rate_limited(const sip::Message& m) {
    auto& st = self->state;
    auto method = m.method();
    if (method == "ACK" || method == "CANCEL") return false;  // never refused: they end transactions
    auto policy = st.options.policy ? st.options.policy->get() : st.options.settings;
    const auto& settings = *policy;
    // Keyed by who the partner is (its certificate), not by the From domain it chooses.
    const std::string& partner = st.identities.empty() ? st.address : st.identities.front();
    for (const auto& id : st.identities)
      if (settings.allow_listed(id)) return false;
    if (!st.options.inbound_limits) return false;
    if (st.options.inbound_limits->take(partner, settings.discovered_rate_limit, clock::now())) return false;
    if (st.options.inbound_limits->should_log(partner, clock::now()))
      report(st.options.log, severity::warning, "policy",
             partner + ": more than " + std::to_string(settings.discovered_rate_limit) +
               " requests/s from a discovered partner; answering 503 (logged once a minute)");
    auto response = sip::make_response(m, 503, "Service Unavailable - rate limit for " + partner, {}, st.options.limits);
    if (response) {
      response->add_header("Retry-After", "1");
      write_wire(self, response->serialize());
    }
    return true;
  }

  void on_message_error(const sip::Error& error, std::string_view raw) override {
    if (raw.substr(0, 4) == "SIP/") {
      log(self, severity::warning, label(self) + ": malformed response dropped: " + error.message);
      return;
    }
    log(self, severity::warning, label(self) + ": malformed request answered " + std::to_string(error.status) + ": " +
                                   error.message);
    if (auto response = sip::make_response_to_malformed(raw, error)) write_wire(self, *response);
  }
  void on_ping() override { write_wire(self, sip::StreamFramer::kPong); }
  void on_stream_error(const sip::Error& error) override {
    log(self, severity::error, label(self) + ": " + error.message + "; closing the connection");
    auto& st = self->state;
    // A request whose head was read (e.g. a body over the limit) still gets its
    // final response (413, 400) before the connection closes.
    auto head = st.framer->failed_head();
    if (!head.empty() && head.substr(0, 4) != "SIP/" && error.status > 0) {
      if (auto response = sip::make_response_to_malformed(head, error)) write_wire(self, *response);
    }
    st.options.reactor->close(st.conn);
  }
};

// Inbound connections live on deadlines (reactor): the first complete SIP
// message ends the establishment deadline; after that, a partial message held
// in the framer must be completed within establish_timeout.
void update_deadline(self_ptr self) {
  auto& st = self->state;
  if (!st.inbound || st.conn == 0 || !st.got_message) return;
  bool partial = st.framer->buffered_bytes() > 0;
  if (!st.marked_established || (!partial && st.incomplete_deadline)) {
    st.options.reactor->established(st.conn);
    st.marked_established = true;
    st.incomplete_deadline = false;
  }
  if (partial && !st.incomplete_deadline) {
    st.options.reactor->set_deadline(st.conn, net::reactor::clock::now() + st.options.establish_timeout,
                                     "incomplete SIP message for " +
                                       std::to_string(st.options.establish_timeout.count()) + " s");
    st.incomplete_deadline = true;
  }
}

void on_plaintext(self_ptr self, std::string_view bytes) {
  auto& st = self->state;
  framer_events events(self);
  if (!st.framer->feed(bytes, events)) return st.options.reactor->close(st.conn);
  update_deadline(self);
}

void handshake_done(self_ptr self) {
  auto& st = self->state;
  SSL* ssl = st.tls->session();
  X509* peer = SSL_get0_peer_certificate(ssl);
  st.identities.clear();
  if (peer)
    for (const auto& n : tls::certificate_identities(peer))
      // Wildcard names never identify a partner domain (nor become partner entries).
      if (n.ignored.empty() && !n.host.empty() && n.host.find('*') == std::string::npos &&
          std::find(st.identities.begin(), st.identities.end(), n.host) == st.identities.end())
        st.identities.push_back(n.host);
  if (st.inbound && st.options.where == proxy::side::internal) {
    // The UC server: the internal listener's own CA bundle and pinned names (internal_listener.peer_names).
    auto id = st.contexts->check_internal_peer(ssl);
    if (!id.ok) {
      log(self, severity::error, "internal TLS connection from " + st.address + " refused: " + id.reason);
      st.options.reactor->close(st.conn);
      return;
    }
  }
  if (!st.inbound) {
    auto id = st.contexts->check_peer(ssl, st.domain);
    if (!id.ok) {
      auto text = "TLS: " + st.domain + " at " + st.address + ": " + id.reason;
      log(self, severity::error, text);
      st.dialer.failed(text);
      st.options.reactor->close(st.conn);
      return;
    }
  }
  became_established(self);
}

void try_next_target(self_ptr self);

// Keep-alive and idle checks run at the finer of the two periods.
std::chrono::seconds tick_interval(const peer_connection_options& o) {
  return std::max(std::chrono::seconds(1), std::min(o.keepalive, o.idle_timeout));
}

void give_up(self_ptr self) {
  auto& st = self->state;
  auto text = st.dialer.give_up_text();
  log(self, severity::error, text);
  fail_pending(self, 503, "Service Unavailable - " + text);
  caf::anon_send(st.options.registry, failed_atom::value, st.domain, st.node, text, 503);
  st.closed = true;
  self->quit();
}

void try_next_target(self_ptr self) {
  auto& st = self->state;
  auto next = st.dialer.next();
  if (!next) return give_up(self);
  const auto& where = next->where;
  st.address = where.to_string();
  std::string error;
  // Leave from the open-federation interface, so partners see the address our records name.
  const auto& local = st.options.settings->external.host;
  bool bind_local = net::is_ip(local) && local != "0.0.0.0" && local != "::" &&
                    net::is_ipv6(local) == net::is_ipv6(where.ip);
  auto conn = st.options.reactor->connect_tcp(where, bind_local ? local : std::string(),
                                              std::make_shared<socket_bridge<connection_actor>>(caf::actor_cast<connection_actor>(self)), error);
  if (conn == 0) {
    st.dialer.failed(error);
    return try_next_target(self);
  }
  st.conn = conn;
  ++st.attempt;
  st.framer = std::make_unique<sip::StreamFramer>(sip::ParseOptions{st.options.limits, true, false});
  st.tls.reset();
  if (next->proto == dns::transport::tls) {
    if (!st.contexts) {
      st.dialer.failed("no certificate in use: TLS connections are not possible");
      st.options.reactor->close(conn, false);
      return;
    }
    // SNI names the partner domain, the name the certificate is checked against (RFC 5922), so a
    // partner edge hosting several domains presents the right certificate.
    st.tls = std::make_unique<tls::tls_stream>(st.contexts->new_client_session(st.domain));
  }
  self->delayed_send(self, st.options.connect_timeout, connect_timeout_atom::value, st.attempt);
}

// The targets found: walk them; none: every queued request gets the final response.
void targets_found(self_ptr self, dns::resolution& r) {
  auto& s = self->state;
  if (!r.ok()) {
    // A route-set node without records is unreachable (503), not a domain without federation records (404).
    auto status = s.node.empty() ? r.sip_status() : 503;
    auto text = r.error.empty() ? std::string("DNS: ") + s.domain + ": no usable record" : r.error;
    log(self, severity::error, text);
    fail_pending(self, status,
                 std::string(status == 404 ? "Not Found - no federation DNS record: " : "Service Unavailable - ") + text);
    caf::anon_send(s.options.registry, failed_atom::value, s.domain, s.node, text, status);
    s.closed = true;
    self->quit();
    return;
  }
  s.dialer = proxy::outbound_dialer(std::move(r));
  try_next_target(self);
}

// Where to connect: the partner domain's DNS targets (RFC 3263: SRV, then
// A/AAAA); for a route-set node "host:port" the host's addresses on that
// port, for a node without a port the host's own SRV records.
void resolve_targets(self_ptr self) {
  auto& st = self->state;
  auto on_error = [=](const caf::error& e) {
    fail_pending(self, 503, "Service Unavailable - DNS resolver: " + self->system().render(e));
    self->quit();
  };
  std::string name = st.domain;
  uint16_t port = 0;
  if (!st.node.empty()) {
    auto text = "sip:" + st.node;  // the parsed URI views into it
    auto uri = sip::parse_uri(text);
    if (!uri || uri->host.empty()) {
      dns::resolution r;
      r.error = "route-set node " + st.node + " is no host[:port]";
      return targets_found(self, r);
    }
    name = std::string(uri->host_unbracketed());
    port = uri->port;
  }
  if (port == 0) {
    self->request(st.options.dns, std::chrono::seconds(60), resolve_atom::value, name)
      .then([=](dns::resolution& r) { targets_found(self, r); }, on_error);
    return;
  }
  self->request(st.options.dns, std::chrono::seconds(60), host_atom::value, name)
    .then(
      [=](dns::host_lookup& l) {
        auto r = proxy::node_resolution(self->state.node, port, l);
        targets_found(self, r);
      },
      on_error);
}

connection_actor::behavior_type connection_impl(self_ptr self, peer_connection_options options, bool inbound, conn_id conn,
                              std::string address, std::string domain, std::string node) {
  auto& st = self->state;
  st.node = std::move(node);
  st.options = std::move(options);
  st.inbound = inbound;
  st.conn = conn;
  st.address = std::move(address);
  st.domain = std::move(domain);
  st.last_activity_ms = now_ms();
  st.since_ms = now_ms();
  if (st.options.tls) st.contexts = st.options.tls->get();
  // The registry lives as long as the data path: when it stops (shutdown), so do we.
  self->monitor(st.options.registry);
  self->set_down_handler([=](const caf::down_msg& down) {
    auto& s = self->state;
    if (down.source != s.options.registry.address()) return;
    if (s.conn != 0) s.options.reactor->close(s.conn, false);
    fail_pending(self, 503, "Service Unavailable - the gateway is shutting down");
    s.closed = true;
    self->quit();
  });
  if (inbound) {
    st.framer = std::make_unique<sip::StreamFramer>(sip::ParseOptions{st.options.limits, true, false});
    if (st.options.tls && !st.contexts) {
      log(self, severity::error, "TLS connection from " + st.address + " refused: no certificate in use");
      st.options.reactor->close(conn, false);
    } else if (st.contexts) {
      st.tls = std::make_unique<tls::tls_stream>(
        st.options.where == proxy::side::internal ? st.contexts->new_internal_server_session(st.options.client_certs)
                                                   : st.contexts->new_server_session(st.options.client_certs));
    } else {
      became_established(self);
    }
  } else {
    resolve_targets(self);
  }
  self->delayed_send(self, tick_interval(st.options), peer_tick_atom::value);
  return {
    [=](data_atom, conn_id c, std::string& bytes) {
      auto& s = self->state;
      if (c != s.conn) return;
      s.options.reactor->consumed(c, bytes.size());
      if (!s.tls) return on_plaintext(self, bytes);
      std::string plain, out;
      auto r = s.tls->receive(bytes, plain, out);
      write_raw(self, out);
      if (r.failed) {
        auto text = "TLS handshake with " + (s.domain.empty() ? std::string("peer") : s.domain) + " at " + s.address +
                    " failed: " + r.error;
        log(self, severity::error, text);
        s.dialer.failed(text);
        s.options.reactor->close(c);
        return;
      }
      if (r.handshake_completed) handshake_done(self);
      if (!plain.empty() && s.established) on_plaintext(self, plain);
      // close_notify: the peer ends the session; requests in flight get 503 when the socket closes.
      if (r.peer_closed && s.conn != 0) s.options.reactor->close(s.conn);
    },
    [=](connected_atom, conn_id c) {
      auto& s = self->state;
      if (c != s.conn) return;
      if (!s.tls) return became_established(self);
      std::string out;
      s.tls->start(out);
      write_raw(self, out);
    },
    [=](closed_atom, conn_id c, const std::string& reason) {
      auto& s = self->state;
      if (c != s.conn) return;
      s.conn = 0;
      if (!s.inbound && !s.established) {
        // Connect or handshake failed: the next address, then the next target.
        s.dialer.failed(s.address + ": " + reason);
        if (const auto& tried = s.dialer.current())
          caf::anon_send(s.options.dns, unreach_atom::value, tried->where.ip, tried->where.port);
        return try_next_target(self);
      }
      if (s.established && s.options.where == proxy::side::external && !s.write_failed)  // logged once already
        log(self, severity::info, "connection down: " + label(self) + " (" + reason + ")");
      fail_pending(self, 503, "Service Unavailable - connection to " + label(self) + " lost (" + reason + ")");
      caf::anon_send(s.options.registry, down_atom::value, caf::actor_cast<connection_actor>(self), reason);
      s.closed = true;
      self->quit();
    },
    [=](respond_atom, const std::string& wire) { write_wire(self, wire); },
    [=](transmit_atom, std::string& wire, const proxy_core_actor& shard, const std::string& branch) {
      auto& s = self->state;
      if (s.established) return send_request(self, wire, shard, branch);
      // CANCEL and ACK (untracked, empty branch) are never refused by the queue limit.
      if (!branch.empty() && s.queue.size() >= s.options.max_queued)
        return caf::anon_send(shard, fail_atom::value, branch, 503,
                              std::string("Service Unavailable - too many requests queued for ") + s.domain);
      s.queue.push_back({std::move(wire), shard, branch});
    },
    [=](connect_timeout_atom, uint64_t attempt) {
      auto& s = self->state;
      if (attempt != s.attempt || s.established || s.conn == 0) return;
      s.dialer.failed(s.address + ": no connection/handshake within " +
                                 std::to_string(s.options.connect_timeout.count()) + " s");
      s.options.reactor->close(s.conn, false);
    },
    [=](peer_tick_atom) {
      auto& s = self->state;
      if (s.closed) return;
      auto now = clock::now();
      for (auto it = s.in_flight.begin(); it != s.in_flight.end();)
        it = it->second.expires <= now ? s.in_flight.erase(it) : std::next(it);
      auto idle = now_ms() - s.last_activity_ms;
      if (s.established && s.options.where == proxy::side::external && s.in_flight.empty() &&
          idle >= std::chrono::duration_cast<std::chrono::milliseconds>(s.options.idle_timeout).count()) {
        log(self, severity::info, label(self) + ": idle for " + std::to_string(idle / 1000) + " s, closing");
        if (s.tls) {
          std::string out;
          s.tls->shutdown(out);
          write_raw(self, out);
        }
        s.options.reactor->close(s.conn);
      } else if (s.established && idle >= std::chrono::duration_cast<std::chrono::milliseconds>(s.options.keepalive).count()) {
        write_wire(self, sip::StreamFramer::kPing);  // RFC 5626 keep-alive
      }
      self->delayed_send(self, tick_interval(s.options), peer_tick_atom::value);
    },
  };
}

}  // namespace

connection_actor spawn_inbound_connection(caf::actor_system& system, peer_connection_options options, conn_id conn,
                                    std::string peer_address) {
  return system.spawn(connection_impl, std::move(options), true, conn, std::move(peer_address), std::string(),
                      std::string());
}

connection_actor spawn_outbound_connection(caf::actor_system& system, peer_connection_options options, std::string domain,
                                           std::string node) {
  return system.spawn(connection_impl, std::move(options), false, conn_id{0}, std::string(), std::move(domain),
                      std::move(node));
}

net::reactor::accept_fn accept_connections(caf::actor_system& system, peer_connection_options options) {
  struct refusals {
    std::mutex mutex;
    proxy::log_throttle logged;
  };
  auto refused = std::make_shared<refusals>();
  return [&system, options, refused](conn_id conn, const std::string& peer) -> std::shared_ptr<net::reactor::handler> {
    if (!options.allowed_peers.empty()) {
      auto at = net::parse_endpoint(peer);
      bool allowed = at && std::any_of(options.allowed_peers.begin(), options.allowed_peers.end(),
                                       [&](const net::prefix& p) { return p.contains(at->ip); });
      if (!allowed) {
        std::lock_guard<std::mutex> lock(refused->mutex);
        if (refused->logged.allow(at ? at->ip : peer, std::chrono::steady_clock::now()))
          report(options.log, severity::warning, "peer",
                 "internal connection from " + peer + " refused: not in internal_listener.allowed_peers "
                 "(logged once a minute per address)");
        return nullptr;
      }
    }
    auto actor = spawn_inbound_connection(system, options, conn, peer);
    return std::make_shared<socket_bridge<connection_actor>>(actor);
  };
}

}  // namespace fedgw
