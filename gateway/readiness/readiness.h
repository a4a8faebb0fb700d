// The federation readiness check (the seed's "DNS-SRV record corresponding
// with the certificate"): for each name of the selected certificate, the
// federation SRV record, the host IP and port it leads to, and every
// mismatch with the certificate and the open-federation listener.
// Plain code: the inputs (certificate validation, DNS answers) are gathered by
// the supervisor's actors.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gateway/dns/types.h"
#include "gateway/tls/certificate.h"
#include "proto/config.pb.h"

namespace fedgw::readiness {

struct name_result {
  std::string name;
  bool served = false;          // one of config.domains
  bool found = false;           // a federation SRV (or A fallback) gave a host
  std::string srv_name;         // the record that did
  std::string host;
  std::string host_ip;          // "DNS host IP"
  uint16_t port = 0;            // "DNS port"
  std::vector<std::string> queries;   // every question asked, with its outcome
  std::vector<std::string> problems;  // mismatches found for this name
};

struct report {
  bool consistent = false;
  std::vector<name_result> names;
  std::vector<std::string> problems;  // every mismatch, one line each (also those of names)
  std::vector<std::string> lines;     // the printed report
};

// The certificate's SIP identities to look up (RFC 5922: SAN dNSNames and
// sip: URI hosts, CN only without SAN), lower case, without wildcards or duplicates.
std::vector<std::string> names_to_check(const tls::validation_result& certificate);

using address_test = std::function<bool(const std::string& ip)>;

// SIP_PROXY mode: the session with the proxy as last seen (reachability, TLS, login).
struct proxy_session_view {
  std::string state;  // "disconnected", "connecting", "authenticating", "registered", "rejected"
  std::string proxy;  // "127.0.0.1:5070"
  std::string transport;
  std::string user;
  std::string last_error;
  int64_t expires_in_s = 0;
};

// `certificate` is the validation of the certificate in use (or of the failed
// attempt); `resolutions` holds resolve_domain results for names_to_check();
// `is_local` tells whether an IP is an address of this machine. In SIP_PROXY mode partners are reached
// through the proxy: the open-federation listener and the DNS records are shown, not required, and the
// session with the proxy (`proxy`; none: not running) must be logged in.
report analyze(const config::Config& config, const tls::validation_result& certificate,
               const std::vector<dns::resolution>& resolutions, const address_test& is_local,
               const std::optional<proxy_session_view>& proxy = std::nullopt);

}  // namespace fedgw::readiness
