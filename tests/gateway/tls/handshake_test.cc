// Real TLS handshakes between the server and client contexts (in memory, over a BIO pair).
#include <gtest/gtest.h>

#include "gateway/tls/contexts.h"
#include "tests/gateway/tls/tls_test_support.h"

namespace fedgw::tls {
namespace {

using testing::cert_path;
using testing::handshake;
using testing::pem_config;
using testing::raw_contexts;

contexts_ptr built(const std::string& name) {
  auto r = build_contexts(pem_config(name), {}, 1);
  EXPECT_NE(r.contexts, nullptr) << r.result.to_text();
  return r.contexts;
}

TEST(Handshake, MutualTlsSucceedsWithGoodCertificates) {
  auto server = built("good");  // a.test
  auto client = built("peer");  // b.test
  ASSERT_TRUE(server && client);
  auto o = handshake(client->new_client_session("a.test"), server->new_server_session());
  ASSERT_TRUE(o.client_ok) << o.client_error;
  ASSERT_TRUE(o.server_ok) << o.server_error;
  EXPECT_EQ(o.received, "ping");
  EXPECT_STREQ(SSL_get_version(o.client.get()), "TLSv1.3");
  // Both sides saw and verified the other's certificate; RFC 5922 identity on top.
  auto to_server = client->check_peer(o.client.get(), "a.test");
  EXPECT_TRUE(to_server.ok) << to_server.reason;
  auto from_client = server->check_peer(o.server.get(), "b.test");
  EXPECT_TRUE(from_client.ok) << from_client.reason;
  auto wrong = client->check_peer(o.client.get(), "b.test");
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.reason.rfind("certificate name mismatch: expected b.test, found a.test, gw.a.test, sip:a.test", 0),
            0u)
      << wrong.reason;
  // SNI went out
  EXPECT_STREQ(SSL_get_servername(o.server.get(), TLSEXT_NAMETYPE_host_name), "a.test");
}

TEST(Handshake, Tls12WorksWithModernCipher) {
  auto server = built("good");
  auto client = built("peer");
  auto c = client->new_client_session("a.test");
  SSL_set_max_proto_version(c.get(), TLS1_2_VERSION);
  auto o = handshake(std::move(c), server->new_server_session());
  ASSERT_TRUE(o.client_ok) << o.client_error;
  ASSERT_TRUE(o.server_ok) << o.server_error;
  EXPECT_STREQ(SSL_get_version(o.client.get()), "TLSv1.2");
  std::string cipher = SSL_get_cipher_name(o.client.get());
  EXPECT_EQ(cipher.rfind("ECDHE-", 0), 0u) << cipher;
  EXPECT_NE(SSL_get0_peer_certificate(o.server.get()), nullptr);
}

TEST(Handshake, Tls11IsRefused) {
  auto server = built("good");
  auto client = built("peer");
  auto c = client->new_client_session("a.test");
  SSL_set_min_proto_version(c.get(), TLS1_VERSION);
  SSL_set_max_proto_version(c.get(), TLS1_1_VERSION);
  auto o = handshake(std::move(c), server->new_server_session());
  EXPECT_FALSE(o.client_ok);
  EXPECT_FALSE(o.server_ok);
  EXPECT_FALSE(o.server_error.empty());
}

TEST(Handshake, UntrustedClientCertificateFails) {
  auto server = built("good");
  auto client = raw_contexts("untrusted");  // issued by a root the server does not trust
  ASSERT_TRUE(server && client);
  auto o = handshake(client->new_client_session("a.test"), server->new_server_session());
  EXPECT_FALSE(o.server_ok);
  EXPECT_EQ(o.server_error, "peer certificate verification failed: the partner did not send its intermediate "
                            "certificate: the issuer \"CN=untrusted root CA,O=elsewhere\" of its certificate is neither "
                            "in the chain it sent nor among our trusted CAs (presented: \"CN=gw.b.test,O=elsewhere\", "
                            "issued by \"CN=untrusted root CA,O=elsewhere\")");
  EXPECT_FALSE(o.client_ok);
  EXPECT_EQ(o.client_error, "TLS handshake failed: tlsv1 alert unknown ca");
  EXPECT_TRUE(o.received.empty());
}

TEST(Handshake, ClientCertificateWithoutClientAuthFailsWhenRequired) {
  auto cfg = pem_config("good");
  cfg.set_require_client_auth_eku(true);
  auto server = testing::built_contexts(cfg);
  auto client = raw_contexts("noclient");  // serverAuth only: accepted unless clientAuth is required
  ASSERT_TRUE(server && client);
  auto o = handshake(client->new_client_session("a.test"), server->new_server_session());
  EXPECT_FALSE(o.server_ok);
  EXPECT_EQ(o.server_error.rfind("peer certificate verification failed: the partner's certificate lacks the clientAuth "
                                 "extended key usage", 0),
            0u)
      << o.server_error;
  EXPECT_FALSE(o.client_ok);
  EXPECT_TRUE(o.received.empty());
}

TEST(Handshake, MissingClientCertificateFails) {
  auto server = built("good");
  ASSERT_TRUE(server);
  ssl_ctx_ptr bare{SSL_CTX_new(TLS_client_method())};  // trusts the CA, has no certificate
  ASSERT_EQ(SSL_CTX_load_verify_locations(bare.get(), cert_path("ca.pem").c_str(), nullptr), 1);
  SSL_CTX_set_verify(bare.get(), SSL_VERIFY_PEER, nullptr);
  ssl_ptr c{SSL_new(bare.get())};
  SSL_set_connect_state(c.get());
  auto o = handshake(std::move(c), server->new_server_session());
  EXPECT_FALSE(o.server_ok);
  EXPECT_EQ(o.server_error, "TLS handshake failed: peer did not return a certificate");
  EXPECT_FALSE(o.client_ok);
  EXPECT_EQ(o.client_error, "TLS handshake failed: tlsv13 alert certificate required");
}

TEST(Handshake, ClientCertificateOptionalModes) {
  auto server = built("good");
  ssl_ctx_ptr bare{SSL_CTX_new(TLS_client_method())};
  ASSERT_EQ(SSL_CTX_load_verify_locations(bare.get(), cert_path("ca.pem").c_str(), nullptr), 1);
  SSL_CTX_set_verify(bare.get(), SSL_VERIFY_PEER, nullptr);
  for (auto mode : {client_cert_mode::none, client_cert_mode::request}) {
    ssl_ptr c{SSL_new(bare.get())};
    SSL_set_connect_state(c.get());
    auto o = handshake(std::move(c), server->new_server_session(mode));
    EXPECT_TRUE(o.server_ok) << o.server_error;
    EXPECT_TRUE(o.client_ok) << o.client_error;
    EXPECT_EQ(o.received, "ping");
    auto id = server->check_peer(o.server.get(), "b.test");
    EXPECT_FALSE(id.ok);
    EXPECT_EQ(id.reason, "the peer presented no certificate (expected b.test)");
  }
}

TEST(Handshake, UntrustedServerCertificateFails) {
  auto server = raw_contexts("untrusted");
  auto client = built("good");
  ASSERT_TRUE(server && client);
  auto o = handshake(client->new_client_session("b.test"), server->new_server_session());
  EXPECT_FALSE(o.client_ok);
  EXPECT_EQ(o.client_error, "peer certificate verification failed: the partner did not send its intermediate "
                            "certificate: the issuer \"CN=untrusted root CA,O=elsewhere\" of its certificate is neither "
                            "in the chain it sent nor among our trusted CAs (presented: \"CN=gw.b.test,O=elsewhere\", "
                            "issued by \"CN=untrusted root CA,O=elsewhere\")");
  EXPECT_FALSE(o.server_ok);
  EXPECT_EQ(o.server_error, "TLS handshake failed: tlsv1 alert unknown ca");
}

TEST(Handshake, ExpiredServerCertificateFails) {
  auto server = raw_contexts("expired");
  auto client = built("peer");
  ASSERT_TRUE(server && client);
  auto o = handshake(client->new_client_session("a.test"), server->new_server_session());
  EXPECT_FALSE(o.client_ok);
  EXPECT_EQ(o.client_error, "peer certificate verification failed: the partner's certificate expired on 2021-01-01 "
                            "00:00:00 UTC (presented: \"CN=expired.a.test,O=fedgw test\", issued by \"CN=fedgw test "
                            "intermediate CA,O=fedgw test\")");
}

TEST(Handshake, ServerCertificateWithoutServerAuthFails) {
  auto server = raw_contexts("clientonly");
  auto client = built("peer");
  ASSERT_TRUE(server && client);
  auto o = handshake(client->new_client_session("a.test"), server->new_server_session());
  EXPECT_FALSE(o.client_ok);
  EXPECT_EQ(o.client_error, "peer certificate verification failed: the partner's certificate lacks the serverAuth "
                            "extended key usage needed for a TLS server (presented: \"CN=clientonly.a.test,O=fedgw "
                            "test\", issued by \"CN=fedgw test intermediate CA,O=fedgw test\")");
}

}  // namespace
}  // namespace fedgw::tls
