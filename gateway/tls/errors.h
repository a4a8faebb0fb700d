// OpenSSL errors and certificate details as text for logs and replies (plain OpenSSL, no project types).
#pragma once

#include <cstdint>
#include <string>

#include <openssl/ssl.h>

namespace fedgw::tls {

// The most recent OpenSSL error of this thread as text (and clears the queue); `fallback` when there is none.
std::string last_openssl_error(const char* fallback = "unknown OpenSSL error");

// Why a handshake step failed, for logs: a certificate verification failure as describe_verify_failure() words
// it ("peer certificate verification failed: the partner did not send its intermediate certificate: ..."), or
// the TLS alert / OpenSSL reason. Call right after the failing SSL call with its return value; clears this
// thread's OpenSSL error queue.
std::string handshake_error(const SSL* ssl, int ret);

// RFC 2253 text of a certificate name: "CN=gw.a.test,O=fedgw test".
std::string name_text(const X509_NAME* name);
// "2026-11-24 21:40:01 UTC"
std::string format_utc(int64_t unix_seconds);
int64_t asn1_time_unix(const ASN1_TIME* t);

}  // namespace fedgw::tls
