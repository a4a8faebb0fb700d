// SIP_PROXY mode: the gateway's session with the configured SIP proxy. It connects from
// sip_proxy.interface to sip_proxy.ip:port over TCP, TLS (the proxy's certificate checked against the CA
// bundle and sip_proxy.server_name) or MTLS (the same, presenting the gateway's certificate), logs in with
// REGISTER and digest authentication (gateway/proxy/registration.h), refreshes the registration, sends
// RFC 5626 CRLF keep-alives (the connection core), and reconnects with back-off; a rejected login waits
// for (login_atom) or new settings instead of retrying. Every state change goes to the status log.
// Requests for partner domains (transmit_atom, from the registry) go over the same connection; the proxy
// routes them by their Request-URI. While the session is down they get 503 with the reason at once. A
// 401/407 to a relayed request is answered once with the login's credentials (a challenged INVITE is
// ACKed, and its CANCEL and ACKs follow the retry); after the first challenge credentials go with every
// request (the proxy's nonce, counted).
// Requests the proxy sends on this connection go to the proxy core like a partner's, with the origin
// identity proxy::trusted_proxy_identity (see gateway/proxy/routing.h); OPTIONS is answered here.
//
// The connection core is the data path's (gateway/proxy/connection.h).
#pragma once

#include <chrono>
#include <memory>

#include "actors/messages.h"
#include "actors/peer_connection.h"
#include "actors/proxy_messages.h"
#include "actors/status_log.h"
#include "gateway/net/reactor.h"

namespace fedgw {

using login_atom = caf::atom_constant<caf::atom("login")>;
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;

// A connection_actor (the registry sends it every request for a partner domain in SIP_PROXY mode), plus
// the session's own messages.
using proxy_session_actor = caf::typed_actor<
  caf::reacts_to<data_atom, conn_id, std::string>,      // bytes from the reactor
  caf::reacts_to<connected_atom, conn_id>,              // the TCP connection to the proxy is up
  caf::reacts_to<closed_atom, conn_id, std::string>,    // the socket is gone (reason)
  caf::reacts_to<drained_atom, conn_id>,                // the congested output drained
  caf::reacts_to<respond_atom, std::string>,            // a response to a request from the proxy
  // a request for a partner domain, the shard that sent it and its branch ("" = CANCEL/ACK)
  caf::reacts_to<transmit_atom, std::string, proxy_core_actor, std::string>,
  caf::reacts_to<peer_tick_atom>,                       // registration refresh, keep-alive (internal)
  caf::reacts_to<connect_timeout_atom, uint64_t>,       // a connect attempt timed out (internal)
  caf::reacts_to<close_atom, std::string>,              // close (reason); the session connects again
  caf::reacts_to<reconnect_atom, uint64_t>,             // the back-off of an attempt ended (internal)
  caf::reacts_to<login_atom>,                           // try the login again after a rejection
  caf::replies_to<status_atom>::with<control::ProxySessionStatus>>;

struct proxy_session_options {
  config::SipProxy settings;
  std::string aor_domain;  // the gateway's first domain: sip:<username>@<aor_domain>
  std::shared_ptr<net::reactor> reactor;
  std::shared_ptr<tls_source> tls;  // TLS and MTLS: the CA bundle and (MTLS) the gateway's certificate
  status_log_actor log;
  std::vector<proxy_core_actor> shards;  // requests the proxy sends on this connection go to them
  sip::Limits limits;
  proxy::transaction_timers timers;  // the shards' transaction timeouts: answer windows, queued requests' expiry
  std::chrono::seconds connect_timeout{5};
  std::chrono::seconds keepalive{30};
  std::chrono::seconds expires{600};
  std::chrono::seconds backoff_initial{1};
  std::chrono::seconds backoff_max{60};
};

proxy_session_actor spawn_proxy_session(caf::actor_system& system, proxy_session_options options);

}  // namespace fedgw
