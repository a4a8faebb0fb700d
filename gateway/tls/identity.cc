#include "gateway/tls/identity.h"

#include <algorithm>
#include <cctype>

#include <openssl/x509v3.h>

namespace fedgw::tls {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string asn1_text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

identity_name dns_name(std::string text) {
  identity_name n;
  n.kind = identity_name::dns;
  if (has_nul(text)) {
    n.ignored = "contains a NUL byte";
  } else if (text.empty()) {
    n.ignored = "empty";
  } else {
    n.host = normalize_domain(text);
  }
  n.text = std::move(text);
  return n;
}

identity_name uri_name(std::string text) {
  identity_name n;
  n.kind = identity_name::uri;
  if (has_nul(text)) {
    n.ignored = "contains a NUL byte";
  } else if (text.size() < 4 || lower(std::string_view(text).substr(0, 4)) != "sip:") {
    n.ignored = "not a sip: URI";
  } else {
    std::string_view rest = std::string_view(text).substr(4);
    rest = rest.substr(0, rest.find_first_of(";?>"));
    if (rest.find('@') != std::string_view::npos) {
      n.ignored = "has a user part";
    } else {
      std::string_view host;
      if (!rest.empty() && rest.front() == '[') {
        host = rest.substr(0, rest.find(']') == std::string_view::npos ? rest.size() : rest.find(']') + 1);
      } else {
        host = rest.substr(0, rest.find(':'));
      }
      if (host.empty())
        n.ignored = "has no host";
      else
        n.host = normalize_domain(host);
    }
  }
  n.text = std::move(text);
  return n;
}

std::string display(const identity_name& n) {
  if (n.kind == identity_name::common_name) return "CN=" + n.text;
  return n.text;
}

}  // namespace

std::string normalize_domain(std::string_view domain) {
  while (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  return lower(domain);
}

bool wildcard_matches(std::string_view pattern, std::string_view domain) {
  if (pattern.size() < 3 || pattern.substr(0, 2) != "*.") return false;
  std::string_view base = pattern.substr(1);  // ".example.com"
  // at least two labels after the "*", no further wildcard
  if (base.find('.', 1) == std::string_view::npos || base.find('*') != std::string_view::npos) return false;
  if (domain.size() <= base.size()) return false;
  if (domain.substr(domain.size() - base.size()) != base) return false;
  std::string_view label = domain.substr(0, domain.size() - base.size());
  return !label.empty() && label.find('.') == std::string_view::npos;
}

std::vector<identity_name> certificate_identities(X509* cert) {
  std::vector<identity_name> out;
  if (!cert) return out;
  bool has_san = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) >= 0;
  if (has_san) {
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (names) {
      for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type == GEN_DNS)
          out.push_back(dns_name(asn1_text(gn->d.dNSName)));
        else if (gn->type == GEN_URI)
          out.push_back(uri_name(asn1_text(gn->d.uniformResourceIdentifier)));
      }
      GENERAL_NAMES_free(names);
    }
  }
  // The most specific (last) CN of the subject.
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = -1;
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i))
    index = i;
  if (index >= 0) {
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
    if (len >= 0) {
      identity_name n = dns_name(std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(len)));
      n.kind = identity_name::common_name;
      if (has_san && n.ignored.empty()) {
        n.host.clear();
        n.ignored = "the certificate has a subjectAltName";
      }
      out.push_back(std::move(n));
    }
    OPENSSL_free(utf8);
  }
  return out;
}

identity_result match_identity(const std::vector<identity_name>& names, std::string_view expected_domain,
                               bool allow_wildcards) {
  identity_result result;
  std::string expected = normalize_domain(expected_domain);
  std::string found;
  bool wildcard_refused = false;
  for (const auto& n : names) {
    std::string note = n.ignored;
    if (note.empty() && !expected.empty()) {
      bool wildcard = n.host.find('*') != std::string::npos;
      if (!wildcard && n.host == expected) {
        result.ok = true;
        result.matched = n.text;
        return result;
      }
      if (wildcard) {
        if (!allow_wildcards) {
          note = "wildcard, not allowed";
          wildcard_refused = true;
        } else if (n.kind == identity_name::dns && wildcard_matches(n.host, expected)) {
          result.ok = true;
          result.matched = n.text;
          return result;
        }
      }
    }
    if (!found.empty()) found += ", ";
    found += display(n);
    if (!note.empty()) found += " (" + note + ")";
  }
  result.reason = "certificate name mismatch: expected " + (expected.empty() ? std::string("(no domain)") : expected) +
                  ", found " + (found.empty() ? std::string("no names (no subjectAltName and no CN)") : found);
  if (wildcard_refused) result.reason += "; wildcard names are accepted only with certificate.allow_wildcards";
  return result;
}

identity_result check_peer_identity(X509* peer_cert, std::string_view expected_domain, bool allow_wildcards) {
  if (!peer_cert) {
    identity_result r;
    r.reason = "the peer presented no certificate (expected " + normalize_domain(expected_domain) + ")";
    return r;
  }
  return match_identity(certificate_identities(peer_cert), expected_domain, allow_wildcards);
}

}  // namespace fedgw::tls
