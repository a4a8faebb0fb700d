// The proxy's routing and policy decisions (RFC 3261 §16.3-16.6 as a federation
// edge needs them): where a request goes, what the gateway must refuse, and the
// Via / Record-Route values it adds. Plain code on a parsed message; the
// proxy_core actors apply the decisions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/sip/message.h"
#include "proto/config.pb.h"

namespace fedgw::proxy {

enum class side : uint8_t { internal = 0, external = 1 };
const char* side_name(side s);

// One interface of the gateway: what it writes into Via and Record-Route.
struct interface {
  std::string host;       // IP or host name as peers should see it
  uint16_t port = 0;
  std::string transport;  // "TCP" or "TLS"
};

struct settings {
  std::vector<std::string> domains;   // served domains, lower case
  std::vector<std::string> allowed;   // partner allow list (empty: all)
  std::vector<std::string> blocked;   // partner block list
  uint32_t discovered_rate_limit = 20; // requests/s from/to a partner not on the allow list
  interface internal;                 // towards the UC server
  interface external;                 // towards partner domains
  std::string instance;               // distinguishes this gateway's branches (loop detection)

  static settings from_config(const config::Config& config, std::string instance);
  bool serves(std::string_view domain) const;
  bool allow_listed(std::string_view domain) const;
  const interface& facing(side s) const { return s == side::internal ? internal : external; }
};

// Where an accepted request goes.
struct decision {
  int status = 0;           // > 0: refuse with this status and reason
  std::string reason;
  side to = side::external;
  std::string domain;       // external target domain (to == external)
  bool in_dialog = false;   // routed by our Record-Route (Route headers popped)
  size_t routes_to_pop = 0; // our own Route values at the top
  bool record_route = false;
  bool policy_refusal = false;  // a 403 of the partner/relay policy (logged per domain and minute)
};

// `origin_identities`: for external origins, the SIP identities of the peer's
// verified certificate (RFC 5922); the From domain must be one of them.
decision route_request(const sip::Message& request, side origin,
                       const std::vector<std::string>& origin_identities, const settings& s);

// Branch parameter of the Via this gateway adds: magic cookie, instance, shard, sequence.
std::string make_branch(const settings& s, size_t shard, uint64_t sequence);
// The shard that created `branch`, if this gateway instance did.
std::optional<size_t> shard_of_branch(std::string_view branch, const settings& s);
// RFC 3261 §16.3 step 4 (loop detection): one of the request's Via values carries
// a branch of this instance.
bool is_looped(const sip::Message& request, const settings& s);

std::string via_value(const interface& i, std::string_view branch);
// "<sip:HOST:PORT;transport=tls;lr;fgw=ext;fgwd=b.test>"; `domain` only for external.
std::string record_route_value(const interface& i, side facing, std::string_view domain);

// Lower-case host of a SIP URI text ("sip:bob@B.test;x" -> "b.test").
std::string uri_domain(std::string_view uri_text);

}  // namespace fedgw::proxy
