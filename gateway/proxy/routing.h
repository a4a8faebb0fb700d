// The proxy's routing and policy decisions (RFC 3261 §16.3-16.6 as a federation
// edge needs them): where a request goes, what the gateway must refuse, and the
// Via / Record-Route values it adds. Plain code on a parsed message; the
// proxy_core actors apply the decisions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "gateway/proxy/policy_rule.h"
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

// Per-process secrets: the instance names this gateway's branches (loop
// detection, RFC 3261 §16.3 step 4) and the key signs its Route parameters.
// Random per start (64 bits and 128 bits), so two gateways never share them,
// whatever their PIDs.
struct instance_keys {
  std::string instance;      // 16 hex digits
  std::string route_secret;  // 16 random bytes
  static instance_keys random();
};

// What a Route value written by this gateway says, once its signature checked.
struct own_route {
  side facing = side::internal;
  std::string domain;  // the partner domain of an external-facing value
};

// The origin identity of a request that came from the configured SIP proxy (its session's connection, or
// sip_proxy.incoming from the proxy's address). Not a domain name, so no certificate can carry it. The
// proxy is trusted for routing: it vouches for the From domain of what it relays (which must still not be
// one of the gateway's own domains, and still passes the partner lists).
inline constexpr std::string_view trusted_proxy_identity = "<sip proxy>";

// Domain lists are hash sets: an allow list of 10,000 partners is consulted on every request.
struct settings {
  std::unordered_set<std::string> domains;   // served domains, lower case
  std::unordered_set<std::string> allowed;   // partner allow list (empty: all)
  std::unordered_set<std::string> blocked;   // partner block list
  uint32_t discovered_rate_limit = 20; // requests/s from/to a partner not on the allow list
  bool via_proxy = false;              // SIP_PROXY mode: partner domains only through the configured proxy (the
                                       // proxy core hands such requests to the registry, which sends them there)
  std::string proxy_ip;                // SIP_PROXY mode: the only address sip_proxy.incoming accepts
  // Partners whose P-Asserted-Identity / P-Preferred-Identity / Remote-Party-ID
  // pass the trust boundary (RFC 3325); removed from everyone else's requests.
  std::unordered_set<std::string> identity_trusted;
  interface internal;                 // towards the UC server
  interface external;                 // towards partner domains
  instance_keys keys;

  static settings from_config(const config::Config& config, instance_keys keys);
  bool serves(std::string_view domain) const;
  bool allow_listed(std::string_view domain) const;
  bool blocked_partner(std::string_view domain) const;
  // Why federation with `domain` is refused by partners.blocked / .allowed ("" when it is not).
  std::string partner_refusal(std::string_view domain) const;
  const interface& facing(side s) const { return s == side::internal ? internal : external; }
};

// Where an accepted request goes.
struct decision {
  int status = 0;           // > 0: refuse with this status and reason
  std::string reason;
  side to = side::external;
  std::string domain;       // external target domain (to == external)
  bool in_dialog = false;   // routed by our Record-Route (Route headers popped)
  // External in-dialog: the partner node that record-routed the dialog (the
  // Route after ours, RFC 3261 §16.12): "host:port", or "host" to look up as
  // RFC 3263 says. Empty: the partner domain's DNS records decide.
  std::string node;
  bool strip_identity = false;  // remove RFC 3325 identity headers (untrusted partner)
  size_t routes_to_pop = 0; // our own Route values at the top
  bool record_route = false;
  bool policy_refusal = false;  // a 403 of the partner/relay policy (logged per domain and minute)
  policy_rule rule = policy_rule::other;  // the rule behind a 403
};

// Who is speaking, checked before anything else on every request (in-dialog,
// CANCEL and OPTIONS answered locally included): a partner's From domain must
// be an identity of its certificate and not refused by partners.blocked /
// .allowed; the internal side may only speak for served domains. On success
// `domain` is the From domain and `strip_identity` is set for untrusted partners.
decision check_origin(const sip::Message& request, side origin, const std::vector<std::string>& origin_identities,
                      const settings& s);

// `origin_identities`: for external origins, the SIP identities of the peer's
// verified certificate (RFC 5922); the From domain must be one of them.
decision route_request(const sip::Message& request, side origin,
                       const std::vector<std::string>& origin_identities, const settings& s);

// Branch parameter of the Via this gateway adds: magic cookie, instance, shard,
// sequence and `random` bits (so branches cannot be guessed from one another).
std::string make_branch(const settings& s, size_t shard, uint64_t sequence, uint64_t random);
// RFC 3261 §16.3 step 4 (loop detection): one of the request's Via values carries
// a branch of this instance.
bool is_looped(const sip::Message& request, const settings& s);

std::string via_value(const interface& i, std::string_view branch);
// The Record-Route value of the interface facing `facing`:
// "<sip:HOST:PORT;transport=tls;lr;fgw=ext;fgwd=b.test;fgwm=MAC>". fgw names
// the side, fgwd the partner domain (external only), fgwm is an HMAC over
// both, the Call-ID and the From tag of `request` under the gateway's route
// secret: in-dialog requests cannot forge or re-target it.
std::string record_route_value(const settings& s, side facing, std::string_view domain, const sip::Message& request);
// The Route value `route` when this gateway wrote it for `request`'s dialog
// (host and port of one of its interfaces, valid signature for the Call-ID and
// the From or To tag); nullopt when it is not ours. `forged` is set when it
// names the gateway but its signature does not verify.
std::optional<own_route> parse_own_route(const sip::NameAddr& route, const sip::Message& request,
                                         const settings& s, bool* forged = nullptr);

// The partner node a Route or Record-Route value names (lower-case "host:port",
// IPv6 in brackets; "host" without a port), or nullopt when it is no
// loose-routing sip/sips URI with a usable host.
std::optional<std::string> partner_node(const sip::NameAddr& value);

// The partner nodes a request from a partner shows it was sent by: its top
// Record-Route (the partner edge that record-routed it) and, when that Via
// carries `alias` (RFC 5923), the top Via's sent-by. At most two.
std::vector<std::string> sending_nodes(const sip::Message& request);

// The RFC 3325 identity headers removed at the trust boundary.
inline constexpr std::string_view identity_headers[] = {"P-Asserted-Identity", "P-Preferred-Identity",
                                                        "Remote-Party-ID"};

// ASCII lower case (domains and host names compare case-insensitively).
std::string lower(std::string_view s);

// Lower-case host of a SIP URI text ("sip:bob@B.test;x" -> "b.test").
std::string uri_domain(std::string_view uri_text);

}  // namespace fedgw::proxy
