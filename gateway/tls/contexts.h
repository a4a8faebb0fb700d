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
#include <vector>

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

// How peers are verified, beyond the trusted CAs of the credentials.
struct context_options {
  bool allow_wildcards = false;
  // Partners' client certificates need clientAuth; otherwise serverAuth alone is accepted too.
  bool require_client_auth_eku = false;
  uint32_t verify_depth = default_verify_depth;
  // internal_listener.peer_names: accepted names of the UC server's certificate (empty: any that verifies).
  std::vector<std::string> internal_peer_names;
};

// certificate.* and internal_listener.peer_names as context options.
context_options context_options_for(const config::Certificate& cfg, const config::Listener* internal = nullptr);

class tls_contexts {
 public:
  tls_contexts(ssl_ctx_ptr server, ssl_ctx_ptr client, ssl_ctx_ptr internal_server, validation_result certificate,
               context_options options, uint64_t generation);
  tls_contexts(const tls_contexts&) = delete;
  tls_contexts& operator=(const tls_contexts&) = delete;

  // Server role: presents the gateway certificate, requires and verifies a client certificate against the
  // trusted CAs and CRLs (purpose: clientAuth, or serverAuth unless require_client_auth_eku).
  SSL_CTX* server() const { return server_.get(); }
  // Server role on the internal listener: like server(), but client certificates are verified against
  // internal_listener.ca_bundle when set. Check the name with check_internal_peer() after the handshake.
  SSL_CTX* internal_server() const { return internal_server_.get(); }
  // Client role: presents the gateway certificate when asked, verifies the server against the trusted CAs
  // (purpose: TLS server). The SIP-domain identity check is check_peer() after the handshake.
  SSL_CTX* client() const { return client_.get(); }

  // A new server-side SSL object (SSL_set_accept_state); mode adjusts the client-certificate demand.
  ssl_ptr new_server_session(client_cert_mode mode = client_cert_mode::require) const;
  // The same for a connection on the internal listener (the UC server).
  ssl_ptr new_internal_server_session(client_cert_mode mode = client_cert_mode::require) const;
  // A new client-side SSL object (SSL_set_connect_state) sending `sni_domain` as server name indication.
  ssl_ptr new_client_session(std::string_view sni_domain) const;

  // RFC 5922 identity check of the peer's certificate against the SIP domain connected to or claimed.
  identity_result check_peer(const SSL* ssl, std::string_view domain) const;
  // After the handshake on the internal listener: the UC server's certificate against
  // internal_listener.peer_names (see the free function).
  identity_result check_internal_peer(const SSL* ssl) const;

  // The validation of the certificate these contexts present.
  const validation_result& certificate() const { return certificate_; }
  bool allow_wildcards() const { return options_.allow_wildcards; }
  const context_options& options() const { return options_; }
  // Increases with every successful (re)load of the certificate manager.
  uint64_t generation() const { return generation_; }

 private:
  ssl_ctx_ptr server_;
  ssl_ctx_ptr client_;
  ssl_ctx_ptr internal_server_;
  validation_result certificate_;
  context_options options_;
  uint64_t generation_;
};

using contexts_ptr = std::shared_ptr<const tls_contexts>;

struct build_result {
  contexts_ptr contexts;  // null unless result.ok()
  validation_result result;
};

// The UC server's certificate on the internal listener: verified (SSL_get_verify_result) and, when `names` is
// not empty, one of its SAN dNSNames or its subject CN equal to one of `names` (case-insensitive, no
// wildcards). No certificate: ok only when `names` is empty (nothing pinned; MTLS itself demands one).
identity_result check_internal_peer(const SSL* ssl, const std::vector<std::string>& names);

// Builds contexts from already loaded credentials without judging them (tests use this to get deliberately
// bad client or server contexts). `error` receives the reason when it returns null.
contexts_ptr make_contexts(const credentials& creds, validation_result certificate, const context_options& options,
                           uint64_t generation, std::string* error = nullptr);
contexts_ptr make_contexts(const credentials& creds, validation_result certificate, bool allow_wildcards,
                           uint64_t generation, std::string* error = nullptr);

// Load, validate, build: all or nothing. Contexts only when the certificate has no error. With `internal`
// (the internal listener's config), its ca_bundle and peer_names go into internal_server().
build_result build_contexts(const config::Certificate& cfg, const validate_options& options, uint64_t generation,
                            const config::Listener* internal = nullptr);


}  // namespace fedgw::tls
