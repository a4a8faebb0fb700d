#include "gateway/tls/verify.h"

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "gateway/tls/errors.h"

namespace fedgw::tls {

namespace {

// The first failure of one handshake's verification (owned by the SSL object's ex_data).
struct verify_failure {
  int code = X509_V_OK;
  int depth = 0;
  std::string subject;  // of the certificate that failed
  std::string issuer;
  std::string serial;
  int64_t not_before = 0;
  int64_t not_after = 0;
  uint32_t xku = 0;     // extended key usage bits (XKU_*); all bits when the certificate has none
  std::string leaf_subject;
  std::string leaf_issuer;
  std::string crl_issuer;
  int64_t crl_next_update = 0;
};

void free_failure(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<verify_failure*>(ptr); }

int failure_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_failure);
  return index;
}

std::string serial_text(X509* x) {
  const ASN1_INTEGER* serial = x ? X509_get0_serialNumber(x) : nullptr;
  BIGNUM* bn = serial ? ASN1_INTEGER_to_BN(serial, nullptr) : nullptr;
  char* hex = bn ? BN_bn2hex(bn) : nullptr;
  std::string out = hex ? hex : "?";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

void record(X509_STORE_CTX* ctx, int code, int depth, X509* current) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (!ssl || SSL_get_ex_data(ssl, failure_index())) return;  // the first failure is the one that counts
  auto* f = new verify_failure;
  f->code = code;
  f->depth = depth;
  if (current) {
    f->subject = name_text(X509_get_subject_name(current));
    f->issuer = name_text(X509_get_issuer_name(current));
    f->serial = serial_text(current);
    f->not_before = asn1_time_unix(X509_get0_notBefore(current));
    f->not_after = asn1_time_unix(X509_get0_notAfter(current));
    f->xku = (X509_get_extension_flags(current) & EXFLAG_XKUSAGE) ? X509_get_extended_key_usage(current) : ~0u;
  }
  if (X509* leaf = X509_STORE_CTX_get0_cert(ctx)) {
    f->leaf_subject = name_text(X509_get_subject_name(leaf));
    f->leaf_issuer = name_text(X509_get_issuer_name(leaf));
  }
  if (X509_CRL* crl = X509_STORE_CTX_get0_current_crl(ctx)) {
    f->crl_issuer = name_text(X509_CRL_get_issuer(crl));
    f->crl_next_update = asn1_time_unix(X509_CRL_get0_nextUpdate(crl));
  }
  if (SSL_set_ex_data(ssl, failure_index(), f) != 1) delete f;
}

// serverAuth allowed, clientAuth not: what public CAs issue now.
bool server_auth_only(X509* x, int depth) {
  if (!x || !(X509_get_extension_flags(x) & EXFLAG_XKUSAGE)) return false;
  uint32_t xku = X509_get_extended_key_usage(x);
  return (xku & XKU_SSL_SERVER) && !(xku & XKU_SSL_CLIENT) &&
         X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, depth > 0 ? 1 : 0) > 0;
}

int verify_common(int ok, X509_STORE_CTX* ctx, bool either_purpose) {
  if (ok) return 1;
  int code = X509_STORE_CTX_get_error(ctx);
  int depth = X509_STORE_CTX_get_error_depth(ctx);
  X509* current = X509_STORE_CTX_get_current_cert(ctx);
  bool forgiven = code == X509_V_ERR_UNABLE_TO_GET_CRL ||
                  (either_purpose && code == X509_V_ERR_INVALID_PURPOSE && server_auth_only(current, depth));
  if (forgiven) {
    X509_STORE_CTX_set_error(ctx, X509_V_OK);  // else SSL_get_verify_result would still report it
    return 1;
  }
  record(ctx, code, depth, current);
  return 0;
}

}  // namespace

int verify_either_purpose(int ok, X509_STORE_CTX* ctx) { return verify_common(ok, ctx, true); }

int verify_recording(int ok, X509_STORE_CTX* ctx) { return verify_common(ok, ctx, false); }

std::string describe_verify_failure(const SSL* ssl) {
  long result = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (result == X509_V_OK) return {};
  const auto* f = static_cast<const verify_failure*>(SSL_get_ex_data(ssl, failure_index()));
  if (!f || f->code != result) return X509_verify_cert_error_string(result);
  bool inbound = SSL_is_server(ssl) == 1;
  std::string which = f->depth == 0 ? std::string("the partner's certificate")
                                    : "the CA certificate \"" + f->subject + "\" in the partner's chain";
  std::string crl = "the CRL of \"" + f->crl_issuer + "\" in certificate.crl_files";
  std::string reason;
  switch (f->code) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      // Ends at the partner's own certificate: public CAs issue from intermediates, so the intermediate is
      // what is missing. Ends at a CA: its issuer is a root (roots are not sent) that we do not trust.
      reason = f->depth == 0 ? "the partner did not send its intermediate certificate: the issuer \"" + f->issuer +
                                   "\" of its certificate is neither in the chain it sent nor among our trusted CAs"
                             : "issued by a CA we do not trust: the chain the partner sent ends at \"" + f->subject +
                                   "\", whose issuer \"" + f->issuer + "\" is not among our trusted CAs";
      break;
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      reason = "issued by a CA we do not trust: the root \"" + f->subject +
               "\" of the partner's chain is not among our trusted CAs";
      break;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      reason = "the partner's certificate is self-signed and not among our trusted CAs";
      break;
    case X509_V_ERR_INVALID_PURPOSE:
      if (!inbound)
        reason = which + " lacks the serverAuth extended key usage needed for a TLS server";
      else if (f->xku & XKU_SSL_SERVER)
        reason = which + " lacks the clientAuth extended key usage (certificate.require_client_auth_eku is set)";
      else
        reason = which + " lacks the clientAuth extended key usage (serverAuth would also be accepted)";
      break;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      reason = which + " expired on " + format_utc(f->not_after);
      break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      reason = which + " is not yet valid: valid from " + format_utc(f->not_before);
      break;
    case X509_V_ERR_CERT_REVOKED:
      reason = "certificate revoked: " + which + " (serial " + f->serial + ") is on the CRL of \"" + f->crl_issuer +
               "\"";
      break;
    case X509_V_ERR_CRL_HAS_EXPIRED:
      reason = crl + " expired on " + format_utc(f->crl_next_update) +
               ": install a current one (certificates of this CA are refused until then)";
      break;
    case X509_V_ERR_CRL_NOT_YET_VALID:
      reason = crl + " is not yet valid";
      break;
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
      reason = crl + " has a bad signature";
      break;
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
      reason = "the partner's certificate chain is longer than certificate.verify_depth (" +
               std::to_string(SSL_get_verify_depth(ssl)) + " intermediate CA certificates) allows";
      break;
    default:
      reason = which + ": " + X509_verify_cert_error_string(f->code);
  }
  return reason + " (presented: \"" + f->leaf_subject + "\", issued by \"" + f->leaf_issuer + "\")";
}

}  // namespace fedgw::tls
