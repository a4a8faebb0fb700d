// One actor per SIP connection (internal UC server, inbound partner, or
// outbound partner). The reactor only moves bytes; this actor runs the
// connection's protocol core (gateway/proxy/connection.h: TLS, SIP framing,
// keep-alive, in-flight table, connect queue) on whichever CAF worker runs
// it, so many connections use many cores. The actor itself resolves the
// partner domain, walks its targets and talks to the peer registry.
//
// Its interface is connection_actor (actors/proxy_messages.h).
//
// Requests it receives go to the proxy core shard of their Call-ID as
// (request_atom, sip_origin, sip::Message); a response only to the shard of a
// request sent on this connection (others are dropped and counted).
// Malformed requests are answered here (400, 413, ...).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "actors/dns_resolver.h"
#include "actors/proxy_messages.h"
#include "actors/status_log.h"
#include "gateway/net/reactor.h"
#include "gateway/proxy/rate_limit.h"
#include "gateway/proxy/transactions.h"
#include "gateway/tls/contexts.h"

namespace fedgw {

// A pointer the supervisor swaps at run time (config apply, certificate
// reload) while connection actors read it; readers keep what they took.
template <class Ptr>
class live_pointer {
public:
  Ptr get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return current_;
  }
  void set(Ptr value) {
    std::lock_guard<std::mutex> lock(mutex_);
    current_ = std::move(value);
  }

private:
  mutable std::mutex mutex_;
  Ptr current_;
};

// The TLS contexts new connections use (established connections keep theirs).
using tls_source = live_pointer<tls::contexts_ptr>;
// Domains and partner policy as last applied (the inbound rate limit reads it).
using policy_source = live_pointer<std::shared_ptr<const proxy::settings>>;

struct peer_connection_options {
  proxy::side where = proxy::side::internal;
  std::shared_ptr<net::reactor> reactor;
  std::shared_ptr<const proxy::settings> settings;  // interfaces and branch instance (fixed)
  std::shared_ptr<policy_source> policy;
  std::vector<proxy_core_actor> shards;
  peer_registry_actor registry;
  status_log_actor log;
  dns_resolver_actor dns;          // outbound only
  std::shared_ptr<tls_source> tls; // null: plain TCP
  tls::client_cert_mode client_certs = tls::client_cert_mode::require;  // inbound TLS
  sip::Limits limits;
  uint32_t max_queued = 1000;      // requests held while connecting
  std::chrono::seconds idle_timeout{600};
  std::chrono::seconds keepalive{30};
  std::chrono::seconds connect_timeout{5};
  std::chrono::seconds establish_timeout{10};  // a partial SIP message must be complete by then
  proxy::transaction_timers timers;  // how long responses to a sent request are accepted
  // Internal: the listener authenticates the UC server (allowed_peers or MTLS), so a new
  // connection is used at once; otherwise only after it sent SIP itself.
  bool uc_server_authenticated = false;
  std::vector<net::prefix> allowed_peers;  // internal listener: empty = any address
  // sip_proxy.incoming: only the SIP proxy's address, only in SIP_PROXY mode (read from `policy` at accept
  // time, so a mode switch needs no restart); its requests carry proxy::trusted_proxy_identity.
  bool from_sip_proxy = false;
  std::shared_ptr<proxy::partner_rate_limiter> inbound_limits;  // shared by all partner connections
  std::shared_ptr<std::atomic<uint64_t>> stray_responses;       // counted, reported by shard 0
  // Connects, handshakes, closes and the connection's own answers (metrics; the registry reports them).
  std::shared_ptr<metrics::shared_connection_counters> connection_counters;
};

// An accepted connection (`conn` already registered with the reactor through a socket_bridge).
connection_actor spawn_inbound_connection(caf::actor_system& system, peer_connection_options options, conn_id conn,
                                    std::string peer_address);
// An outbound connection to a partner domain: DNS, then the targets in order.
// With `node` ("host[:port]" of a dialog's route set) it goes to that partner
// node instead; the certificate must still name `domain`.
connection_actor spawn_outbound_connection(caf::actor_system& system, peer_connection_options options,
                                           std::string domain, std::string node = {});

// Creates the actor first, then hands its socket_bridge to the reactor (used as the accept callback).
net::reactor::accept_fn accept_connections(caf::actor_system& system, peer_connection_options options);

}  // namespace fedgw
