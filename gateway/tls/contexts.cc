#include "gateway/tls/contexts.h"

#include <arpa/inet.h>

#include <algorithm>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "gateway/tls/tls_stream.h"
#include "gateway/tls/verify.h"

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

// The settings common to both roles: protocol floor, ciphers, own certificate + chain, trusted CAs (`trust`),
// CRL checking and verify depth.
ssl_ctx_ptr make_ctx(const SSL_METHOD* method, const credentials& c, X509_STORE* trust, const context_options& o,
                     std::string* error) {
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
  // SSL_MODE_RELEASE_BUFFERS: record buffers only while a record is in them (most partner connections idle);
  // a busy connection keeps them instead (tls_stream::keep_buffers) to save an allocation per record.
  SSL_CTX_set_mode(x, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // Established TLS 1.3 sessions move to the project's record layer (the SSL object is freed when idle).
  tls_stream::capture_secrets(x);
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
  SSL_CTX_set1_cert_store(x, trust);  // shared, reference counted
  SSL_CTX_set_verify_depth(x, static_cast<int>(o.verify_depth));
  // CRL_CHECK_ALL: intermediates are checked too (a revoked intermediate must not vouch for partners). A CA
  // without a configured CRL is not checked: the verify callbacks forgive X509_V_ERR_UNABLE_TO_GET_CRL.
  if (!c.crls.empty())
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(x), X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  return ctx;
}

// Server role: mutual TLS by default; the client's certificate must chain to a CA of `trust`.
void make_server(SSL_CTX* server, X509_STORE* trust, bool system_trust, const context_options& o) {
  SSL_CTX_set_verify(server, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     o.require_client_auth_eku ? verify_recording : verify_either_purpose);
  SSL_CTX_set_purpose(server, X509_PURPOSE_SSL_CLIENT);
  SSL_CTX_set_session_id_context(server, session_id_context, sizeof session_id_context - 1);
  // No session resumption: every partner connection is a full handshake whose certificate chain is verified
  // against the current trust and CRLs. Without tickets and a server cache, no session (with the client's
  // certificate chain) outlives its connection, clients store no ticket (several KiB each: it carries the
  // client certificate) and set-up spends no CPU on ticket encryption.
  SSL_CTX_set_session_cache_mode(server, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(server, 0);
  SSL_CTX_set_options(server, SSL_OP_NO_TICKET);
  if (!system_trust) {
    // Tell clients which CAs are accepted (skipped for the system store: hundreds of names).
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(trust);
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i)
      if (X509* ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i))) SSL_CTX_add_client_CA(server, ca);
  }
}

ssl_ptr server_session(SSL_CTX* ctx, client_cert_mode mode, bool require_client_auth_eku) {
  ssl_ptr ssl{SSL_new(ctx)};
  if (!ssl) return ssl;
  // SSL_set_verify replaces the callback too: keep the context's.
  auto callback = require_client_auth_eku ? verify_recording : verify_either_purpose;
  switch (mode) {
    case client_cert_mode::none: SSL_set_verify(ssl.get(), SSL_VERIFY_NONE, callback); break;
    case client_cert_mode::request: SSL_set_verify(ssl.get(), SSL_VERIFY_PEER, callback); break;
    case client_cert_mode::require: break;  // the context's default
  }
  SSL_set_accept_state(ssl.get());
  return ssl;
}

}  // namespace

context_options context_options_for(const config::Certificate& cfg, const config::Listener* internal) {
  context_options o;
  o.allow_wildcards = cfg.allow_wildcards();
  o.require_client_auth_eku = cfg.require_client_auth_eku();
  o.verify_depth = cfg.has_verify_depth() ? cfg.verify_depth() : default_verify_depth;
  if (internal) o.internal_peer_names.assign(internal->peer_names().begin(), internal->peer_names().end());
  return o;
}

tls_contexts::tls_contexts(ssl_ctx_ptr server, ssl_ctx_ptr client, ssl_ctx_ptr internal_server,
                           validation_result certificate, context_options options, uint64_t generation)
    : server_(std::move(server)),
      client_(std::move(client)),
      internal_server_(std::move(internal_server)),
      certificate_(std::move(certificate)),
      options_(std::move(options)),
      generation_(generation) {}

ssl_ptr tls_contexts::new_server_session(client_cert_mode mode) const {
  return server_session(server_.get(), mode, options_.require_client_auth_eku);
}

ssl_ptr tls_contexts::new_internal_server_session(client_cert_mode mode) const {
  return server_session(internal_server_.get(), mode, options_.require_client_auth_eku);
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
  if (!peer) return check_peer_identity(nullptr, domain, options_.allow_wildcards);
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    r.reason = std::string("peer certificate not verified: ") + X509_verify_cert_error_string(verify);
    return r;
  }
  return check_peer_identity(peer, domain, options_.allow_wildcards);
}

identity_result tls_contexts::check_internal_peer(const SSL* ssl) const {
  return tls::check_internal_peer(ssl, options_.internal_peer_names);
}

identity_result check_internal_peer(const SSL* ssl, const std::vector<std::string>& names) {
  identity_result r;
  std::string expected;
  for (const auto& n : names) expected += (expected.empty() ? "" : ", ") + n;
  X509* peer = ssl ? SSL_get0_peer_certificate(ssl) : nullptr;
  if (!peer) {
    r.ok = names.empty();
    if (!r.ok) r.reason = "the UC server presented no certificate (internal_listener.peer_names: " + expected + ")";
    return r;
  }
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    r.reason = "UC server certificate not verified: " + describe_verify_failure(ssl);
    return r;
  }
  std::vector<std::string> found;
  for (const auto& n : certificate_identities(peer)) {
    // A pin, not RFC 5922: SAN dNSNames and the CN count (also next to SANs), SIP URIs do not.
    if (n.kind == identity_name::uri) continue;
    found.push_back(n.text);
  }
  if (X509_get_ext_by_NID(peer, NID_subject_alt_name, -1) >= 0) {
    // certificate_identities skips the CN when there are SANs.
    char cn[256];
    int len = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    std::string text(cn, static_cast<size_t>(len > 0 ? len : 0));
    if (!text.empty() && std::find(found.begin(), found.end(), text) == found.end()) found.push_back(text);
  }
  if (names.empty()) {
    r.ok = true;
    r.matched = found.empty() ? std::string() : found.front();
    return r;
  }
  for (const auto& have : found)
    for (const auto& want : names)
      if (have.find('*') == std::string::npos && normalize_domain(have) == normalize_domain(want)) {
        r.ok = true;
        r.matched = have;
        return r;
      }
  std::string shown;
  for (const auto& f : found) shown += (shown.empty() ? "" : ", ") + f;
  r.reason = "UC server certificate \"" + name_text(X509_get_subject_name(peer)) + "\" is not one of " +
             "internal_listener.peer_names (" + expected + "); its names: " + (shown.empty() ? "none" : shown);
  return r;
}

contexts_ptr make_contexts(const credentials& creds, validation_result certificate, const context_options& options,
                           uint64_t generation, std::string* error) {
  if (!creds.cert || !creds.key || !creds.trust) {
    if (error) *error = "certificate, key or trusted CAs missing";
    return nullptr;
  }
  ERR_clear_error();
  ssl_ctx_ptr server = make_ctx(TLS_server_method(), creds, creds.trust.get(), options, error);
  if (!server) return nullptr;
  ssl_ctx_ptr client = make_ctx(TLS_client_method(), creds, creds.trust.get(), options, error);
  if (!client) return nullptr;
  X509_STORE* internal_trust = creds.internal_trust ? creds.internal_trust.get() : creds.trust.get();
  ssl_ctx_ptr internal = make_ctx(TLS_server_method(), creds, internal_trust, options, error);
  if (!internal) return nullptr;

  make_server(server.get(), creds.trust.get(), creds.system_trust, options);
  make_server(internal.get(), internal_trust,
              creds.internal_trust ? creds.internal_system_trust : creds.system_trust, options);
  // Client: the server's certificate must chain to a trusted CA and allow serverAuth.
  SSL_CTX_set_verify(client.get(), SSL_VERIFY_PEER, verify_recording);
  SSL_CTX_set_purpose(client.get(), X509_PURPOSE_SSL_SERVER);
  ERR_clear_error();
  return std::make_shared<const tls_contexts>(std::move(server), std::move(client), std::move(internal),
                                              std::move(certificate), options, generation);
}

contexts_ptr make_contexts(const credentials& creds, validation_result certificate, bool allow_wildcards,
                           uint64_t generation, std::string* error) {
  context_options options;
  options.allow_wildcards = allow_wildcards;
  return make_contexts(creds, std::move(certificate), options, generation, error);
}

build_result build_contexts(const config::Certificate& cfg, const validate_options& options, uint64_t generation,
                            const config::Listener* internal) {
  build_result r;
  std::optional<credentials> creds;
  r.result = load_and_validate(cfg, options, &creds, internal);
  if (!r.result.ok() || !creds) return r;
  std::string error;
  context_options o;
  o.allow_wildcards = options.allow_wildcards;
  o.require_client_auth_eku = options.require_client_auth_eku;
  o.verify_depth = options.verify_depth;
  if (internal) o.internal_peer_names.assign(internal->peer_names().begin(), internal->peer_names().end());
  r.contexts = make_contexts(*creds, r.result, o, generation, &error);
  if (!r.contexts) r.result.problems.push_back({level::error, "cannot build the TLS contexts: " + error});
  return r;
}

}  // namespace fedgw::tls
