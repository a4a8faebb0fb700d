// OpenSSL errors as text for logs and replies (plain OpenSSL, no project types).
#pragma once

#include <string>

#include <openssl/ssl.h>

namespace fedgw::tls {

// The most recent OpenSSL error of this thread as text (and clears the queue); `fallback` when there is none.
std::string last_openssl_error(const char* fallback = "unknown OpenSSL error");

// Why a handshake step failed, for logs: the verification result ("peer certificate verification failed:
// unable to get local issuer certificate"), or the TLS alert / OpenSSL reason. Call right after the failing
// SSL call with its return value; clears this thread's OpenSSL error queue.
std::string handshake_error(const SSL* ssl, int ret);

}  // namespace fedgw::tls
