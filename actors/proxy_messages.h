// Messages and typed interfaces of the SIP data path: connection actors, the
// proxy core shards and the peer registry. A message of the wrong shape is a
// compile error, not a silent drop.
#pragma once

#include <string>
#include <memory>
#include <vector>

#include "actors/messages.h"
#include "gateway/metrics/metrics.h"
#include "gateway/proxy/routing.h"
#include "gateway/sip/message.h"

namespace fedgw {

// One atom per meaning (CAF 0.17: at most 10 characters).
using request_atom = caf::atom_constant<caf::atom("request")>;    // a request for a proxy-core shard
using response_atom = caf::atom_constant<caf::atom("response")>;  // a response for a shard's transaction
using fail_atom = caf::atom_constant<caf::atom("fail")>;          // a request could not be delivered
using respond_atom = caf::atom_constant<caf::atom("respond")>;    // a response to write on a connection
using transmit_atom = caf::atom_constant<caf::atom("transmit")>;  // a request to write on a connection
using forward_atom = caf::atom_constant<caf::atom("forward")>;    // a request for a partner domain
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;    // a request for the UC server
using uc_server_atom = caf::atom_constant<caf::atom("ucserver")>; // an internal connection is the UC server
using up_atom = caf::atom_constant<caf::atom("up")>;
using down_atom = caf::atom_constant<caf::atom("down")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;
using peers_atom = caf::atom_constant<caf::atom("peers")>;
using proxy_tick_atom = caf::atom_constant<caf::atom("ptick")>;      // a shard's transaction timers
using peer_tick_atom = caf::atom_constant<caf::atom("peertick")>;    // a connection's keep-alive / idle timer
using connect_timeout_atom = caf::atom_constant<caf::atom("conntmo")>;
using close_atom = caf::atom_constant<caf::atom("close")>;              // an operator closes a connection
using peer_reset_atom = caf::atom_constant<caf::atom("peerreset")>;     // fedctl peers reset DOMAIN
using peer_close_atom = caf::atom_constant<caf::atom("peerclose")>;     // fedctl peers close DOMAIN
using node_atom = caf::atom_constant<caf::atom("node")>;            // a connection reaches a partner node
using route_atom = caf::atom_constant<caf::atom("route")>;          // a partner domain's established connection
using via_proxy_atom = caf::atom_constant<caf::atom("viaproxy")>;   // SIP_PROXY mode: the session with the proxy

// Whatever a response can be written to: a connection, or fedctl send-test.
using response_sink = caf::typed_actor<caf::reacts_to<respond_atom, std::string>>;

// Where a request came from: the connection to answer on, its side, and
// for external peers the SIP identities of the verified certificate.
struct sip_origin {
  response_sink connection;
  proxy::side from = proxy::side::internal;
  std::vector<std::string> identities;
  std::string address;  // peer ip:port, for logs
};

// One peer domain as `fedctl peers` shows it.
struct peer_info {
  std::string domain;
  std::string address;
  std::string direction;  // "outbound" / "inbound"
  std::string tls;        // "TLSv1.3 TLS_AES_128_GCM_SHA256", "handshaking", "TCP"
  std::string state;      // "connecting", "up", "backoff", "failed"
  int64_t since_ms = 0;
  uint64_t queued = 0;
  int64_t backoff_until_ms = 0;
  uint32_t failures = 0;
  std::string last_error;
  std::string node;  // a route-set node entry ("host:port"), "" for the domain's entry
  // The partner's certificate (established TLS connections)
  std::string certificate_subject;
  std::string certificate_issuer;
  int64_t certificate_not_after = 0;  // unix seconds
  std::string certificate_fingerprint;
};

// A proxy-core shard (actors/proxy_core.h).
using proxy_core_actor = caf::typed_actor<
  caf::reacts_to<request_atom, sip_origin, sip::Message>,             // a request from a connection
  caf::reacts_to<response_atom, sip::Message>,                        // a response on the request's connection
  caf::reacts_to<fail_atom, std::string, int, std::string>,           // branch, status, reason: not delivered
  caf::reacts_to<proxy_tick_atom>,                                    // transaction timers (internal)
  // The registry's established connection for a partner domain (a connection_actor): the shard sends the
  // domain's next requests to it directly, until it goes down.
  caf::reacts_to<route_atom, std::string, response_sink>,
  caf::replies_to<metrics_atom>::with<metrics::sip_block>,            // this shard's metrics (/metrics)
  caf::reacts_to<config_atom, std::shared_ptr<const proxy::settings>>>;  // domains and policy (config apply)

// One SIP connection (actors/peer_connection.h).
using connection_actor = caf::typed_actor<
  caf::reacts_to<data_atom, conn_id, std::string>,                    // bytes from the reactor
  caf::reacts_to<connected_atom, conn_id>,                            // outbound TCP connection established
  caf::reacts_to<closed_atom, conn_id, std::string>,                  // the socket is gone (reason)
  caf::reacts_to<drained_atom, conn_id>,                              // the congested output drained
  caf::reacts_to<respond_atom, std::string>,                          // a response to write
  // A request to write, the shard that sent it and its branch; an empty
  // branch is a CANCEL or ACK: untracked and never refused.
  caf::reacts_to<transmit_atom, std::string, proxy_core_actor, std::string>,
  caf::reacts_to<peer_tick_atom>,                                     // keep-alive / idle (internal)
  caf::reacts_to<connect_timeout_atom, uint64_t>,                     // connect attempt timed out (internal)
  caf::reacts_to<close_atom, std::string>>;                           // close after what was written (reason)

// The peer registry (actors/peer_registry.h).
using peer_registry_actor = caf::typed_actor<
  // A request for a partner domain: domain, node of the dialog's route set ("" = the
  // domain's DNS records), wire, shard, branch ("" = CANCEL/ACK).
  caf::reacts_to<forward_atom, std::string, std::string, std::string, proxy_core_actor, std::string>,
  // A request for the UC server: wire, shard, branch, the ip:port its Request-URI names ("" if none).
  caf::reacts_to<deliver_atom, std::string, proxy_core_actor, std::string, std::string>,
  caf::reacts_to<uc_server_atom, connection_actor, std::string>,      // this connection (ip:port) is the UC server
  caf::reacts_to<up_atom, std::vector<std::string>, connection_actor, peer_info>,  // serves these domains
  caf::reacts_to<down_atom, connection_actor, std::string>,           // lost (reason)
  // This connection (authenticated as the domain) reaches the partner node "host:port" (RFC 5923 reuse).
  caf::reacts_to<node_atom, std::string, std::string, connection_actor>,
  caf::reacts_to<failed_atom, std::string, std::string, std::string, int>,  // domain, node ("" = domain) gave up: reason, 404/503
  // SIP_PROXY mode: every request for a partner goes to this session with the proxy; an invalid handle ends
  // the mode (DIRECT: the domain's DNS records again); `reason` says why there is none (for the 503).
  caf::reacts_to<via_proxy_atom, connection_actor, std::string>,
  caf::replies_to<peers_atom>::with<std::vector<peer_info>>,          // fedctl peers
  caf::replies_to<metrics_atom>::with<metrics::peer_block>,           // the table as gauges, connection counters
  caf::replies_to<uc_server_atom>::with<std::vector<std::string>>,     // UC server connections (ip:port)
  // fedctl peers reset / close DOMAIN: what was done, for the operator
  caf::replies_to<peer_reset_atom, std::string>::with<std::string>,
  caf::replies_to<peer_close_atom, std::string>::with<std::string>>;

}  // namespace fedgw

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::sip::Message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::sip_origin)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::peer_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<fedgw::peer_info>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::metrics::sip_block)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::metrics::peer_block)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<const fedgw::proxy::settings>)
