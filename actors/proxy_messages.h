// Messages of the SIP data path: connection actors, the proxy core shards and
// the peer registry (all dynamically typed; each header lists what it accepts).
#pragma once

#include <string>
#include <vector>

#include "actors/messages.h"
#include "gateway/proxy/routing.h"
#include "gateway/sip/message.h"

namespace fedgw {

// Where a request came from: the connection actor to answer on, its side, and
// for external peers the SIP identities of the verified certificate.
struct sip_origin {
  caf::actor connection;
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
};

using request_atom = caf::atom_constant<caf::atom("request")>;
using response_atom = caf::atom_constant<caf::atom("response")>;
using send_atom = caf::atom_constant<caf::atom("send")>;
using fail_atom = caf::atom_constant<caf::atom("fail")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using internal_atom = caf::atom_constant<caf::atom("internal")>;
using up_atom = caf::atom_constant<caf::atom("up")>;
using down_atom = caf::atom_constant<caf::atom("down")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;
using peers_atom = caf::atom_constant<caf::atom("peers")>;
using counters_atom = caf::atom_constant<caf::atom("counters")>;

}  // namespace fedgw

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::sip::Message)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::sip_origin)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::peer_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<fedgw::peer_info>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::control::Counters)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<const fedgw::proxy::settings>)
