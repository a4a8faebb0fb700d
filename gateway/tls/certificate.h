// Loading and validating the gateway's own certificate, key and trusted CAs (no actors, no CAF).
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "gateway/tls/openssl_ptr.h"
#include "gateway/tls/errors.h"
#include "proto/config.pb.h"

namespace fedgw::tls {

// Same values as fedgw::severity (gateway/severity.h).
enum class level : uint8_t { info = 1, warning = 2, error = 3 };
const char* level_name(level l);

struct problem {
  level severity = level::error;
  std::string text;
};

// Everything a readiness check or `fedctl cert` prints about one certificate.
struct validation_result {
  std::string source;        // "cert.pem + key.pem" or "bundle.p12"
  std::string trust_source;  // "CA bundle ca.pem" or "system trust store"
  std::vector<problem> problems;  // in check order; errors make the certificate unusable
  std::string subject;       // RFC 2253, e.g. "CN=gw.a.test,O=fedgw test"
  std::string issuer;
  std::string common_name;
  std::vector<std::string> dns_names;  // SAN dNSName
  std::vector<std::string> uris;       // SAN URI (all schemes)
  int64_t not_before = 0;    // unix seconds
  int64_t not_after = 0;
  std::string fingerprint;   // SHA-256, "AB:CD:..."
  std::string serial;        // hex
  size_t chain_length = 0;   // certificates sent after the leaf

  bool loaded() const { return !fingerprint.empty(); }
  bool ok() const;  // loaded and no error
  std::vector<std::string> errors() const;
  bool has_problem(level at_least, const std::string& text_part) const;
  // Multi-line human-readable summary: identity, dates, then one line per problem.
  std::string to_text() const;
};

// What a certificate says about itself (no checks): the description part of validation_result.
struct certificate_description {
  std::string subject;   // RFC 2253
  std::string issuer;
  int64_t not_before = 0;  // unix seconds
  int64_t not_after = 0;
  std::string fingerprint;  // SHA-256, "AB:CD:..."
  std::string serial;       // hex
};
certificate_description describe_certificate(X509* cert);

struct credentials {
  x509_ptr cert;
  std::vector<x509_ptr> chain;  // intermediates, leaf first order as in the file
  pkey_ptr key;
  store_ptr trust;              // the trusted CAs
  std::string source;
  std::string trust_source;
  bool system_trust = false;    // trust is the system store (not a configured bundle)
  std::vector<crl_ptr> crls;    // certificate.crl_files, also added to `trust` (and `internal_trust`)
  // internal_listener.ca_bundle: verifies the UC server's client certificate; null: `trust` does.
  store_ptr internal_trust;
  std::string internal_trust_source;
  bool internal_system_trust = false;
};

struct load_result {
  std::optional<credentials> creds;  // empty when something could not be read
  std::vector<problem> problems;     // read errors (files, password, empty bundle)
};

// Reads cert_file + key_file (PEM, the certificate file may carry the chain after the leaf) or pkcs12_file +
// pkcs12_password, the trusted CAs (ca_bundle, or the system store when empty), the CRLs (crl_files), and
// with `internal` its ca_bundle. A path that is not a regular file (directory, FIFO, device) is refused
// without being opened: "certificate.cert_file: /x is a FIFO, not a regular file".
load_result load_credentials(const config::Certificate& cfg, const config::Listener* internal = nullptr);

inline constexpr uint32_t default_verify_depth = 5;

struct validate_options {
  bool mutual_tls = true;           // the certificate is also presented as a TLS client (clientAuth needed)
  uint32_t expiry_warning_days = 30;
  bool allow_wildcards = false;
  // Without it a certificate lacking clientAuth is only a warning (public CAs no longer issue it).
  bool require_client_auth_eku = false;
  uint32_t verify_depth = default_verify_depth;  // intermediate CA certificates allowed above the leaf
  std::vector<std::string> domains; // SIP domains the gateway serves: warn when not covered by the certificate
  int64_t now = 0;                  // unix seconds; 0: the current time
};

// Chain to a trusted CA (self-signed refused), validity dates, expiry warning, key/cert match, key usage and
// extended key usage, subject names.
validation_result validate(const credentials& creds, const validate_options& options);

// load_credentials + validate; `creds` receives the credentials when they could be read. With `internal`, also
// its ca_bundle, and a warning when an MTLS internal listener would accept any trusted certificate.
validation_result load_and_validate(const config::Certificate& cfg, const validate_options& options,
                                    std::optional<credentials>* creds = nullptr,
                                    const config::Listener* internal = nullptr);

// The options of a Certificate config (expiry_warning_days, allow_wildcards, require_client_auth_eku,
// verify_depth).
validate_options options_for(const config::Certificate& cfg, bool mutual_tls = true);


}  // namespace fedgw::tls
