// The outbound target walk (RFC 3263 §4.3): every address of every target of
// a partner domain's resolution, in order, until one connects and verifies.
// Plain code; the connection actor asks for the next attempt and reports why
// the current one failed, and gives up with one text naming every failure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gateway/dns/types.h"
#include "gateway/net/address.h"

namespace fedgw::proxy {

// A route-set node given with a port ("host:port", RFC 3263 §4.2: no SRV
// lookup): its addresses as the single target, over TLS. `node` names it in texts.
inline dns::resolution node_resolution(const std::string& node, uint16_t port, const dns::host_lookup& lookup) {
  dns::resolution r;
  r.domain = "route-set node " + node;
  r.queries = lookup.queries;
  if (lookup.addresses.empty()) {
    r.status = dns::is_failure(lookup.result) ? dns::resolve_status::dns_failure : dns::resolve_status::no_address;
    r.error = "DNS: route-set node " + node + ": no address (" + dns::outcome_name(lookup.result) + ")";
    return r;
  }
  dns::target t;
  t.host = lookup.host;
  t.port = port;
  t.proto = dns::transport::tls;
  for (const auto& a : lookup.addresses) t.addresses.push_back(dns::target_address{a.ip, a.ipv6, false});
  r.targets.push_back(std::move(t));
  r.status = dns::resolve_status::ok;
  return r;
}

class outbound_dialer {
 public:
  struct attempt {
    net::endpoint where;
    std::string host;  // the SRV target (or the domain for the A/AAAA fallback)
    dns::transport proto = dns::transport::tls;
  };

  outbound_dialer() = default;
  explicit outbound_dialer(dns::resolution resolution) : resolution_(std::move(resolution)) {}

  // The next address to try; nullopt when every address of every target was tried.
  std::optional<attempt> next() {
    const auto& targets = resolution_.targets;
    while (target_ < targets.size() && address_ >= targets[target_].addresses.size()) {
      ++target_;
      address_ = 0;
    }
    if (target_ >= targets.size()) return std::nullopt;
    const auto& t = targets[target_];
    current_ = attempt{net::endpoint{t.addresses[address_++].ip, t.port}, t.host, t.proto};
    return current_;
  }
  // Why an attempt failed (connect, TLS, certificate): kept for give_up_text().
  void failed(std::string reason) { errors_.push_back(std::move(reason)); }

  const std::optional<attempt>& current() const { return current_; }
  // "no target of b.test reachable: 10.0.0.1:5061: refused; ..." (or "no address").
  std::string give_up_text() const {
    std::string reasons;
    for (const auto& e : errors_) reasons += (reasons.empty() ? "" : "; ") + e;
    return "no target of " + resolution_.domain + " reachable: " + (reasons.empty() ? "no address" : reasons);
  }

 private:
  dns::resolution resolution_;
  size_t target_ = 0, address_ = 0;
  std::optional<attempt> current_;
  std::vector<std::string> errors_;
};

}  // namespace fedgw::proxy
