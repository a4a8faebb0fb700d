#include "gateway/tls/contexts.h"

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace fedgw::tls {

namespace {

constexpr unsigned char session_id_context[] = "fedgw";

void fail(std::string* error, std::string what) {
  if (error) *error = what + ": " + last_openssl_error();
  ERR_clear_error();
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// The settings common to both roles: protocol floor, ciphers, own certificate + chain, trusted CAs.
ssl_ctx_ptr make_ctx(const SSL_METHOD* method, const credentials& c, std::string* error) {
  ssl_ctx_ptr ctx{SSL_CTX_new(method)};
  if (!ctx) {
    fail(error, "SSL_CTX_new failed");
    return nullptr;
  }
  SSL_CTX* x = ctx.get();
  if (SSL_CTX_set_min_proto_version(x, TLS1_2_VERSION) != 1) {
    fail(error, "cannot set TLS 1.2 minimum");
    return nullptr;
  }
  if (SSL_CTX_set_cipher_list(x, tls12_cipher_list) != 1) {
    fail(error, "cannot set the cipher list");
    return nullptr;
  }
  SSL_CTX_set_options(x, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(x, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate(x, c.cert.get()) != 1) {
    fail(error, "cannot use the certificate");
    return nullptr;
  }
  for (const auto& extra : c.chain)
    if (SSL_CTX_add1_chain_cert(x, extra.get()) != 1) {
      fail(error, "cannot add a chain certificate");
      return nullptr;
    }
  if (SSL_CTX_use_PrivateKey(x, c.key.get()) != 1) {
    fail(error, "cannot use the private key");
    return nullptr;
  }
  if (SSL_CTX_check_private_key(x) != 1) {
    fail(error, "the private key does not match");
    return nullptr;
  }
  SSL_CTX_set1_cert_store(x, c.trust.get());  // shared, reference counted
  return ctx;
}

}  // namespace

tls_contexts::tls_contexts(ssl_ctx_ptr server, ssl_ctx_ptr client, validation_result certificate,
                           bool allow_wildcards, uint64_t generation)
    : server_(std::move(server)),
      client_(std::move(client)),
      certificate_(std::move(certificate)),
      allow_wildcards_(allow_wildcards),
      generation_(generation) {}

ssl_ptr tls_contexts::new_server_session(client_cert_mode mode) const {
  ssl_ptr ssl{SSL_new(server_.get())};
  if (!ssl) return ssl;
  switch (mode) {
    case client_cert_mode::none: SSL_set_verify(ssl.get(), SSL_VERIFY_NONE, nullptr); break;
    case client_cert_mode::request: SSL_set_verify(ssl.get(), SSL_VERIFY_PEER, nullptr); break;
    case client_cert_mode::require: break;  // the context's default
  }
  SSL_set_accept_state(ssl.get());
  return ssl;
}

ssl_ptr tls_contexts::new_client_session(std::string_view sni_domain) const {
  ssl_ptr ssl{SSL_new(client_.get())};
  if (!ssl) return ssl;
  std::string host = normalize_domain(sni_domain);
  if (!host.empty() && !is_ip_literal(host)) SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  SSL_set_connect_state(ssl.get());
  return ssl;
}

identity_result tls_contexts::check_peer(const SSL* ssl, std::string_view domain) const {
  identity_result r;
  X509* peer = ssl ? SSL_get0_peer_certificate(ssl) : nullptr;
  if (!peer) return check_peer_identity(nullptr, domain, allow_wildcards_);
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    r.reason = std::string("peer certificate not verified: ") + X509_verify_cert_error_string(verify);
    return r;
  }
  return check_peer_identity(peer, domain, allow_wildcards_);
}

contexts_ptr make_contexts(const credentials& creds, validation_result certificate, bool allow_wildcards,
                           uint64_t generation, std::string* error) {
  if (!creds.cert || !creds.key || !creds.trust) {
    if (error) *error = "certificate, key or trusted CAs missing";
    return nullptr;
  }
  ERR_clear_error();
  ssl_ctx_ptr server = make_ctx(TLS_server_method(), creds, error);
  if (!server) return nullptr;
  ssl_ctx_ptr client = make_ctx(TLS_client_method(), creds, error);
  if (!client) return nullptr;

  // Server: mutual TLS by default. The client's certificate must chain to a trusted CA and allow clientAuth.
  SSL_CTX_set_verify(server.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_purpose(server.get(), X509_PURPOSE_SSL_CLIENT);
  SSL_CTX_set_session_id_context(server.get(), session_id_context, sizeof session_id_context - 1);
  if (!creds.system_trust) {
    // Tell clients which CAs are accepted (skipped for the system store: hundreds of names).
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(creds.trust.get());
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i)
      if (X509* ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i)))
        SSL_CTX_add_client_CA(server.get(), ca);
  }
  // Client: the server's certificate must chain to a trusted CA and allow serverAuth.
  SSL_CTX_set_verify(client.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_purpose(client.get(), X509_PURPOSE_SSL_SERVER);
  ERR_clear_error();
  return std::make_shared<const tls_contexts>(std::move(server), std::move(client), std::move(certificate),
                                              allow_wildcards, generation);
}

build_result build_contexts(const config::Certificate& cfg, const validate_options& options, uint64_t generation) {
  build_result r;
  std::optional<credentials> creds;
  r.result = load_and_validate(cfg, options, &creds);
  if (!r.result.ok() || !creds) return r;
  std::string error;
  r.contexts = make_contexts(*creds, r.result, options.allow_wildcards, generation, &error);
  if (!r.contexts) r.result.problems.push_back({level::error, "cannot build the TLS contexts: " + error});
  return r;
}

}  // namespace fedgw::tls
