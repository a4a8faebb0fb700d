#include "gateway/tls/certificate.h"

#include "gateway/net/file_kind.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "gateway/tls/identity.h"

namespace fedgw::tls {

namespace {

void add(std::vector<problem>& out, level l, std::string text) { out.push_back({l, std::move(text)}); }

// Certificates, keys, bundles and CRLs are far smaller; a CA bundle like Debian's is about 200 KB.
constexpr off_t max_file_bytes = 16 << 20;


// Reads `path` (the value of config field `field`) into `content`; returns the problem text, empty on success.
// Anything but a regular file is refused before it is opened: a FIFO would block the reading actor, a device
// could be endless. O_NONBLOCK and the fstat on the descriptor cover a path replaced in between.
std::string read_file(const std::string& field, const std::string& path, std::string& content) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    return field + ": " + path + " is " + net::file_kind(st.st_mode) + ", not a regular file";
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return "cannot read " + field + " " + path + ": " + std::strerror(errno);
  std::string error;
  if (::fstat(fd, &st) != 0) {
    error = "cannot read " + field + " " + path + ": " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    error = field + ": " + path + " is " + net::file_kind(st.st_mode) + ", not a regular file";
  } else if (st.st_size > max_file_bytes) {
    error = field + ": " + path + " is " + std::to_string(st.st_size) + " bytes, more than a certificate file (" +
            std::to_string(max_file_bytes) + ")";
  } else {
    content.clear();
    char buf[16384];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        content.append(buf, static_cast<size_t>(n));
        if (content.size() > static_cast<size_t>(max_file_bytes)) {
          error = field + ": " + path + " grew beyond " + std::to_string(max_file_bytes) + " bytes while read";
          break;
        }
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) error = "cannot read " + field + " " + path + ": " + std::strerror(errno);
      break;
    }
  }
  ::close(fd);
  return error;
}

bio_ptr memory_bio(const std::string& content) {
  return bio_ptr{BIO_new_mem_buf(content.data(), static_cast<int>(content.size()))};
}

std::vector<x509_ptr> read_pem_certs(const std::string& content) {
  std::vector<x509_ptr> out;
  auto bio = memory_bio(content);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the final "no start line"
  return out;
}

std::string hex(const unsigned char* data, size_t n, bool colons) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (colons && i) out += ':';
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, const char* sep = ", ") {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// Chain verification errors, collected by the verify callback (which lets verification continue).
struct chain_error {
  int code;
  int depth;
  std::string subject;
  std::string issuer;
};
thread_local std::vector<chain_error>* collected_errors = nullptr;

int collect_verify_errors(int ok, X509_STORE_CTX* ctx) {
  if (!ok && collected_errors) {
    X509* current = X509_STORE_CTX_get_current_cert(ctx);
    collected_errors->push_back({X509_STORE_CTX_get_error(ctx), X509_STORE_CTX_get_error_depth(ctx),
                                 current ? name_text(X509_get_subject_name(current)) : std::string("?"),
                                 current ? name_text(X509_get_issuer_name(current)) : std::string("?")});
  }
  return 1;
}

// Trusted CAs from a PEM bundle, or the system store when `path` is empty.
store_ptr load_trust(const std::string& field, const std::string& path, std::string& source, bool& system,
                     std::vector<problem>& out) {
  store_ptr store{X509_STORE_new()};
  system = path.empty();
  if (!system) {
    source = "CA bundle " + path;
    std::string content;
    if (auto error = read_file(field, path, content); !error.empty()) {
      add(out, level::error, std::move(error));
    } else {
      auto cas = read_pem_certs(content);
      if (cas.empty()) add(out, level::error, field + " " + path + " contains no certificates");
      for (const auto& ca : cas) X509_STORE_add_cert(store.get(), ca.get());  // takes its own reference
      ERR_clear_error();
    }
  } else {
    source = "system trust store";
    if (X509_STORE_set_default_paths(store.get()) != 1)
      add(out, level::error, "cannot load the system trust store: " + last_openssl_error());
  }
  return store;
}

// certificate.crl_files: each file holds one or more PEM CRLs, or one DER CRL.
void load_crls(const config::Certificate& cfg, std::vector<crl_ptr>& crls, std::vector<problem>& out) {
  for (int i = 0; i < cfg.crl_files_size(); ++i) {
    const auto& path = cfg.crl_files(i);
    auto field = "certificate.crl_files[" + std::to_string(i) + "]";
    std::string content;
    if (auto error = read_file(field, path, content); !error.empty()) {
      add(out, level::error, std::move(error));
      continue;
    }
    size_t before = crls.size();
    auto bio = memory_bio(content);
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) crls.emplace_back(crl);
    if (crls.size() == before) {
      auto der = memory_bio(content);
      if (X509_CRL* crl = d2i_X509_CRL_bio(der.get(), nullptr)) crls.emplace_back(crl);
    }
    ERR_clear_error();
    if (crls.size() == before) add(out, level::error, field + ": " + path + " contains no CRL (PEM or DER)");
  }
}

void check_chain(const credentials& c, int64_t now, bool self_signed, uint32_t depth, std::vector<problem>& out) {
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (const auto& x : c.chain) sk_X509_push(untrusted, x.get());
  std::vector<chain_error> errors;
  std::vector<std::string> path;
  if (ctx && X509_STORE_CTX_init(ctx, c.trust.get(), c.cert.get(), untrusted) == 1) {
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now));
    X509_VERIFY_PARAM_set_depth(param, static_cast<int>(depth));
    // Our own certificate against the configured CRLs too: peers that check them would refuse it.
    if (!c.crls.empty()) X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    X509_STORE_CTX_set_verify_cb(ctx, collect_verify_errors);
    collected_errors = &errors;
    int rc = X509_verify_cert(ctx);
    collected_errors = nullptr;
    if (rc != 1 && errors.empty())
      errors.push_back({X509_STORE_CTX_get_error(ctx), X509_STORE_CTX_get_error_depth(ctx), "?", "?"});
    if (STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx))
      for (int i = 0; i < sk_X509_num(chain); ++i)
        path.push_back(name_text(X509_get_subject_name(sk_X509_value(chain, i))));
  } else {
    add(out, level::error, "certificate chain check could not run: " + last_openssl_error());
  }
  sk_X509_free(untrusted);
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();

  bool reported = false;
  for (const auto& e : errors) {
    if (e.depth == 0 && (e.code == X509_V_ERR_CERT_NOT_YET_VALID || e.code == X509_V_ERR_CERT_HAS_EXPIRED))
      continue;  // reported with the dates
    if (self_signed && (e.code == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
                        (e.depth == 0 && e.code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY)))
      continue;  // reported as self-signed
    if (e.code == X509_V_ERR_UNABLE_TO_GET_CRL || e.code == X509_V_ERR_CRL_HAS_EXPIRED ||
        e.code == X509_V_ERR_CRL_NOT_YET_VALID)
      continue;  // a CA without a CRL is not checked; CRL dates are reported with the CRLs
    reported = true;
    switch (e.code) {
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: {
        std::string text = "certificate chain does not lead to a trusted CA: the issuer \"" + e.issuer + "\" of \"" +
                           e.subject + "\" is neither in the certificate file nor in the " + c.trust_source;
        if (c.chain.empty())
          text += " (the certificate file holds no intermediate certificates: append them after the certificate)";
        add(out, level::error, std::move(text));
        break;
      }
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        add(out, level::error, "certificate chain does not lead to a trusted CA: its root \"" + e.subject +
                                   "\" is not in the " + c.trust_source);
        break;
      case X509_V_ERR_CERT_REVOKED:
        add(out, level::error, "certificate revoked: \"" + e.subject + "\" is on a CRL of certificate.crl_files");
        break;
      case X509_V_ERR_CERT_CHAIN_TOO_LONG:
        add(out, level::error, "certificate chain is longer than certificate.verify_depth (" + std::to_string(depth) +
                                   " intermediate CA certificates) allows");
        break;
      default:
        add(out, level::error, "certificate chain verification failed at depth " + std::to_string(e.depth) +
                                   " (\"" + e.subject + "\"): " + X509_verify_cert_error_string(e.code));
    }
  }
  if (!reported && !self_signed)
    add(out, level::info, "certificate chain verified: " + join(path, " <- ") + " (trusted by the " +
                              c.trust_source + ")");
}

}  // namespace

const char* level_name(level l) {
  switch (l) {
    case level::error: return "ERROR";
    case level::warning: return "WARN";
    default: return "INFO";
  }
}

bool validation_result::ok() const {
  if (!loaded()) return false;
  for (const auto& p : problems)
    if (p.severity == level::error) return false;
  return true;
}

std::vector<std::string> validation_result::errors() const {
  std::vector<std::string> out;
  for (const auto& p : problems)
    if (p.severity == level::error) out.push_back(p.text);
  return out;
}

bool validation_result::has_problem(level at_least, const std::string& text_part) const {
  for (const auto& p : problems)
    if (p.severity >= at_least && p.text.find(text_part) != std::string::npos) return true;
  return false;
}

std::string validation_result::to_text() const {
  std::ostringstream out;
  out << "certificate " << (loaded() ? subject : std::string("(not loaded)")) << " from " << source
      << (ok() ? " - usable" : " - NOT usable") << "\n";
  if (loaded()) {
    std::vector<std::string> names = dns_names;
    names.insert(names.end(), uris.begin(), uris.end());
    out << "  issuer:      " << issuer << "\n"
        << "  names:       " << (names.empty() ? "CN " + common_name + " (no subjectAltName)" : join(names)) << "\n"
        << "  valid:       " << format_utc(not_before) << " .. " << format_utc(not_after) << "\n"
        << "  sha256:      " << fingerprint << "\n"
        << "  serial:      " << serial << "\n";
  }
  out << "  trusted CAs: " << trust_source << "\n";
  for (const auto& p : problems) out << "  " << level_name(p.severity) << ": " << p.text << "\n";
  return out.str();
}

load_result load_credentials(const config::Certificate& cfg, const config::Listener* internal) {
  load_result r;
  credentials c;
  ERR_clear_error();
  if (!cfg.pkcs12_file().empty()) {
    c.source = cfg.pkcs12_file();
    std::string content;
    if (auto error = read_file("certificate.pkcs12_file", cfg.pkcs12_file(), content); !error.empty()) {
      add(r.problems, level::error, std::move(error));
    } else {
      auto bio = memory_bio(content);
      PKCS12* p12 = d2i_PKCS12_bio(bio.get(), nullptr);
      if (!p12) {
        add(r.problems, level::error, "pkcs12_file " + cfg.pkcs12_file() + " is not a PKCS#12 file: " +
                                          last_openssl_error());
      } else {
        const char* pass = cfg.pkcs12_password().c_str();
        if (PKCS12_mac_present(p12) && PKCS12_verify_mac(p12, pass, -1) != 1) {
          add(r.problems, level::error, "cannot open pkcs12_file " + cfg.pkcs12_file() +
                                            ": wrong pkcs12_password (MAC verification failed)");
        } else {
          EVP_PKEY* key = nullptr;
          X509* cert = nullptr;
          STACK_OF(X509)* ca = nullptr;
          if (PKCS12_parse(p12, pass, &key, &cert, &ca) != 1) {
            std::string why = last_openssl_error();
            if (why.find("unsupported") != std::string::npos)
              why += " (legacy PKCS#12 encryption such as RC2 needs the OpenSSL legacy provider: re-export the "
                     "file with current defaults)";
            add(r.problems, level::error, "cannot read pkcs12_file " + cfg.pkcs12_file() + ": " + why);
          }
          c.key.reset(key);
          c.cert.reset(cert);
          if (ca) {
            for (int i = 0; i < sk_X509_num(ca); ++i) c.chain.emplace_back(sk_X509_value(ca, i));
            sk_X509_free(ca);  // the certificates are owned by c.chain now
          }
          if (r.problems.empty() && !c.cert)
            add(r.problems, level::error, "pkcs12_file " + cfg.pkcs12_file() + " holds no certificate");
          if (r.problems.empty() && !c.key)
            add(r.problems, level::error, "pkcs12_file " + cfg.pkcs12_file() + " holds no private key");
        }
        PKCS12_free(p12);
      }
    }
  } else if (!cfg.cert_file().empty()) {
    c.source = cfg.cert_file() + " + " + cfg.key_file();
    std::string content;
    if (auto error = read_file("certificate.cert_file", cfg.cert_file(), content); !error.empty()) {
      add(r.problems, level::error, std::move(error));
    } else {
      auto certs = read_pem_certs(content);
      if (certs.empty()) {
        add(r.problems, level::error, "cert_file " + cfg.cert_file() + " contains no PEM certificate");
      } else {
        c.cert = std::move(certs.front());
        for (size_t i = 1; i < certs.size(); ++i) c.chain.push_back(std::move(certs[i]));
      }
    }
    if (cfg.key_file().empty()) {
      add(r.problems, level::error, "key_file is not set");
    } else if (auto error = read_file("certificate.key_file", cfg.key_file(), content); !error.empty()) {
      add(r.problems, level::error, std::move(error));
    } else {
      auto bio = memory_bio(content);
      bool asked_password = false;
      auto no_password = [](char*, int, int, void* asked) -> int {
        *static_cast<bool*>(asked) = true;
        return -1;
      };
      c.key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, &asked_password));
      if (!c.key) {
        std::string why = asked_password ? std::string("the key is encrypted; fedgw needs an unencrypted PEM key "
                                                       "(protect it by file permissions) or a PKCS#12 file")
                                         : last_openssl_error("no PEM private key found");
        add(r.problems, level::error, "cannot read certificate.key_file " + cfg.key_file() + ": " + why);
      }
    }
  } else {
    add(r.problems, level::error, "no certificate configured (set cert_file + key_file or pkcs12_file)");
  }

  c.trust = load_trust("certificate.ca_bundle", cfg.ca_bundle(), c.trust_source, c.system_trust, r.problems);
  load_crls(cfg, c.crls, r.problems);
  for (const auto& crl : c.crls) X509_STORE_add_crl(c.trust.get(), crl.get());  // takes its own reference
  if (internal && !internal->ca_bundle().empty()) {
    c.internal_trust = load_trust("internal_listener.ca_bundle", internal->ca_bundle(), c.internal_trust_source,
                                  c.internal_system_trust, r.problems);
    for (const auto& crl : c.crls) X509_STORE_add_crl(c.internal_trust.get(), crl.get());
  }
  ERR_clear_error();
  if (c.cert) r.creds = std::move(c);  // with problems: still describes the certificate
  return r;
}

validate_options options_for(const config::Certificate& cfg, bool mutual_tls) {
  validate_options o;
  o.mutual_tls = mutual_tls;
  o.expiry_warning_days = cfg.has_expiry_warning_days() ? cfg.expiry_warning_days() : 30;
  o.allow_wildcards = cfg.allow_wildcards();
  o.require_client_auth_eku = cfg.require_client_auth_eku();
  o.verify_depth = cfg.has_verify_depth() ? cfg.verify_depth() : default_verify_depth;
  return o;
}

certificate_description describe_certificate(X509* cert) {
  certificate_description d;
  if (!cert) return d;
  d.subject = name_text(X509_get_subject_name(cert));
  d.issuer = name_text(X509_get_issuer_name(cert));
  d.not_before = asn1_time_unix(X509_get0_notBefore(cert));
  d.not_after = asn1_time_unix(X509_get0_notAfter(cert));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) == 1) d.fingerprint = hex(md, md_len, true);
  if (const ASN1_INTEGER* serial = X509_get0_serialNumber(cert))
    d.serial = hex(serial->data, static_cast<size_t>(serial->length), false);
  return d;
}

validation_result validate(const credentials& c, const validate_options& options) {
  validation_result v;
  v.source = c.source;
  v.trust_source = c.trust_source;
  if (!c.cert) {
    add(v.problems, level::error, "no certificate loaded");
    return v;
  }
  X509* cert = c.cert.get();
  int64_t now = options.now ? options.now : static_cast<int64_t>(std::time(nullptr));

  // Description
  auto d = describe_certificate(cert);
  v.subject = std::move(d.subject);
  v.issuer = std::move(d.issuer);
  v.not_before = d.not_before;
  v.not_after = d.not_after;
  v.fingerprint = std::move(d.fingerprint);
  v.serial = std::move(d.serial);
  v.chain_length = c.chain.size();
  auto names = certificate_identities(cert);
  for (const auto& n : names) {
    if (n.kind == identity_name::dns) v.dns_names.push_back(n.text);
    else if (n.kind == identity_name::uri) v.uris.push_back(n.text);
    else v.common_name = n.text;
  }

  // 1. Chain to a trusted CA; self-signed certificates are refused.
  bool self_signed = X509_self_signed(cert, 0) == 1;
  if (self_signed)
    add(v.problems, level::error, "certificate is self-signed (subject = issuer = \"" + v.subject +
                                      "\"): self-signed certificates are refused for federation; use a certificate "
                                      "issued by a CA the federation peers trust");
  if (c.trust) check_chain(c, now, self_signed, options.verify_depth, v.problems);

  // 2. Validity dates
  std::string from = format_utc(v.not_before), until = format_utc(v.not_after);
  if (now < v.not_before) {
    add(v.problems, level::error, "certificate is not yet valid: valid from " + from + " until " + until +
                                      " (now " + format_utc(now) + ")");
  } else if (now > v.not_after) {
    add(v.problems, level::error, "certificate expired on " + until + " (valid from " + from + ", now " +
                                      format_utc(now) + ")");
  } else {
    int64_t days_left = (v.not_after - now) / 86400;
    if (v.not_after - now < static_cast<int64_t>(options.expiry_warning_days) * 86400)
      add(v.problems, level::warning, "certificate expires in " + std::to_string(days_left) + " days, on " + until +
                                          " (expiry_warning_days = " + std::to_string(options.expiry_warning_days) +
                                          "): renew it");
    else
      add(v.problems, level::info, "certificate valid from " + from + " until " + until + " (" +
                                       std::to_string(days_left) + " days left)");
  }

  // 3. Key matches the certificate
  if (!c.key) {
    add(v.problems, level::error, "no private key loaded");
  } else {
    if (X509_check_private_key(cert, c.key.get()) != 1)
      add(v.problems, level::error, "private key does not match the certificate \"" + v.subject + "\" (" + c.source +
                                        ")");
    if (EVP_PKEY_get_base_id(c.key.get()) == EVP_PKEY_RSA && EVP_PKEY_get_bits(c.key.get()) < 2048)
      add(v.problems, level::error, "RSA key of " + std::to_string(EVP_PKEY_get_bits(c.key.get())) +
                                        " bits is too weak (at least 2048 bits are needed)");
    ERR_clear_error();
  }

  // 4. Key usage and extended key usage
  uint32_t flags = X509_get_extension_flags(cert);
  if (flags & EXFLAG_KUSAGE) {
    uint32_t ku = X509_get_key_usage(cert);
    if (!(ku & KU_DIGITAL_SIGNATURE)) {
      bool rsa = c.key && EVP_PKEY_get_base_id(c.key.get()) == EVP_PKEY_RSA;
      if (rsa && (ku & KU_KEY_ENCIPHERMENT))
        add(v.problems, level::warning, "certificate key usage lacks digitalSignature: only TLS 1.2 RSA key "
                                            "exchange can work, TLS 1.3 and ECDHE handshakes will fail");
      else
        add(v.problems, level::error, "certificate key usage lacks digitalSignature needed for TLS");
    }
  }
  if (flags & EXFLAG_XKUSAGE) {
    uint32_t xku = X509_get_extended_key_usage(cert);
    bool any = xku & XKU_ANYEKU;
    if (!any && !(xku & XKU_SSL_SERVER))
      add(v.problems, level::error, "certificate lacks the serverAuth extended key usage needed for a TLS server");
    if (!any && !(xku & XKU_SSL_CLIENT)) {
      if (options.mutual_tls && options.require_client_auth_eku)
        add(v.problems, level::error, "certificate lacks the clientAuth extended key usage needed for mutual TLS "
                                      "(certificate.require_client_auth_eku is set)");
      else if (options.mutual_tls)
        add(v.problems, level::warning, "certificate lacks the clientAuth extended key usage: fedgw accepts it for "
                                        "mutual TLS, but partners that require clientAuth will refuse it (public "
                                        "CAs no longer issue it; set certificate.require_client_auth_eku to refuse "
                                        "such certificates)");
      else
        add(v.problems, level::info, "certificate has no clientAuth extended key usage (not needed: mutual TLS "
                                         "is not used)");
    }
  }

  // 5. Subject names
  std::vector<std::string> shown;
  bool usable = false;
  for (const auto& n : names) {
    if (n.kind == identity_name::common_name && !n.ignored.empty()) continue;
    shown.push_back(n.kind == identity_name::common_name ? "CN " + n.text : n.text);
    usable = usable || n.ignored.empty();
    if (n.kind == identity_name::uri && !n.ignored.empty())
      add(v.problems, level::warning, "subjectAltName URI " + n.text + " " + n.ignored +
                                          " and is ignored by peers (RFC 5922)");
    if (n.kind == identity_name::dns && n.host.find('*') != std::string::npos)
      add(v.problems, level::warning, "subjectAltName " + n.text + " is a wildcard: RFC 5922 peers do not accept "
                                          "wildcard names");
  }
  bool has_san = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) >= 0;
  add(v.problems, level::info, "certificate subject \"" + v.subject + "\", names: " +
                                   (shown.empty() ? std::string("none") : join(shown)));
  if (!has_san && usable)
    add(v.problems, level::warning, "certificate has no subjectAltName: peers can only use its CN " + v.common_name +
                                        " (RFC 5922 prefers SAN dNSName / sip: URI)");
  if (!usable)
    add(v.problems, level::error, "certificate has no usable name (no subjectAltName dNSName or sip: URI and no "
                                      "CN): peers cannot verify the gateway's identity");
  for (const auto& domain : options.domains) {
    auto m = match_identity(names, domain, false);
    if (!m.ok)
      add(v.problems, level::warning, "certificate does not cover the served domain " + domain + ": " + m.reason);
  }

  // 6. CRLs: a stale one makes every certificate of its CA fail verification.
  for (const auto& crl : c.crls) {
    std::string issuer = name_text(X509_CRL_get_issuer(crl.get()));
    int64_t next = asn1_time_unix(X509_CRL_get0_nextUpdate(crl.get()));
    STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
    std::string text = "CRL of \"" + issuer + "\" (" + std::to_string(revoked ? sk_X509_REVOKED_num(revoked) : 0) +
                       " revoked, next update " + (next ? format_utc(next) : std::string("not set")) + ")";
    if (next && next < now)
      add(v.problems, level::warning, text + " has expired: certificates of this CA are refused until a current "
                                             "CRL is installed");
    else
      add(v.problems, level::info, text + " is checked");
  }
  return v;
}

validation_result load_and_validate(const config::Certificate& cfg, const validate_options& options,
                                    std::optional<credentials>* creds, const config::Listener* internal) {
  auto loaded = load_credentials(cfg, internal);
  validation_result v;
  if (loaded.creds && loaded.creds->cert) {
    v = validate(*loaded.creds, options);
  } else {
    v.source = !cfg.pkcs12_file().empty() ? cfg.pkcs12_file() : cfg.cert_file() + " + " + cfg.key_file();
    v.trust_source = cfg.ca_bundle().empty() ? "system trust store" : "CA bundle " + cfg.ca_bundle();
  }
  v.problems.insert(v.problems.begin(), loaded.problems.begin(), loaded.problems.end());
  if (internal && (internal->transport() == config::MTLS ||
                   (internal->transport() == config::TLS && internal->request_client_cert()))) {
    std::string trust = internal->ca_bundle().empty() ? v.trust_source + " (certificate.ca_bundle)"
                                                      : "CA bundle " + internal->ca_bundle();
    std::string names;
    for (const auto& n : internal->peer_names()) names += (names.empty() ? "" : ", ") + n;
    if (internal->transport() == config::MTLS && internal->ca_bundle().empty() && names.empty())
      add(v.problems, level::warning, "internal_listener: any client certificate the " + trust + " trusts is "
                                      "accepted as the UC server; set internal_listener.ca_bundle or "
                                      "internal_listener.peer_names");
    else
      add(v.problems, level::info, "internal_listener: the UC server's certificate is verified against the " + trust +
                                       (names.empty() ? std::string(", any name") : ", names: " + names));
  }
  if (creds) {
    if (loaded.problems.empty()) *creds = std::move(loaded.creds);
    else creds->reset();
  }
  return v;
}

}  // namespace fedgw::tls
