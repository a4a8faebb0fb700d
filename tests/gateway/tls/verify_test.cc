// Peer verification in real handshakes (BIO pair, certificates from make_test_certs.sh): serverAuth-only
// client certificates, CRLs, verify depth, the refusal texts an operator reads, and the internal listener's
// own CA bundle and names.
#include "gateway/tls/verify.h"

#include <gtest/gtest.h>

#include "gateway/tls/contexts.h"
#include "tests/gateway/tls/tls_test_support.h"

namespace fedgw::tls {
namespace {

using testing::built_contexts;
using testing::cert_path;
using testing::handshake;
using testing::pem_config;
using testing::raw_contexts;

const std::string inter = "\"CN=fedgw test intermediate CA,O=fedgw test\"";

// The server-side error when `client` (raw contexts of a generated certificate) connects to `server`.
std::string refused_inbound(const contexts_ptr& server, const std::string& client_name) {
  auto client = raw_contexts(client_name);
  if (!server || !client) return "no contexts";
  auto o = handshake(client->new_client_session("a.test"), server->new_server_session());
  EXPECT_FALSE(o.server_ok) << client_name;
  EXPECT_TRUE(o.received.empty()) << client_name;
  return o.server_error;
}

std::string serial_of(const std::string& file) {
  auto out = testing::run("openssl x509 -noout -serial -in " + cert_path(file));  // "serial=100B\n"
  return out.substr(7, out.size() - 8);
}

TEST(Verify, ServerAuthOnlyClientCertificateIsAcceptedForMutualTls) {
  auto server = built_contexts(pem_config("good"));
  auto client = raw_contexts("noclient");  // serverAuth only, as public CAs issue them now
  ASSERT_TRUE(server && client);
  auto o = handshake(client->new_client_session("a.test"), server->new_server_session());
  ASSERT_TRUE(o.server_ok) << o.server_error;
  ASSERT_TRUE(o.client_ok) << o.client_error;
  EXPECT_EQ(o.received, "ping");
  EXPECT_EQ(SSL_get_verify_result(o.server.get()), X509_V_OK);
  auto id = server->check_peer(o.server.get(), "a.test");
  EXPECT_TRUE(id.ok) << id.reason;
  EXPECT_EQ(describe_verify_failure(o.server.get()), "");
}

TEST(Verify, RequireClientAuthEkuRefusesServerAuthOnlyPartner) {
  auto cfg = pem_config("good");
  cfg.set_require_client_auth_eku(true);
  auto server = built_contexts(cfg);
  EXPECT_EQ(refused_inbound(server, "noclient"),
            "peer certificate verification failed: the partner's certificate lacks the clientAuth extended key usage "
            "(certificate.require_client_auth_eku is set) (presented: \"CN=noclient.a.test,O=fedgw test\", issued "
            "by " + inter + ")");
  // A certificate with both usages still works.
  auto peer = raw_contexts("peer");
  auto o = handshake(peer->new_client_session("a.test"), server->new_server_session());
  EXPECT_TRUE(o.server_ok && o.client_ok) << o.server_error << o.client_error;
}

TEST(Verify, MissingIntermediateReadsDifferentlyFromUntrustedCa) {
  auto server = built_contexts(pem_config("good"));
  // The good leaf without its intermediate.
  EXPECT_EQ(refused_inbound(server, "leafonly"),
            "peer certificate verification failed: the partner did not send its intermediate certificate: the issuer " +
                inter + " of its certificate is neither in the chain it sent nor among our trusted CAs (presented: "
                "\"CN=gw.a.test,O=fedgw test\", issued by " + inter + ")");
  // The partner sends its root, which we do not trust.
  EXPECT_EQ(refused_inbound(server, "untrusted_chain"),
            "peer certificate verification failed: issued by a CA we do not trust: the root \"CN=untrusted root "
            "CA,O=elsewhere\" of the partner's chain is not among our trusted CAs (presented: \"CN=gw.b.test,"
            "O=elsewhere\", issued by \"CN=untrusted root CA,O=elsewhere\")");
  // The partner sends its intermediate, whose root we do not have.
  EXPECT_EQ(refused_inbound(server, "foreign"),
            "peer certificate verification failed: issued by a CA we do not trust: the chain the partner sent ends at "
            "\"CN=elsewhere intermediate CA,O=fedgw test\", whose issuer \"CN=untrusted root CA,O=elsewhere\" is not "
            "among our trusted CAs (presented: \"CN=gw.b.test,O=fedgw test\", issued by \"CN=elsewhere "
            "intermediate CA,O=fedgw test\")");
}

TEST(Verify, ExpiredAndNotYetValidPartnersAreNamed) {
  auto server = built_contexts(pem_config("good"));
  EXPECT_EQ(refused_inbound(server, "expired"),
            "peer certificate verification failed: the partner's certificate expired on 2021-01-01 00:00:00 UTC "
            "(presented: \"CN=expired.a.test,O=fedgw test\", issued by " + inter + ")");
  EXPECT_EQ(refused_inbound(server, "notyet"),
            "peer certificate verification failed: the partner's certificate is not yet valid: valid from "
            "2045-01-01 00:00:00 UTC (presented: \"CN=notyet.a.test,O=fedgw test\", issued by " + inter + ")");
}

TEST(Verify, RevokedPartnerIsRefusedWithItsSerial) {
  for (const char* crl : {"inter.crl.pem", "inter.crl.der"}) {
    auto cfg = pem_config("good");
    cfg.add_crl_files(cert_path(crl));
    auto server = built_contexts(cfg);
    EXPECT_EQ(refused_inbound(server, "revoked"),
              "peer certificate verification failed: certificate revoked: the partner's certificate (serial " +
                  serial_of("revoked.leaf") + ") is on the CRL of " + inter +
                  " (presented: \"CN=revoked.b.test,O=fedgw test\", issued by " + inter + ")")
        << crl;
    // Not revoked: accepted, although the root has no CRL configured (CRL_CHECK_ALL, missing CRL not checked).
    auto peer = raw_contexts("peer");
    auto o = handshake(peer->new_client_session("a.test"), server->new_server_session());
    EXPECT_TRUE(o.server_ok && o.client_ok) << crl << ": " << o.server_error << o.client_error;
    // A partner under a CA we have no CRL for at all is not affected either.
    auto deep = raw_contexts("deep");
    auto d = handshake(deep->new_client_session("a.test"), server->new_server_session());
    EXPECT_TRUE(d.server_ok && d.client_ok) << crl << ": " << d.server_error << d.client_error;
  }
  // Outbound: the partner's server certificate is checked against the same CRLs.
  auto cfg = pem_config("peer");
  cfg.add_crl_files(cert_path("inter.crl.pem"));
  auto client = built_contexts(cfg);
  auto server = raw_contexts("revoked");
  ASSERT_TRUE(client && server);
  auto o = handshake(client->new_client_session("b.test"), server->new_server_session());
  EXPECT_FALSE(o.client_ok);
  EXPECT_NE(o.client_error.find("certificate revoked: the partner's certificate (serial " + serial_of("revoked.leaf")),
            std::string::npos)
      << o.client_error;
}

TEST(Verify, StaleCrlSaysWhatToDo) {
  auto cfg = pem_config("good");
  cfg.add_crl_files(cert_path("stale.crl.pem"));
  auto server = built_contexts(cfg);
  ASSERT_TRUE(server);
  EXPECT_TRUE(server->certificate().has_problem(level::warning, "has expired: certificates of this CA are refused"))
      << server->certificate().to_text();
  EXPECT_EQ(refused_inbound(server, "peer"),
            "peer certificate verification failed: the CRL of " + inter + " in certificate.crl_files expired on "
            "2020-02-01 00:00:00 UTC: install a current one (certificates of this CA are refused until then) "
            "(presented: \"CN=gw.b.test,O=fedgw test\", issued by " + inter + ")");
}

TEST(Verify, VerifyDepthIsSetAndEnforced) {
  auto normal = built_contexts(pem_config("good"));
  ASSERT_TRUE(normal);
  EXPECT_EQ(SSL_CTX_get_verify_depth(normal->server()), 5);
  EXPECT_EQ(SSL_CTX_get_verify_depth(normal->client()), 5);
  EXPECT_EQ(SSL_CTX_get_verify_depth(normal->internal_server()), 5);
  auto deep = raw_contexts("deep");  // two intermediates
  auto o = handshake(deep->new_client_session("a.test"), normal->new_server_session());
  EXPECT_TRUE(o.server_ok && o.client_ok) << o.server_error << o.client_error;

  auto cfg = pem_config("good");
  cfg.set_verify_depth(1);
  auto shallow = built_contexts(cfg);  // its own chain has one intermediate: fine
  ASSERT_TRUE(shallow);
  EXPECT_EQ(SSL_CTX_get_verify_depth(shallow->client()), 1);
  EXPECT_EQ(refused_inbound(shallow, "deep"),
            "peer certificate verification failed: the partner's certificate chain is longer than "
            "certificate.verify_depth (1 intermediate CA certificates) allows (presented: \"CN=gw.b.test,O=fedgw "
            "test\", issued by \"CN=fedgw test deep CA 2,O=fedgw test\")");
  auto peer = raw_contexts("peer");
  auto p = handshake(peer->new_client_session("a.test"), shallow->new_server_session());
  EXPECT_TRUE(p.server_ok && p.client_ok) << p.server_error << p.client_error;
  // The own certificate is held to the same depth.
  auto own = pem_config("deep");
  own.set_verify_depth(1);
  auto v = load_and_validate(own, options_for(own));
  EXPECT_TRUE(v.has_problem(level::error, "certificate chain is longer than certificate.verify_depth (1 intermediate "
                                          "CA certificates) allows"))
      << v.to_text();
}

config::Listener mtls_listener(const std::string& ca_bundle, std::vector<std::string> names) {
  config::Listener l;
  l.set_bind_ip("127.0.0.1");
  l.set_transport(config::MTLS);
  if (!ca_bundle.empty()) l.set_ca_bundle(cert_path(ca_bundle));
  for (auto& n : names) l.add_peer_names(n);
  return l;
}

TEST(InternalListener, OwnCaBundleTrustsOnlyTheUcServer) {
  auto internal = mtls_listener("uc_ca.pem", {});
  auto gw = built_contexts(pem_config("good"), &internal);
  auto uc = raw_contexts("uc");       // issued by the UC server's own CA
  auto partner = raw_contexts("peer");  // issued by the public (federation) CA
  ASSERT_TRUE(gw && uc && partner);
  EXPECT_TRUE(gw->certificate().has_problem(level::info, "internal_listener: the UC server's certificate is verified "
                                                         "against the CA bundle " + cert_path("uc_ca.pem") +
                                                         ", any name"))
      << gw->certificate().to_text();

  auto o = handshake(uc->new_client_session("a.test"), gw->new_internal_server_session());
  ASSERT_TRUE(o.server_ok && o.client_ok) << o.server_error << o.client_error;
  auto id = gw->check_internal_peer(o.server.get());
  EXPECT_TRUE(id.ok) << id.reason;
  EXPECT_EQ(id.matched, "uc.internal");

  // A partner's publicly trusted certificate is not the UC server ...
  auto p = handshake(partner->new_client_session("a.test"), gw->new_internal_server_session());
  EXPECT_FALSE(p.server_ok);
  EXPECT_NE(p.server_error.find("issued by a CA we do not trust"), std::string::npos) << p.server_error;
  // ... but still federates on the federation listener, where the UC server's certificate is unknown.
  auto f = handshake(partner->new_client_session("a.test"), gw->new_server_session());
  EXPECT_TRUE(f.server_ok && f.client_ok) << f.server_error << f.client_error;
  auto u = handshake(uc->new_client_session("a.test"), gw->new_server_session());
  EXPECT_FALSE(u.server_ok);
  // The internal context tells clients to use the UC CA.
  STACK_OF(X509_NAME)* cas = SSL_CTX_get_client_CA_list(gw->internal_server());
  ASSERT_EQ(sk_X509_NAME_num(cas), 1);
  EXPECT_EQ(name_text(sk_X509_NAME_value(cas, 0)), "CN=uc internal CA,O=uc");
}

TEST(InternalListener, PeerNamesPinTheUcServer) {
  auto internal = mtls_listener("uc_ca.pem", {"UC.internal"});
  auto gw = built_contexts(pem_config("good"), &internal);
  ASSERT_TRUE(gw);
  auto o = handshake(raw_contexts("uc")->new_client_session("a.test"), gw->new_internal_server_session());
  ASSERT_TRUE(o.server_ok) << o.server_error;
  auto id = gw->check_internal_peer(o.server.get());
  EXPECT_TRUE(id.ok) << id.reason;
  EXPECT_EQ(id.matched, "uc.internal");

  // Verified by the UC CA, but another name (CN only, no SAN).
  auto other = handshake(raw_contexts("uc_noname")->new_client_session("a.test"), gw->new_internal_server_session());
  ASSERT_TRUE(other.server_ok) << other.server_error;
  auto refused = gw->check_internal_peer(other.server.get());
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(refused.reason, "UC server certificate \"CN=uc2.internal,O=fedgw test\" is not one of "
                            "internal_listener.peer_names (UC.internal); its names: uc2.internal");
  // The CN counts when it is the configured name.
  auto by_cn = check_internal_peer(other.server.get(), {"uc2.internal"});
  EXPECT_TRUE(by_cn.ok) << by_cn.reason;

  // Names alone (no internal ca_bundle): the certificate's CAs verify, the names pin. The CN counts next to SANs.
  auto names_only = mtls_listener("", {"gw.b.test"});
  auto gw2 = built_contexts(pem_config("good"), &names_only);
  ASSERT_TRUE(gw2);
  auto p = handshake(raw_contexts("peer")->new_client_session("a.test"), gw2->new_internal_server_session());
  ASSERT_TRUE(p.server_ok) << p.server_error;
  EXPECT_TRUE(gw2->check_internal_peer(p.server.get()).ok);
  auto wrong = check_internal_peer(p.server.get(), {"a.test", "*.b.test"});
  EXPECT_FALSE(wrong.ok);
  EXPECT_EQ(wrong.reason, "UC server certificate \"CN=gw.b.test,O=fedgw test\" is not one of "
                          "internal_listener.peer_names (a.test, *.b.test); its names: b.test, gw.b.test");
}

TEST(InternalListener, NoCertificateIsOnlyAcceptedWithoutNames) {
  auto internal = mtls_listener("uc_ca.pem", {"uc.internal"});
  auto gw = built_contexts(pem_config("good"), &internal);
  ASSERT_TRUE(gw);
  ssl_ctx_ptr bare{SSL_CTX_new(TLS_client_method())};
  ASSERT_EQ(SSL_CTX_load_verify_locations(bare.get(), cert_path("ca.pem").c_str(), nullptr), 1);
  ssl_ptr c{SSL_new(bare.get())};
  SSL_set_connect_state(c.get());
  auto o = handshake(std::move(c), gw->new_internal_server_session(client_cert_mode::request));
  ASSERT_TRUE(o.server_ok) << o.server_error;
  auto id = gw->check_internal_peer(o.server.get());
  EXPECT_FALSE(id.ok);
  EXPECT_EQ(id.reason, "the UC server presented no certificate (internal_listener.peer_names: uc.internal)");
  EXPECT_TRUE(check_internal_peer(o.server.get(), {}).ok);
}

TEST(InternalListener, MtlsWithoutCaBundleOrNamesWarns) {
  auto open = mtls_listener("", {});
  auto v = load_and_validate(pem_config("good"), options_for(pem_config("good")), nullptr, &open);
  EXPECT_TRUE(v.ok()) << v.to_text();
  EXPECT_TRUE(v.has_problem(level::warning, "internal_listener: any client certificate the CA bundle " +
                                                cert_path("ca.pem") + " (certificate.ca_bundle) trusts is accepted as "
                                                "the UC server; set internal_listener.ca_bundle or "
                                                "internal_listener.peer_names"))
      << v.to_text();
  // Plain TCP: nothing to say.
  config::Listener tcp;
  tcp.set_transport(config::TCP);
  auto t = load_and_validate(pem_config("good"), options_for(pem_config("good")), nullptr, &tcp);
  EXPECT_FALSE(t.has_problem(level::info, "internal_listener")) << t.to_text();
}

}  // namespace
}  // namespace fedgw::tls
