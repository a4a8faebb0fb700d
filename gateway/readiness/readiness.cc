#include "gateway/readiness/readiness.h"

#include <algorithm>

#include "gateway/net/address.h"
#include "gateway/tls/identity.h"

namespace fedgw::readiness {

namespace {

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : sep) + x;
  return out;
}

bool certificate_configured(const config::Certificate& c) {
  return !c.cert_file().empty() || !c.pkcs12_file().empty();
}

}  // namespace

std::vector<std::string> names_to_check(const tls::validation_result& certificate) {
  std::vector<std::string> names;
  auto add = [&](const std::string& raw) {
    auto name = tls::normalize_domain(raw);
    if (name.empty() || name.find('*') != std::string::npos || !net::is_hostname(name)) return;
    if (!contains(names, name)) names.push_back(name);
  };
  for (const auto& d : certificate.dns_names) add(d);
  for (const auto& uri : certificate.uris) {
    // sip:host only; a user part makes it a user's identity, not a domain's (RFC 5922).
    if (uri.size() > 4 && (uri.compare(0, 4, "sip:") == 0 || uri.compare(0, 4, "SIP:") == 0) &&
        uri.find('@') == std::string::npos)
      add(uri.substr(4));
  }
  if (certificate.dns_names.empty() && certificate.uris.empty()) add(certificate.common_name);
  return names;
}

report analyze(const config::Config& config, const tls::validation_result& certificate,
               const std::vector<dns::resolution>& resolutions, const address_test& is_local,
               const std::optional<proxy_session_view>& proxy) {
  report r;
  const bool proxy_mode = config.mode() == config::SIP_PROXY;
  auto& lines = r.lines;
  auto problem = [&](const std::string& text) {
    r.problems.push_back(text);
  };

  // The certificate.
  if (!certificate_configured(config.certificate()) && proxy_mode && config.sip_proxy().transport() == config::TCP) {
    lines.push_back("Certificate: none configured (not needed: the SIP proxy is reached over TCP)");
  } else if (!certificate_configured(config.certificate())) {
    lines.push_back("Certificate: none configured");
    problem("no certificate configured: open federation needs a CA-signed server certificate "
            "(certificate.cert_file + key_file or pkcs12_file)");
  } else if (!certificate.loaded()) {
    lines.push_back("Certificate: " + certificate.source + " could not be loaded");
  } else {
    lines.push_back("Certificate: " + certificate.subject + " (issuer " + certificate.issuer + ")");
    lines.push_back("  valid " + tls::format_utc(certificate.not_before) + " until " +
                    tls::format_utc(certificate.not_after));
  }
  // Without a certificate the one problem above says it all.
  if (certificate_configured(config.certificate()))
    for (const auto& p : certificate.problems)
      if (p.severity == tls::level::error) problem("certificate: " + p.text);

  // The open-federation listener the SRV record has to lead to.
  const bool listener = config.has_federation_listener();
  const auto& fl = config.federation_listener();
  if (listener) {
    lines.push_back("Open-federation listener: " +
                    net::endpoint{fl.bind_ip(), static_cast<uint16_t>(fl.port())}.to_string() + " (" +
                    config::Transport_Name(fl.transport()) + ")");
  } else if (proxy_mode) {
    lines.push_back("Open-federation listener: not configured (SIP proxy mode: partners come through the proxy)");
  } else {
    lines.push_back("Open-federation listener: not configured");
    problem("federation_listener is not configured: partners cannot connect");
  }
  if (proxy_mode) {
    // Reachability, TLS and login: what the session with the proxy found.
    const auto& p = config.sip_proxy();
    auto where = net::endpoint{p.ip(), static_cast<uint16_t>(p.port())}.to_string() + " over " +
                 config::Transport_Name(p.transport()) + ", user \"" + p.username() + "\"";
    if (!proxy) {
      lines.push_back("SIP proxy: " + where + ": no session");
      problem("SIP proxy " + where + ": the session with the proxy is not running");
    } else if (proxy->state == "registered") {
      lines.push_back("SIP proxy: " + where + ": registered (expires in " + std::to_string(proxy->expires_in_s) + " s)");
    } else if ((proxy->state == "connecting" || proxy->state == "authenticating") && proxy->last_error.empty()) {
      lines.push_back("SIP proxy: " + where + ": " + proxy->state + " (the login is in progress)");
    } else {
      lines.push_back("SIP proxy: " + where + ": " + proxy->state);
      problem("SIP proxy " + where + ": " + proxy->state +
              (proxy->last_error.empty() ? std::string() : ": " + proxy->last_error));
    }
  }

  auto names = names_to_check(certificate);
  const std::vector<std::string> domains(config.domains().begin(), config.domains().end());
  bool any_served = std::any_of(names.begin(), names.end(), [&](const auto& n) { return contains(domains, n); });
  for (const auto& d : domains)
    if (certificate.loaded() && !contains(names, d))
      problem("domain " + d + " is not a name of the certificate (names: " + join(names) + ")");

  for (const auto& name : names) {
    name_result n;
    n.name = name;
    n.served = contains(domains, name);
    // Names that are not served domains (e.g. the gateway's host name) are
    // shown, but only served domains (or all names, when none is served) must resolve.
    const bool required = !proxy_mode && (n.served || !any_served);
    auto found = std::find_if(resolutions.begin(), resolutions.end(),
                              [&](const dns::resolution& res) { return res.domain == name; });
    lines.push_back(name + ":" + (n.served ? "" : " (not one of the served domains)"));
    if (found == resolutions.end()) {
      n.problems.push_back(name + ": not looked up");
    } else {
      for (const auto& q : found->queries) n.queries.push_back(q.text);
      const dns::target* target = found->ok() && !found->targets.empty() ? &found->targets.front() : nullptr;
      if (target && !target->addresses.empty()) {
        n.found = true;
        n.srv_name = target->srv_name;
        n.host = target->host;
        n.host_ip = target->addresses.front().ip;
        n.port = target->port;
        lines.push_back("  DNS host IP: " + n.host_ip);
        lines.push_back("  DNS port: " + std::to_string(n.port));
        lines.push_back("  (" + (n.srv_name.empty() ? "no SRV record; A/AAAA of " + name
                                                   : n.srv_name + " SRV") +
                        " -> " + n.host + ":" + std::to_string(n.port) + ")");
        if (!n.srv_name.empty() && !contains(names, tls::normalize_domain(n.host)))
          n.problems.push_back(name + ": SRV target host " + n.host +
                               " is not a name of the certificate (names: " + join(names) + ")");
        if (!is_local(n.host_ip))
          n.problems.push_back(name + ": DNS host IP " + n.host_ip + " is not an address of this machine");
        else if (listener && fl.bind_ip() != n.host_ip && fl.bind_ip() != "0.0.0.0" && fl.bind_ip() != "::")
          n.problems.push_back(name + ": DNS host IP " + n.host_ip +
                               " is not the open-federation bind IP " + fl.bind_ip());
        if (listener && n.port != fl.port())
          n.problems.push_back(name + ": DNS port " + std::to_string(n.port) +
                               " differs from the open-federation listener port " + std::to_string(fl.port()));
      } else {
        lines.push_back("  nothing found: the DNS-SRV record may not match the certificate or may not be present (" +
                        found->error + ")");
        if (required) n.problems.push_back(name + ": no federation DNS-SRV record found");
      }
      for (const auto& q : n.queries) lines.push_back("  query: " + q);
    }
    if (required)
      for (const auto& p : n.problems) problem(p);
    else
      for (const auto& p : n.problems) lines.push_back("  note: " + p);
    r.names.push_back(std::move(n));
  }
  if (names.empty() && certificate.loaded()) problem("the certificate has no usable SIP domain name to look up");

  if (r.problems.empty()) {
    lines.push_back("Result: consistent");
  } else {
    lines.push_back("Mismatches:");
    for (const auto& p : r.problems) lines.push_back("  - " + p);
    lines.push_back("Result: NOT consistent (" + std::to_string(r.problems.size()) +
                    (r.problems.size() == 1 ? " problem)" : " problems)"));
  }
  r.consistent = r.problems.empty();
  return r;
}

}  // namespace fedgw::readiness
