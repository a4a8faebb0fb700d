#include "gateway/tls/errors.h"

#include <openssl/err.h>
#include <openssl/x509.h>

namespace fedgw::tls {

std::string last_openssl_error(const char* fallback) {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return fallback;
  const char* reason = ERR_reason_error_string(code);
  if (reason) return reason;
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

std::string handshake_error(const SSL* ssl, int ret) {
  long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  int err = ssl ? SSL_get_error(ssl, ret) : SSL_ERROR_SSL;
  std::string detail = last_openssl_error("");
  if (verify != X509_V_OK)
    return std::string("peer certificate verification failed: ") + X509_verify_cert_error_string(verify);
  if (!detail.empty()) return "TLS handshake failed: " + detail;
  switch (err) {
    case SSL_ERROR_ZERO_RETURN: return "TLS handshake failed: the peer closed the connection";
    case SSL_ERROR_SYSCALL: return "TLS handshake failed: connection closed or I/O error";
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return "TLS handshake incomplete (waiting for data)";
    default: return "TLS handshake failed (SSL error " + std::to_string(err) + ")";
  }
}

}  // namespace fedgw::tls
