#include "actors/peer_connection.h"

#include <algorithm>
#include <chrono>

#include "actors/proxy_core.h"
#include "actors/socket_bridge.h"
#include "gateway/io_scheduling.h"
#include "gateway/proxy/connection.h"
#include "gateway/proxy/dialer.h"
#include "gateway/proxy/log_throttle.h"
#include "gateway/sip/uri.h"
#include "gateway/tls/certificate.h"

namespace fedgw {

namespace {

using clock = std::chrono::steady_clock;

// The first requests of one read are proxied on the worker that read them; the rest of a burst goes to the
// other workers (io_stealing::spread_scope). Measured with bench/run's scaling and side_by_side (README).
constexpr size_t local_requests_per_read = 2;

struct connection_state;
using self_ptr = connection_actor::stateful_pointer<connection_state>;

// The core's callbacks as CAF sends and reactor calls (defined below).
struct core_events final : proxy::connection_events {
  self_ptr self;
  explicit core_events(self_ptr s) : self(s) {}
  bool write(std::string_view bytes) override;
  void close(bool flush) override;
  void request(sip::Message&& m) override;
  void response(const proxy::connection_token& shard, sip::Message&& m) override;
  void failed(const proxy::connection_token& shard, const std::string& branch, int status,
              const std::string& reason) override;
  void established(const std::vector<std::string>& identities) override;
  void log(severity level, const char* component, const std::string& text) override;
  void setup_failed(const std::string& text) override;
  void spoke_sip() override;
  void message_complete() override;
  void set_deadline(clock::time_point when, const std::string& reason) override;
  std::shared_ptr<const proxy::settings> policy() override;
  bool congested() override;
  void answered(int status, std::string_view phrase) override;
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
  size_t requests_in_read = 0;  // requests parsed from the bytes of the current read
  bool output_congested = false;  // as the last write found the socket's output; cleared by drained_atom
  bool sender_checked = false;  // the nodes of a partner request were looked at (its Via is the same on every one)
  // The protocol (TLS, framing, in-flight table, queue, keep-alive): gateway/proxy/connection.h.
  std::unique_ptr<core_events> events;
  std::unique_ptr<proxy::sip_connection> core;
  bool known_uc_server = false;  // internal: registered as the UC server (it spoke SIP or is authenticated)
  std::vector<std::string> spoke_as;  // inbound partner: domains registered for reuse
  int64_t since_ms = 0;
  // Outbound target walk.
  proxy::outbound_dialer dialer;  // the DNS target walk
  uint64_t attempt = 0;
  bool closed = false;
  // Metrics: this attempt's TLS handshake began (TCP up) / its result was counted.
  bool handshake_started = false;
  bool handshake_counted = false;
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
    .count();
}

void log(self_ptr self, severity level, const std::string& text) {
  report(self->state.options.log, level, "peer", text);
}

// Connection events for the metrics (shared relaxed counters: once per connection or error, never per message).
template <class F>
void count(self_ptr self, F f) {
  auto& st = self->state;
  if (st.options.connection_counters)
    f(*st.options.connection_counters, static_cast<metrics::side>(st.options.where),
      st.inbound ? metrics::conn_direction::inbound : metrics::conn_direction::outbound);
}

// The result of this attempt's TLS handshake, once.
void count_handshake(self_ptr self, metrics::handshake_result result) {
  auto& st = self->state;
  if (!st.handshake_started || st.handshake_counted) return;
  st.handshake_counted = true;
  count(self, [&](auto& c, auto side, auto direction) { c.count_handshake(side, direction, result); });
}

// The TCP connection is up: with TLS, the handshake begins.
void tcp_up(self_ptr self) {
  auto& st = self->state;
  st.handshake_started = st.core->transport_description() != "TCP";
  st.handshake_counted = false;
}

proxy::connection_options core_options(const connection_state& st) {
  proxy::connection_options o;
  o.where = st.options.where;
  o.inbound = st.inbound;
  o.domain = st.domain;
  o.settings = st.options.settings;
  o.contexts = st.contexts;
  o.limits = st.options.limits;
  o.max_queued = st.options.max_queued;
  o.idle_timeout = st.options.idle_timeout;
  o.keepalive = st.options.keepalive;
  o.establish_timeout = st.options.establish_timeout;
  o.timers = st.options.timers;
  o.inbound_limits = st.options.inbound_limits;
  o.stray_responses = st.options.stray_responses;
  return o;
}

void fail_pending(self_ptr self, int status, const std::string& reason) {
  self->state.core->fail_pending(status, reason);
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
  i.tls = st.core->transport_description();
  i.state = st.core->established() ? "up" : "connecting";
  i.since_ms = st.since_ms;
  if (auto cert = st.core->peer_certificate()) {
    auto d = tls::describe_certificate(cert.get());
    i.certificate_subject = std::move(d.subject);
    i.certificate_issuer = std::move(d.issuer);
    i.certificate_not_after = d.not_after;
    i.certificate_fingerprint = std::move(d.fingerprint);
  }
  return i;
}

// An inbound partner connection serves `domain` (for requests to it, RFC 5923)
// once a request From that domain arrived on it and the domain is one of its
// certificate identities (the anti-spoofing rule); registered once.
void serves_domain(self_ptr self, const std::string& domain) {
  auto& st = self->state;
  if (!st.inbound || st.options.where != proxy::side::external || domain.empty()) return;
  const auto& identities = st.core->identities();
  if (std::find(identities.begin(), identities.end(), domain) == identities.end()) return;
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
  const auto& identities = st.core->identities();
  if (std::find(identities.begin(), identities.end(), domain) == identities.end()) return;
  if (std::find(st.reached_nodes.begin(), st.reached_nodes.end(), node) != st.reached_nodes.end()) return;
  if (st.reached_nodes.size() >= max_nodes_per_connection) return;
  st.reached_nodes.push_back(node);
  caf::anon_send(st.options.registry, node_atom::value, domain, node, caf::actor_cast<connection_actor>(self));
}

void became_established(self_ptr self) {
  auto& st = self->state;
  st.since_ms = now_ms();
  count_handshake(self, metrics::handshake_result::ok);
  count(self, [](auto& c, auto side, auto direction) { c.count_opened(side, direction); });
  if (st.options.where == proxy::side::internal) {
    log(self, severity::info, "internal connection up from " + st.address);
    if (st.options.uc_server_authenticated) register_uc_server(self);
  } else if (st.options.from_sip_proxy) {
    log(self, severity::info,
        "connection from the SIP proxy up on sip_proxy.incoming: " + st.address + " (" + st.core->transport_description() + ")");
  } else {
    std::string names;
    for (const auto& n : st.core->identities()) names += (names.empty() ? "" : ", ") + n;
    log(self, severity::info,
        std::string(st.inbound ? "inbound" : "outbound") + " connection up: " + (st.domain.empty() ? names : st.domain) +
          " at " + st.address + (st.node.empty() ? std::string() : " (route-set node " + st.node + ")") + " (" +
          st.core->transport_description() + (st.inbound ? ", certificate names " + names : std::string()) + ")");
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
}

bool core_events::write(std::string_view bytes) {
  auto& st = self->state;
  return st.conn != 0 && st.options.reactor->write(st.conn, bytes, &st.output_congested);
}

void core_events::close(bool flush) {
  auto& st = self->state;
  if (st.conn != 0) st.options.reactor->close(st.conn, flush);
}

void core_events::request(sip::Message&& m) {
  auto& st = self->state;
  auto from_domain = proxy::uri_domain(m.from().uri_text);
  serves_domain(self, from_domain);
  // The sending nodes, off the per-request path: the top Via (alias) names the same peer on every
  // request of a connection, so once; a Record-Route comes with dialog-creating requests.
  if (st.options.where == proxy::side::external && (!st.sender_checked || m.has(sip::HeaderId::kRecordRoute))) {
    const auto& identities = st.core->identities();
    if (std::find(identities.begin(), identities.end(), from_domain) != identities.end()) {
      st.sender_checked = true;
      for (const auto& node : proxy::sending_nodes(m)) reaches_node(self, from_domain, node);
    }
  }
  sip_origin origin{caf::actor_cast<response_sink>(self), st.options.where,
                    st.options.from_sip_proxy ? std::vector<std::string>{std::string(proxy::trusted_proxy_identity)}
                                              : st.core->identities(),
                    st.address};
  auto shard = shard_for_call(m.call_id(), st.options.shards.size());
  // Past the first requests of one read, the connection delivers a burst: its proxying runs on the other
  // workers, so that one busy connection (a UC server's) does not keep all its work on the thread reading it.
  io_stealing::spread_scope spread(++st.requests_in_read > local_requests_per_read);
  caf::anon_send(st.options.shards[shard], request_atom::value, std::move(origin), std::move(m));
}

void core_events::response(const proxy::connection_token& shard, sip::Message&& m) {
  caf::anon_send(std::any_cast<const proxy_core_actor&>(shard), response_atom::value, std::move(m));
}

void core_events::failed(const proxy::connection_token& shard, const std::string& branch, int status,
                         const std::string& reason) {
  caf::anon_send(std::any_cast<const proxy_core_actor&>(shard), fail_atom::value, branch, status, reason);
}

void core_events::established(const std::vector<std::string>&) { became_established(self); }

bool core_events::congested() { return self->state.output_congested; }

void core_events::log(severity level, const char* component, const std::string& text) {
  report(self->state.options.log, level, component, text);
}

void core_events::setup_failed(const std::string& text) {
  count_handshake(self, metrics::handshake_failure_of(text));
  self->state.dialer.failed(text);
}

void core_events::answered(int status, std::string_view phrase) {
  auto r = metrics::reason_of(status, phrase);
  count(self, [&](auto& c, auto, auto) { c.count_local(status, r); });
}

void core_events::spoke_sip() { register_uc_server(self); }  // an internal peer that speaks SIP is the UC server

void core_events::message_complete() {
  auto& st = self->state;
  if (st.conn != 0) st.options.reactor->established(st.conn);
}

void core_events::set_deadline(clock::time_point when, const std::string& reason) {
  auto& st = self->state;
  if (st.conn != 0) st.options.reactor->set_deadline(st.conn, when, reason);
}

std::shared_ptr<const proxy::settings> core_events::policy() {
  auto& st = self->state;
  return st.options.policy ? st.options.policy->get() : nullptr;
}

void try_next_target(self_ptr self);

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
                                              std::make_shared<flow_socket_bridge<connection_actor>>(caf::actor_cast<connection_actor>(self)), error);
  if (conn == 0) {
    st.dialer.failed(error);
    return try_next_target(self);
  }
  st.conn = conn;
  ++st.attempt;
  st.handshake_started = false;
  std::unique_ptr<tls::tls_stream> tls;
  if (next->proto == dns::transport::tls) {
    if (!st.contexts) {
      st.dialer.failed("no certificate in use: TLS connections are not possible");
      st.options.reactor->close(conn, false);
      return;
    }
    // SNI names the partner domain, the name the certificate is checked against (RFC 5922), so a
    // partner edge hosting several domains presents the right certificate.
    tls = std::make_unique<tls::tls_stream>(st.contexts->new_client_session(st.domain));
  }
  st.core->attach(st.address, std::move(tls), clock::now());
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
  st.since_ms = now_ms();
  if (st.options.tls) st.contexts = st.options.tls->get();
  st.events = std::make_unique<core_events>(self);
  st.core = std::make_unique<proxy::sip_connection>(core_options(st), *st.events, clock::now());
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
    if (st.options.tls && !st.contexts) {
      log(self, severity::error, "TLS connection from " + st.address + " refused: no certificate in use");
      st.options.reactor->close(conn, false);
    } else {
      std::unique_ptr<tls::tls_stream> tls;
      if (st.contexts)
        tls = std::make_unique<tls::tls_stream>(
          st.options.where == proxy::side::internal ? st.contexts->new_internal_server_session(st.options.client_certs)
                                                     : st.contexts->new_server_session(st.options.client_certs));
      st.core->attach(st.address, std::move(tls), clock::now());
      tcp_up(self);
      st.core->connected(clock::now());  // accepted: plain TCP is up, TLS waits for the ClientHello
    }
  } else {
    resolve_targets(self);
  }
  self->delayed_send(self, st.core->tick_interval(), peer_tick_atom::value);
  return {
    [=](data_atom, conn_id c, std::string& bytes) {
      auto& s = self->state;
      if (c != s.conn) return;
      s.options.reactor->consumed(c, bytes.size());
      s.requests_in_read = 0;
      s.core->receive(bytes, clock::now());
    },
    [=](connected_atom, conn_id c) {
      auto& s = self->state;
      if (c != s.conn) return;
      tcp_up(self);
      s.core->connected(clock::now());
    },
    [=](closed_atom, conn_id c, const std::string& reason) {
      auto& s = self->state;
      if (c != s.conn) return;
      s.conn = 0;
      s.output_congested = false;  // a later connection starts uncongested
      if (s.core->established())
        count(self, [&](auto& m, auto side, auto direction) {
          m.count_closed(side, direction, metrics::close_reason_of(reason));
        });
      else
        count_handshake(self, metrics::handshake_failure_of(reason));
      if (!s.inbound && !s.core->established()) {
        // Connect or handshake failed: the next address, then the next target.
        s.core->detach();
        s.dialer.failed(s.address + ": " + reason);
        if (const auto& tried = s.dialer.current())
          caf::anon_send(s.options.dns, unreach_atom::value, tried->where.ip, tried->where.port);
        return try_next_target(self);
      }
      s.core->closed(reason);  // logs the loss, pending requests get 503
      caf::anon_send(s.options.registry, down_atom::value, caf::actor_cast<connection_actor>(self), reason);
      s.closed = true;
      self->quit();
    },
    [=](drained_atom, conn_id c) {
      auto& s = self->state;
      if (c != s.conn) return;
      s.output_congested = false;
      s.core->drained(clock::now());
    },
    [=](respond_atom, const std::string& wire) { self->state.core->respond(wire); },
    [=](transmit_atom, std::string& wire, const proxy_core_actor& shard, const std::string& branch) {
      self->state.core->transmit(std::move(wire), shard, branch, clock::now());
    },
    [=](close_atom, const std::string& reason) {
      auto& s = self->state;
      log(self, severity::info, s.core->label() + ": closing (" + reason + ")");
      if (s.conn != 0) s.options.reactor->close(s.conn, true);  // closed_atom follows: pending requests get 503
    },
    [=](connect_timeout_atom, uint64_t attempt) {
      auto& s = self->state;
      if (attempt != s.attempt || s.core->established() || s.conn == 0) return;
      count_handshake(self, metrics::handshake_result::timeout);
      s.dialer.failed(s.address + ": no connection/handshake within " +
                                 std::to_string(s.options.connect_timeout.count()) + " s");
      s.options.reactor->close(s.conn, false);
    },
    [=](peer_tick_atom) {
      auto& s = self->state;
      if (s.closed) return;
      s.core->tick(clock::now());
      self->delayed_send(self, s.core->tick_interval(), peer_tick_atom::value);
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
    if (options.from_sip_proxy) {
      auto policy = options.policy ? options.policy->get() : options.settings;
      auto at = net::parse_endpoint(peer);
      std::string why;
      if (!policy || !policy->via_proxy) why = "not in SIP_PROXY mode";
      else if (!at || at->ip != policy->proxy_ip) why = "only the SIP proxy " + policy->proxy_ip + " may connect here";
      if (!why.empty()) {
        std::lock_guard<std::mutex> lock(refused->mutex);
        if (refused->logged.allow(at ? at->ip : peer, std::chrono::steady_clock::now()))
          report(options.log, severity::warning, "sip_proxy",
                 "connection to sip_proxy.incoming from " + peer + " refused: " + why + " (logged once a minute per address)");
        return nullptr;
      }
    }
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
    return std::make_shared<flow_socket_bridge<connection_actor>>(actor);
  };
}

}  // namespace fedgw
