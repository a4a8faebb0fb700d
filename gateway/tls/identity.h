// Peer identity check for SIP over TLS (RFC 5922, section 7.1 / 7.2).
//
// The identity set of a certificate is its subjectAltName URIs with scheme sip: (host part only; a URI with a
// user part is ignored) and its subjectAltName dNSNames; the subject CN is used only when the certificate has
// no subjectAltName extension at all. A SIP domain matches one of them exactly, case-insensitively (a trailing
// dot is ignored). Wildcards ("*.example.com", matching exactly one label) only with allow_wildcards.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>

namespace fedgw::tls {

struct identity_name {
  enum kind_t { dns, uri, common_name };
  kind_t kind = dns;
  std::string text;     // as written in the certificate: "b.test", "sip:b.test", "sip:alice@b.test"
  std::string host;     // lower-case domain to compare; empty when the entry is not usable
  std::string ignored;  // why it does not count ("has a user part", ...); empty when it counts
};

// Every name of the certificate relevant to RFC 5922, in certificate order (SANs, then the CN when there is no
// SAN extension). Unusable entries come with `ignored` set.
std::vector<identity_name> certificate_identities(X509* cert);

struct identity_result {
  bool ok = false;
  std::string matched;  // the name that matched (as in the certificate)
  std::string reason;   // when !ok: "certificate name mismatch: expected b.test, found peer.test, sip:other.test"
};

identity_result match_identity(const std::vector<identity_name>& names, std::string_view expected_domain,
                               bool allow_wildcards);
identity_result check_peer_identity(X509* peer_cert, std::string_view expected_domain, bool allow_wildcards);

// Lower case, no trailing dot.
std::string normalize_domain(std::string_view domain);
// true when `pattern` ("*.example.com") matches `domain` by replacing "*" with exactly one non-empty label.
// Both must already be normalized. The pattern needs at least two labels after the "*".
bool wildcard_matches(std::string_view pattern, std::string_view domain);

}  // namespace fedgw::tls
