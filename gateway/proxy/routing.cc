#include "gateway/proxy/routing.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "gateway/net/address.h"
#include "gateway/proxy/hex.h"
#include "gateway/sip/grammar.h"
#include "gateway/sip/uri.h"

namespace fedgw::proxy {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

namespace {

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool contains(const std::unordered_set<std::string>& set, const std::string& x) { return set.count(x) != 0; }

constexpr std::string_view branch_prefix = "z9hG4bK-fgw";

// HMAC-SHA256 over side, domain, Call-ID and dialog tag, truncated to 96 bits.
std::string route_mac(const settings& s, side facing, std::string_view domain, std::string_view call_id,
                      std::string_view tag) {
  std::string text;
  text.reserve(domain.size() + call_id.size() + tag.size() + 4);
  text.push_back(facing == side::internal ? 'i' : 'e');
  text.append(1, '\n').append(domain).append(1, '\n').append(call_id).append(1, '\n').append(tag);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), s.keys.route_secret.data(), static_cast<int>(s.keys.route_secret.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &len);
  return hex(mac, std::min<unsigned int>(len, 12));
}

bool same_text(std::string_view a, std::string_view b) {
  // Constant time in the length of a: the MAC comparison must not leak a prefix.
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// The URI names one of the gateway's interfaces (its host, and its port when one is given).
bool names_gateway(const sip::Uri& uri, const settings& s) {
  auto host = lower(uri.host_unbracketed());
  auto matches = [&](const interface& i) { return lower(i.host) == host && (uri.port == 0 || uri.port == i.port); };
  return matches(s.internal) || matches(s.external);
}

std::string host_text(const interface& i) { return i.host.find(':') != std::string::npos ? "[" + i.host + "]" : i.host; }

}  // namespace

const char* side_name(side s) { return s == side::internal ? "internal" : "external"; }

instance_keys instance_keys::random() {
  unsigned char bytes[8 + 16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no random bytes for the gateway instance");
  instance_keys k;
  k.instance = hex(bytes, 8);
  k.route_secret.assign(reinterpret_cast<const char*>(bytes + 8), 16);
  return k;
}

settings settings::from_config(const config::Config& c, instance_keys keys) {
  settings s;
  for (const auto& d : c.domains()) s.domains.insert(lower(d));
  for (const auto& d : c.partners().allowed()) s.allowed.insert(lower(d));
  for (const auto& d : c.partners().blocked()) s.blocked.insert(lower(d));
  for (const auto& d : c.partners().identity_trusted()) s.identity_trusted.insert(lower(d));
  // Via and Record-Route name the interface as peers reach it: public_host when set (a name the
  // certificate covers, needed behind a wildcard bind), else the bind address.
  auto iface = [](const config::Listener& l) {
    return interface{l.public_host().empty() ? l.bind_ip() : l.public_host(), static_cast<uint16_t>(l.port()),
                     l.transport() == config::TCP ? "TCP" : "TLS"};
  };
  s.discovered_rate_limit = c.partners().discovered_rate_limit();
  s.via_proxy = c.mode() == config::SIP_PROXY;
  if (s.via_proxy) s.proxy_ip = c.sip_proxy().ip();
  s.internal = iface(c.internal_listener());
  s.external = c.has_federation_listener() ? iface(c.federation_listener()) : interface{"0.0.0.0", 5061, "TLS"};
  // SIP_PROXY mode: the far side is the proxy, which reaches the gateway on sip_proxy.incoming.
  if (s.via_proxy && c.sip_proxy().has_incoming()) s.external = iface(c.sip_proxy().incoming());
  s.keys = std::move(keys);
  return s;
}

bool settings::serves(std::string_view domain) const { return contains(domains, lower(domain)); }
bool settings::allow_listed(std::string_view domain) const { return contains(allowed, lower(domain)); }
bool settings::blocked_partner(std::string_view domain) const { return contains(blocked, lower(domain)); }

std::string settings::partner_refusal(std::string_view domain) const {
  auto d = lower(domain);
  if (contains(blocked, d)) return "Forbidden - federation with " + d + " is blocked";
  if (!allowed.empty() && !contains(allowed, d)) return "Forbidden - " + d + " is not an allowed partner domain";
  return {};
}

std::string uri_domain(std::string_view uri_text) {
  auto uri = sip::parse_uri(uri_text);
  if (!uri || !uri->is_sip()) return {};
  return lower(uri->host_unbracketed());
}

std::string make_branch(const settings& s, size_t shard, uint64_t sequence, uint64_t random) {
  unsigned char r[8];
  for (int i = 0; i < 8; ++i) r[i] = static_cast<unsigned char>(random >> (8 * i));
  std::string b;
  b.reserve(branch_prefix.size() + s.keys.instance.size() + 40);
  b.append(branch_prefix).append(s.keys.instance).append(1, '.').append(std::to_string(shard)).append(1, '.');
  b.append(std::to_string(sequence)).append(1, '.').append(hex(r, 8));
  return b;
}

bool is_looped(const sip::Message& request, const settings& s) {
  const std::string_view instance = s.keys.instance;
  return request.any_via_branch([&](std::string_view branch) {
    // z9hG4bK<instance>.: one of ours
    return branch.size() > branch_prefix.size() + instance.size() &&
           branch.substr(0, branch_prefix.size()) == branch_prefix &&
           branch.substr(branch_prefix.size(), instance.size()) == instance &&
           branch[branch_prefix.size() + instance.size()] == '.';
  });
}

std::string via_value(const interface& i, std::string_view branch) {
  // alias (RFC 5923): over TLS, the peer may send its requests for this
  // sent-by back on the connection the request came in on.
  std::string host = host_text(i);
  std::string v;
  v.reserve(32 + i.transport.size() + host.size() + branch.size());
  v.append("SIP/2.0/").append(i.transport).append(1, ' ').append(host).append(1, ':');
  v.append(std::to_string(i.port)).append(";branch=").append(branch);
  if (i.transport == "TLS") v.append(";alias");
  return v;
}

std::string record_route_value(const settings& s, side facing, std::string_view domain, const sip::Message& request) {
  const auto& i = s.facing(facing);
  std::string v = "<sip:" + host_text(i) + ":" + std::to_string(i.port) + ";transport=" + lower(i.transport) +
                  ";lr;fgw=" + (facing == side::internal ? "int" : "ext");
  if (!domain.empty()) v += ";fgwd=" + std::string(domain);
  v += ";fgwm=" + route_mac(s, facing, domain, request.call_id(), request.from_tag().value_or(""));
  return v + ">";
}

std::optional<own_route> parse_own_route(const sip::NameAddr& route, const sip::Message& request, const settings& s,
                                         bool* forged) {
  auto facing_param = route.uri.param("fgw");
  if (!facing_param) return std::nullopt;
  if (!names_gateway(route.uri, s)) return std::nullopt;
  own_route r;
  r.facing = *facing_param == "int" ? side::internal : side::external;
  auto d = route.uri.param("fgwd");
  if (d) r.domain = lower(*d);
  auto mac = route.uri.param("fgwm");
  // The dialog's tags: the request that was record-routed put its From tag in;
  // later requests carry it as From (same direction) or To tag (the other).
  bool valid = false;
  if (mac) {
    // A request without a From tag (RFC 2543) was signed with the empty tag.
    for (auto tag : {request.from_tag().value_or(""), request.to_tag().value_or("")}) {
      if (same_text(route_mac(s, r.facing, r.domain, request.call_id(), tag), *mac)) {
        valid = true;
        break;
      }
    }
  }
  if (!valid) {
    if (forged) *forged = true;
    return std::nullopt;
  }
  return r;
}

std::optional<std::string> partner_node(const sip::NameAddr& value) {
  const auto& uri = value.uri;
  if (!uri.is_sip() || !uri.lr() || uri.host.empty()) return std::nullopt;
  auto host = lower(uri.host);
  if (uri.host_type == sip::HostType::kNone) return std::nullopt;
  return uri.port == 0 ? host : host + ":" + std::to_string(uri.port);
}

std::vector<std::string> sending_nodes(const sip::Message& request) {
  std::vector<std::string> out;
  if (auto rr = request.record_routes(); rr && !rr->empty())
    if (auto node = partner_node(rr->front())) out.push_back(*node);
  const auto& via = request.top_via();
  if (via.alias() && via.host_type != sip::HostType::kNone) {
    auto node = lower(via.host) + ":" + std::to_string(via.port != 0 ? via.port : 5061);
    if (std::find(out.begin(), out.end(), node) == out.end()) out.push_back(std::move(node));
  }
  return out;
}

decision check_origin(const sip::Message& request, side origin, const std::vector<std::string>& origin_identities,
                      const settings& s) {
  decision d;
  auto refuse = [&](int status, std::string reason, policy_rule rule) {
    d.status = status;
    d.reason = std::move(reason);
    d.policy_refusal = true;
    d.rule = rule;
    return d;
  };
  auto from_domain = uri_domain(request.from().uri_text);
  if (origin == side::external && s.via_proxy && contains(origin_identities, trusted_proxy_identity)) {
    // Relayed by the SIP proxy: it authenticated the sender; our own users never arrive from outside.
    d.domain = from_domain;
    if (from_domain.empty() || s.serves(from_domain))
      return refuse(403, "Forbidden - From domain " + (from_domain.empty() ? std::string("(none)") : from_domain) +
                           " cannot come from the SIP proxy" + (from_domain.empty() ? "" : ": it is served by this gateway"),
                    policy_rule::from_domain);
    if (auto why = s.partner_refusal(from_domain); !why.empty()) return refuse(403, why, policy_rule::partner_list);
    d.strip_identity = !contains(s.identity_trusted, from_domain);
  } else if (origin == side::external) {
    // Anti-spoofing: the From domain must be an identity of the peer's certificate (RFC 5922).
    if (!contains(origin_identities, from_domain)) {
      std::string names;
      for (const auto& n : origin_identities) names += (names.empty() ? "" : ", ") + n;
      d.domain = from_domain;
      return refuse(403, "Forbidden - From domain " + (from_domain.empty() ? std::string("(none)") : from_domain) +
                           " is not an identity of the peer certificate (" + names + ")",
                    policy_rule::from_domain);
    }
    d.domain = from_domain;
    if (auto why = s.partner_refusal(from_domain); !why.empty()) return refuse(403, why, policy_rule::partner_list);
    d.strip_identity = !contains(s.identity_trusted, from_domain);
  } else if (!s.serves(from_domain)) {
    // The gateway only speaks for its own domains' users.
    return refuse(403, "Forbidden - From domain " + (from_domain.empty() ? std::string("(none)") : from_domain) +
                         " is not served by this gateway",
                  policy_rule::from_domain);
  }
  return d;
}

decision route_request(const sip::Message& request, side origin,
                       const std::vector<std::string>& origin_identities, const settings& s) {
  decision d;
  // `rule`: a 403 of the policy (logged per domain and minute).
  auto refuse = [&](int status, std::string reason, std::optional<policy_rule> rule = std::nullopt) {
    d.status = status;
    d.reason = std::move(reason);
    d.policy_refusal = rule.has_value();
    d.rule = rule.value_or(policy_rule::other);
    return d;
  };
  auto method = request.method();
  // NOTIFY too: at the subscriber it may create the dialog (RFC 6665 §4.3).
  const bool dialog_creating = method == "INVITE" || method == "SUBSCRIBE" || method == "REFER" || method == "NOTIFY";

  d = check_origin(request, origin, origin_identities, s);
  if (d.status != 0) return d;

  // Our own Route values (double Record-Route, RFC 5658), signed: the last one
  // popped faces the side the request leaves on.
  auto routes = request.routes();
  if (!routes) return refuse(400, "Bad Request - malformed Route header");
  std::optional<side> leaves;
  std::string route_domain;
  for (const auto& r : *routes) {
    bool forged = false;
    auto own = parse_own_route(r, request, s, &forged);
    if (forged)
      return refuse(403, "Forbidden - a Route naming this gateway has no valid signature (forged, or from before a "
                         "restart)",
                    policy_rule::route_signature);
    if (!own) break;
    ++d.routes_to_pop;
    leaves = own->facing;
    if (!own->domain.empty()) route_domain = own->domain;
  }

  if (leaves) {
    d.in_dialog = true;
    // A single own Route (a peer that kept only one of our values): the other side.
    d.to = d.routes_to_pop >= 2 ? *leaves : (origin == side::internal ? side::external : side::internal);
    if (d.to == origin)
      return refuse(403, std::string("Forbidden - relaying between ") +
                           (origin == side::external ? "external domains" : "internal users") + " is not allowed",
                    policy_rule::relay);
    if (d.to == side::external) {
      d.domain = route_domain;
      if (d.domain.empty()) return refuse(400, "Bad Request - Route names no partner domain");
      if (auto why = s.partner_refusal(d.domain); !why.empty()) return refuse(403, why, policy_rule::partner_list);
      // The partner's own Record-Route, if any, is the next hop (§16.12); a value naming one
      // of our interfaces would loop back, so the domain's records decide instead.
      if (d.routes_to_pop < routes->size()) {
        const auto& next = (*routes)[d.routes_to_pop];
        auto node = partner_node(next);
        if (node && !names_gateway(next.uri, s)) d.node = *node;
      }
    } else {
      // From a partner to our users: the dialog's local side is a served domain.
      auto to_domain = uri_domain(request.to().uri_text);
      if (!s.serves(to_domain))
        return refuse(403, "Forbidden - relaying to " + (to_domain.empty() ? std::string("(none)") : to_domain) +
                             " is not allowed",
                      policy_rule::relay);
    }
    d.record_route = method == "NOTIFY";
    return d;
  }

  // Initial (or out-of-dialog) request: the Request-URI's domain decides.
  auto target = uri_domain(request.request_uri());
  if (target.empty()) return refuse(416, "Unsupported URI Scheme");
  if (net::is_ip(target) || (target.front() == '[' && target.back() == ']'))
    return refuse(404, "Not Found - the Request-URI names an address (" + target +
                         "), not a domain, and no Route of this gateway");
  bool ours = s.serves(target);
  if (origin == side::internal) {
    if (ours) return refuse(403, "Forbidden - " + target + " is served internally, not federated", policy_rule::relay);
    d.domain = target;
    if (auto why = s.partner_refusal(target); !why.empty()) return refuse(403, why, policy_rule::partner_list);
    d.to = side::external;
  } else {
    if (!ours) return refuse(403, "Forbidden - relaying to " + target + " is not allowed", policy_rule::relay);
    d.to = side::internal;
  }
  d.record_route = dialog_creating;
  return d;
}

}  // namespace fedgw::proxy
