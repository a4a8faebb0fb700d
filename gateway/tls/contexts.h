// Ready TLS contexts for the server and client roles, shared read-only by connection actors.
//
// A tls_contexts is immutable once built and handed out as std::shared_ptr<const tls_contexts>. A reload builds
// a new one; connections keep the one they started with (and every SSL object also holds its own reference to
// its SSL_CTX), so established connections are never affected by a reload. SSL_CTX objects are safe to use
// from several threads for SSL_new as long as nobody modifies them, which is guaranteed here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/tls/certificate.h"
#include "gateway/tls/identity.h"
#include "gateway/tls/openssl_ptr.h"

namespace fedgw::tls {

// TLS 1.2 ciphers (TLS 1.3 uses OpenSSL's default suites): ECDHE with AEAD only.
inline constexpr const char* tls12_cipher_list =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

enum class client_cert_mode : uint8_t {
  none,     // do not ask the client for a certificate
  request,  // ask; verify it when the client sends one
  require,  // mutual TLS: the client must send a certificate that verifies (the server context's default)
};

class tls_contexts {
 public:
  tls_contexts(ssl_ctx_ptr server, ssl_ctx_ptr client, validation_result certificate, bool allow_wildcards,
               uint64_t generation);
  tls_contexts(const tls_contexts&) = delete;
  tls_contexts& operator=(const tls_contexts&) = delete;

  // Server role: presents the gateway certificate, requires and verifies a client certificate against the
  // trusted CAs (purpose: TLS client, i.e. clientAuth).
  SSL_CTX* server() const { return server_.get(); }
  // Client role: presents the gateway certificate when asked, verifies the server against the trusted CAs
  // (purpose: TLS server). The SIP-domain identity check is check_peer() after the handshake.
  SSL_CTX* client() const { return client_.get(); }

  // A new server-side SSL object (SSL_set_accept_state); mode adjusts the client-certificate demand.
  ssl_ptr new_server_session(client_cert_mode mode = client_cert_mode::require) const;
  // A new client-side SSL object (SSL_set_connect_state) sending `sni_domain` as server name indication.
  ssl_ptr new_client_session(std::string_view sni_domain) const;

  // RFC 5922 identity check of the peer's certificate against the SIP domain connected to or claimed.
  identity_result check_peer(const SSL* ssl, std::string_view domain) const;

  // The validation of the certificate these contexts present.
  const validation_result& certificate() const { return certificate_; }
  bool allow_wildcards() const { return allow_wildcards_; }
  // Increases with every successful (re)load of the certificate manager.
  uint64_t generation() const { return generation_; }

 private:
  ssl_ctx_ptr server_;
  ssl_ctx_ptr client_;
  validation_result certificate_;
  bool allow_wildcards_;
  uint64_t generation_;
};

using contexts_ptr = std::shared_ptr<const tls_contexts>;

struct build_result {
  contexts_ptr contexts;  // null unless result.ok()
  validation_result result;
};

// Builds contexts from already loaded credentials without judging them (tests use this to get deliberately
// bad client or server contexts). `error` receives the reason when it returns null.
contexts_ptr make_contexts(const credentials& creds, validation_result certificate, bool allow_wildcards,
                           uint64_t generation, std::string* error = nullptr);

// Load, validate, build: all or nothing. Contexts only when the certificate has no error.
build_result build_contexts(const config::Certificate& cfg, const validate_options& options, uint64_t generation);


}  // namespace fedgw::tls
