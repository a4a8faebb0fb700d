#include "gateway/proxy/routing.h"

#include <algorithm>
#include <cctype>

#include "gateway/net/address.h"
#include "gateway/sip/grammar.h"
#include "gateway/sip/uri.h"

namespace fedgw::proxy {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

constexpr std::string_view branch_prefix = "z9hG4bK-fgw";

// Our Route values carry the "fgw" parameter naming the side they face.
std::optional<side> own_route_side(const sip::NameAddr& route, const settings& s, std::string* domain) {
  auto facing = route.uri.param("fgw");
  if (!facing) return std::nullopt;
  auto host = lower(route.uri.host_unbracketed());
  uint16_t port = route.uri.port;
  auto matches = [&](const interface& i) { return lower(i.host) == host && (port == 0 || port == i.port); };
  if (!matches(s.internal) && !matches(s.external)) return std::nullopt;
  if (domain) {
    auto d = route.uri.param("fgwd");
    *domain = d ? lower(*d) : std::string();
  }
  return *facing == "int" ? side::internal : side::external;
}

}  // namespace

const char* side_name(side s) { return s == side::internal ? "internal" : "external"; }

settings settings::from_config(const config::Config& c, std::string instance) {
  settings s;
  for (const auto& d : c.domains()) s.domains.push_back(lower(d));
  for (const auto& d : c.partners().allowed()) s.allowed.push_back(lower(d));
  for (const auto& d : c.partners().blocked()) s.blocked.push_back(lower(d));
  auto iface = [](const config::Listener& l) {
    return interface{l.bind_ip(), static_cast<uint16_t>(l.port()), l.transport() == config::TCP ? "TCP" : "TLS"};
  };
  s.discovered_rate_limit = c.partners().discovered_rate_limit();
  s.internal = iface(c.internal_listener());
  s.external = c.has_federation_listener() ? iface(c.federation_listener()) : interface{"0.0.0.0", 5061, "TLS"};
  s.instance = std::move(instance);
  return s;
}

bool settings::serves(std::string_view domain) const { return contains(domains, lower(domain)); }
bool settings::allow_listed(std::string_view domain) const { return contains(allowed, lower(domain)); }

std::string uri_domain(std::string_view uri_text) {
  auto uri = sip::parse_uri(uri_text);
  if (!uri || !uri->is_sip()) return {};
  return lower(uri->host_unbracketed());
}

std::string make_branch(const settings& s, size_t shard, uint64_t sequence) {
  return std::string(branch_prefix) + s.instance + "." + std::to_string(shard) + "." + std::to_string(sequence);
}

std::optional<size_t> shard_of_branch(std::string_view branch, const settings& s) {
  std::string prefix = std::string(branch_prefix) + s.instance + ".";
  if (branch.substr(0, prefix.size()) != prefix) return std::nullopt;
  auto rest = branch.substr(prefix.size());
  auto dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos) return std::nullopt;
  size_t shard = 0;
  for (char c : rest.substr(0, dot)) {
    if (c < '0' || c > '9') return std::nullopt;
    shard = shard * 10 + static_cast<size_t>(c - '0');
    if (shard > 100000) return std::nullopt;
  }
  return shard;
}

bool is_looped(const sip::Message& request, const settings& s) {
  std::string prefix = std::string(branch_prefix) + s.instance + ".";
  for (const auto& via : request.vias()) {
    auto branch = via.branch();
    if (branch && branch->substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

std::string via_value(const interface& i, std::string_view branch) {
  std::string host = i.host.find(':') != std::string::npos ? "[" + i.host + "]" : i.host;
  return "SIP/2.0/" + i.transport + " " + host + ":" + std::to_string(i.port) + ";branch=" + std::string(branch);
}

std::string record_route_value(const interface& i, side facing, std::string_view domain) {
  std::string host = i.host.find(':') != std::string::npos ? "[" + i.host + "]" : i.host;
  std::string v = "<sip:" + host + ":" + std::to_string(i.port) + ";transport=" + lower(i.transport) + ";lr;fgw=" +
                  (facing == side::internal ? "int" : "ext");
  if (!domain.empty()) v += ";fgwd=" + std::string(domain);
  return v + ">";
}

decision route_request(const sip::Message& request, side origin,
                       const std::vector<std::string>& origin_identities, const settings& s) {
  decision d;
  auto refuse = [&](int status, std::string reason, bool policy = false) {
    d.status = status;
    d.reason = std::move(reason);
    d.policy_refusal = policy;
    return d;
  };
  auto method = request.method();
  // NOTIFY too: at the subscriber it may create the dialog (RFC 6665 §4.3).
  const bool dialog_creating = method == "INVITE" || method == "SUBSCRIBE" || method == "REFER" || method == "NOTIFY";

  // Our own Route values (double Record-Route, RFC 5658): the last one popped
  // faces the side the request leaves on.
  auto routes = request.routes();
  if (!routes) return refuse(400, "Malformed Route header");
  std::optional<side> leaves;
  std::string route_domain;
  for (const auto& r : *routes) {
    std::string domain;
    auto facing = own_route_side(r, s, &domain);
    if (!facing) break;
    ++d.routes_to_pop;
    leaves = facing;
    if (!domain.empty()) route_domain = domain;
  }
  // The From domain of external requests must be an identity of the peer (anti-spoofing).
  auto from_domain = uri_domain(request.from().uri_text);
  if (origin == side::external && !contains(origin_identities, from_domain)) {
    std::string names;
    for (const auto& n : origin_identities) names += (names.empty() ? "" : ", ") + n;
    return refuse(403, "From domain " + (from_domain.empty() ? std::string("(none)") : from_domain) +
                         " is not an identity of the peer certificate (" + names + ")",
                  true);
  }

  if (leaves) {
    d.in_dialog = true;
    // A single own Route (a peer that kept only one of our values): the other side.
    d.to = d.routes_to_pop >= 2 ? *leaves : (origin == side::internal ? side::external : side::internal);
    if (origin == side::external && d.to == side::external)
      return refuse(403, "Forbidden - relaying between external domains is not allowed", true);
    if (d.to == side::external) {
      d.domain = route_domain;
      if (d.domain.empty()) return refuse(400, "Bad Request - Route names no partner domain");
    } else if (origin == side::external) {
      d.domain = from_domain;
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
    if (ours) return refuse(403, "Forbidden - " + target + " is served internally, not federated", true);
    if (contains(s.blocked, target)) return refuse(403, "Forbidden - federation with " + target + " is blocked", true);
    if (!s.allowed.empty() && !contains(s.allowed, target))
      return refuse(403, "Forbidden - " + target + " is not an allowed partner domain", true);
    d.to = side::external;
    d.domain = target;
  } else {
    if (!ours) return refuse(403, "Forbidden - relaying to " + target + " is not allowed", true);
    if (contains(s.blocked, from_domain))
      return refuse(403, "Forbidden - federation with " + from_domain + " is blocked", true);
    if (!s.allowed.empty() && !contains(s.allowed, from_domain))
      return refuse(403, "Forbidden - " + from_domain + " is not an allowed partner domain", true);
    d.to = side::internal;
    d.domain = from_domain;
  }
  d.record_route = dialog_creating;
  return d;
}

}  // namespace fedgw::proxy
