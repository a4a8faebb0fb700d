// libFuzzer target for the TLS record path (gateway/tls/tls_stream): bytes
// from a peer fed into a server-side or client-side session (first byte), in
// chunks of 1..256 bytes (second byte), with data written before, during and
// after the handshake. The certificate is made in memory at start-up.
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "gateway/tls/tls_stream.h"

namespace {
SSL_CTX* server_ctx = nullptr;
SSL_CTX* client_ctx = nullptr;
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("fuzz.test"), -1, -1,
                             0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  server_ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(server_ctx, TLS1_2_VERSION);
  SSL_CTX_use_certificate(server_ctx, cert);
  SSL_CTX_use_PrivateKey(server_ctx, key);
  SSL_CTX_set_verify(server_ctx, SSL_VERIFY_PEER, nullptr);
  client_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(client_ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, nullptr);
  X509_free(cert);
  EVP_PKEY_free(key);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool server = (data[0] & 1) != 0;
  const size_t chunk = 1 + data[1];
  data += 2;
  size -= 2;
  fedgw::tls::ssl_ptr ssl(SSL_new(server ? server_ctx : client_ctx));
  if (server)
    SSL_set_accept_state(ssl.get());
  else
    SSL_set_connect_state(ssl.get());
  fedgw::tls::tls_stream stream(std::move(ssl));
  std::string plain, out;
  if (!server) stream.start(out);
  stream.send("MESSAGE held back until the handshake\r\n", out);
  for (size_t i = 0; i < size; i += chunk) {
    auto n = std::min(chunk, size - i);
    auto r = stream.receive(std::string_view(reinterpret_cast<const char*>(data) + i, n), plain, out);
    if (r.failed || r.peer_closed) break;
    if (plain.size() > (1u << 20) || out.size() > (1u << 20)) break;  // bounded, like the reactor's buffers
  }
  stream.send("after", out);
  stream.shutdown(out);
  return 0;
}
