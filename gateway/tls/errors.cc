#include "gateway/tls/errors.h"

#include <ctime>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "gateway/tls/openssl_ptr.h"
#include "gateway/tls/verify.h"

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
  if (verify != X509_V_OK) return "peer certificate verification failed: " + describe_verify_failure(ssl);
  if (!detail.empty()) return "TLS handshake failed: " + detail;
  switch (err) {
    case SSL_ERROR_ZERO_RETURN: return "TLS handshake failed: the peer closed the connection";
    case SSL_ERROR_SYSCALL: return "TLS handshake failed: connection closed or I/O error";
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return "TLS handshake incomplete (waiting for data)";
    default: return "TLS handshake failed (SSL error " + std::to_string(err) + ")";
  }
}

std::string name_text(const X509_NAME* name) {
  if (!name) return "?";
  bio_ptr bio{BIO_new(BIO_s_mem())};
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string format_utc(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

int64_t asn1_time_unix(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace fedgw::tls
