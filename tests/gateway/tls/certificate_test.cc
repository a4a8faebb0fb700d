// Loading and validating the gateway certificate: every problem is detected with its precise message.
#include "gateway/tls/certificate.h"

#include <gtest/gtest.h>

#include <fstream>

#include "gateway/tls/contexts.h"
#include "tests/gateway/tls/tls_test_support.h"

namespace fedgw::tls {
namespace {

using testing::cert_path;
using testing::pem_config;

validation_result check(const config::Certificate& cfg, validate_options options = {}) {
  return load_and_validate(cfg, options);
}

std::string dump(const validation_result& v) { return v.to_text(); }

size_t count(const validation_result& v, level l) {
  size_t n = 0;
  for (const auto& p : v.problems) n += p.severity == l;
  return n;
}

TEST(Validate, GoodPemCertificateWithChain) {
  auto v = check(pem_config("good"));
  EXPECT_TRUE(v.ok()) << dump(v);
  EXPECT_EQ(count(v, level::error), 0u) << dump(v);
  EXPECT_EQ(count(v, level::warning), 0u) << dump(v);
  EXPECT_EQ(v.common_name, "gw.a.test");
  EXPECT_EQ(v.dns_names, (std::vector<std::string>{"a.test", "gw.a.test"}));
  EXPECT_EQ(v.uris, (std::vector<std::string>{"sip:a.test"}));
  EXPECT_EQ(v.subject, "CN=gw.a.test,O=fedgw test");
  EXPECT_EQ(v.issuer, "CN=fedgw test intermediate CA,O=fedgw test");
  EXPECT_EQ(v.chain_length, 1u);
  EXPECT_EQ(v.not_after - v.not_before, 365 * 86400);
  EXPECT_EQ(v.trust_source, "CA bundle " + cert_path("ca.pem"));
  // Same fingerprint as the openssl command computes.
  auto fp = testing::run("openssl x509 -in " + cert_path("good.pem") + " -noout -fingerprint -sha256");
  EXPECT_EQ(fp, "sha256 Fingerprint=" + v.fingerprint + "\n");
  EXPECT_TRUE(v.has_problem(level::info,
                            "certificate chain verified: CN=gw.a.test,O=fedgw test <- CN=fedgw test intermediate "
                            "CA,O=fedgw test <- CN=fedgw test root CA,O=fedgw test"))
      << dump(v);
  EXPECT_TRUE(v.has_problem(level::info, "names: a.test, gw.a.test, sip:a.test")) << dump(v);
  EXPECT_TRUE(v.has_problem(level::info, "days left)")) << dump(v);
  auto text = v.to_text();
  EXPECT_NE(text.find("usable"), std::string::npos);
  EXPECT_NE(text.find("sha256:      " + v.fingerprint), std::string::npos) << text;
}

TEST(Validate, Pkcs12WithPassword) {
  config::Certificate cfg;
  cfg.set_pkcs12_file(cert_path("good.p12"));
  cfg.set_pkcs12_password("secret");
  cfg.set_ca_bundle(cert_path("ca.pem"));
  auto v = check(cfg);
  EXPECT_TRUE(v.ok()) << dump(v);
  EXPECT_EQ(v.fingerprint, check(pem_config("good")).fingerprint);
  EXPECT_EQ(v.chain_length, 1u);
  EXPECT_EQ(v.source, cert_path("good.p12"));
}

TEST(Validate, Pkcs12WrongPassword) {
  config::Certificate cfg;
  cfg.set_pkcs12_file(cert_path("good.p12"));
  cfg.set_pkcs12_password("wrong");
  cfg.set_ca_bundle(cert_path("ca.pem"));
  auto v = check(cfg);
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "cannot open pkcs12_file " + cert_path("good.p12") +
                                              ": wrong pkcs12_password (MAC verification failed)"))
      << dump(v);
}

TEST(Validate, Pkcs12NotAPkcs12File) {
  config::Certificate cfg;
  cfg.set_pkcs12_file(cert_path("good.pem"));
  cfg.set_ca_bundle(cert_path("ca.pem"));
  auto v = check(cfg);
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "pkcs12_file " + cert_path("good.pem") + " is not a PKCS#12 file"))
      << dump(v);
}

TEST(Validate, Expired) {
  auto v = check(pem_config("expired"));
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "certificate expired on 2021-01-01 00:00:00 UTC (valid from "
                                          "2020-01-01 00:00:00 UTC, now "))
      << dump(v);
  EXPECT_EQ(count(v, level::error), 1u) << "the chain check must not repeat the date problem\n" << dump(v);
}

TEST(Validate, NotYetValid) {
  auto v = check(pem_config("notyet"));
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "certificate is not yet valid: valid from 2045-01-01 00:00:00 UTC until "
                                          "2046-01-01 00:00:00 UTC (now "))
      << dump(v);
  EXPECT_EQ(count(v, level::error), 1u) << dump(v);
}

TEST(Validate, ExpiresSoonWarns) {
  auto v = check(pem_config("expiring"));  // 10 days left
  EXPECT_TRUE(v.ok()) << dump(v);
  // 10 days minus the seconds since the script ran
  EXPECT_TRUE(v.has_problem(level::warning, "certificate expires in 9 days, on " + format_utc(v.not_after)) ||
              v.has_problem(level::warning, "certificate expires in 10 days, on " + format_utc(v.not_after)))
      << dump(v);
  EXPECT_TRUE(v.has_problem(level::warning, "(expiry_warning_days = 30): renew it")) << dump(v);

  auto cfg = pem_config("expiring");
  cfg.set_expiry_warning_days(5);
  auto quiet = check(cfg, options_for(cfg));
  EXPECT_EQ(count(quiet, level::warning), 0u) << dump(quiet);
}

TEST(Validate, ExpiryWarningAtAGivenTime) {
  auto good = check(pem_config("good"));
  validate_options o;
  o.now = good.not_after - 20 * 86400;
  auto v = check(pem_config("good"), o);
  EXPECT_TRUE(v.ok()) << dump(v);
  EXPECT_TRUE(v.has_problem(level::warning, "certificate expires in 20 days, on " + format_utc(good.not_after)))
      << dump(v);
  o.now = good.not_after + 1;
  auto expired = check(pem_config("good"), o);
  EXPECT_FALSE(expired.ok());
  EXPECT_TRUE(expired.has_problem(level::error, "certificate expired on " + format_utc(good.not_after))) << dump(v);
}

TEST(Validate, KeyDoesNotMatchCertificate) {
  auto v = check(pem_config("wrongkey"));
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "private key does not match the certificate \"CN=gw.a.test,O=fedgw test\""))
      << dump(v);
}

TEST(Validate, SelfSignedIsRefusedEvenWhenTrusted) {
  auto v = check(pem_config("selfsigned"));
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "certificate is self-signed (subject = issuer = \"CN=gw.a.test,O=fedgw "
                                          "test\"): self-signed certificates are refused for federation"))
      << dump(v);
  EXPECT_EQ(count(v, level::error), 1u) << dump(v);

  auto cfg = pem_config("selfsigned");
  cfg.set_ca_bundle(cert_path("selfsigned.pem"));  // trusting itself does not help
  auto trusted = check(cfg);
  EXPECT_FALSE(trusted.ok());
  EXPECT_TRUE(trusted.has_problem(level::error, "self-signed certificates are refused for federation")) << dump(v);
}

TEST(Validate, UntrustedIssuer) {
  auto cfg = pem_config("untrusted");
  auto v = check(cfg);
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "certificate chain does not lead to a trusted CA: the issuer \"CN=untrusted "
                                          "root CA,O=elsewhere\" of \"CN=gw.b.test,O=elsewhere\" is neither in the "
                                          "certificate file nor in the CA bundle " + cert_path("ca.pem")))
      << dump(v);
}

TEST(Validate, MissingIntermediate) {
  auto v = check(pem_config("leafonly"));
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "the issuer \"CN=fedgw test intermediate CA,O=fedgw test\""))
      << dump(v);
  EXPECT_TRUE(v.has_problem(level::error, "the certificate file holds no intermediate certificates")) << dump(v);
}

TEST(Validate, UntrustedRootInChain) {
  auto cfg = pem_config("good");
  cfg.set_ca_bundle(cert_path("other_ca.pem"));
  auto v = check(cfg);
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "the issuer \"CN=fedgw test root CA,O=fedgw test\" of \"CN=fedgw test "
                                          "intermediate CA,O=fedgw test\" is neither in the certificate file nor in "
                                          "the CA bundle " + cert_path("other_ca.pem")))
      << dump(v);
}

TEST(Validate, SystemStoreDoesNotTrustTestCa) {
  auto cfg = pem_config("good");
  cfg.clear_ca_bundle();
  auto v = check(cfg);
  EXPECT_EQ(v.trust_source, "system trust store");
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "is neither in the certificate file nor in the system trust store"))
      << dump(v);
}

TEST(Validate, NoClientAuthWithMutualTls) {
  auto v = check(pem_config("noclient"));
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "certificate lacks the clientAuth extended key usage needed for mutual TLS"))
      << dump(v);
  validate_options server_only;
  server_only.mutual_tls = false;
  auto w = check(pem_config("noclient"), server_only);
  EXPECT_TRUE(w.ok()) << dump(w);
  EXPECT_TRUE(w.has_problem(level::info, "no clientAuth extended key usage (not needed")) << dump(w);
}

TEST(Validate, NoServerAuth) {
  auto v = check(pem_config("clientonly"));
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "certificate lacks the serverAuth extended key usage needed for a TLS "
                                          "server"))
      << dump(v);
}

TEST(Validate, KeyUsageWithoutDigitalSignature) {
  auto v = check(pem_config("nodigsig"));
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "certificate key usage lacks digitalSignature needed for TLS")) << dump(v);
}

TEST(Validate, NoSanWarnsAboutCnOnly) {
  auto v = check(pem_config("nosan"));
  EXPECT_TRUE(v.ok()) << dump(v);
  EXPECT_TRUE(v.dns_names.empty());
  EXPECT_EQ(v.common_name, "nosan.a.test");
  EXPECT_TRUE(v.has_problem(level::warning, "certificate has no subjectAltName: peers can only use its CN "
                                            "nosan.a.test"))
      << dump(v);
  EXPECT_TRUE(v.has_problem(level::info, "names: CN nosan.a.test")) << dump(v);
}

TEST(Validate, WildcardAndUserPartNamesWarn) {
  auto w = check(pem_config("wildcard"));
  EXPECT_TRUE(w.has_problem(level::warning, "subjectAltName *.a.test is a wildcard")) << dump(w);
  auto m = check(pem_config("mixed"));
  EXPECT_TRUE(m.has_problem(level::warning, "subjectAltName URI sip:alice@b.test has a user part and is ignored by "
                                            "peers (RFC 5922)"))
      << dump(m);
  EXPECT_TRUE(m.has_problem(level::info, "names: peer.test, sip:other.test, sip:alice@b.test")) << dump(m);
}

TEST(Validate, ServedDomainsNotCovered) {
  validate_options o;
  o.domains = {"a.test", "c.test"};
  auto v = check(pem_config("good"), o);
  EXPECT_TRUE(v.ok()) << dump(v);
  EXPECT_FALSE(v.has_problem(level::warning, "served domain a.test")) << dump(v);
  EXPECT_TRUE(v.has_problem(level::warning, "certificate does not cover the served domain c.test: certificate name "
                                            "mismatch: expected c.test, found a.test, gw.a.test, sip:a.test"))
      << dump(v);
}

TEST(Load, MissingFiles) {
  config::Certificate cfg;
  cfg.set_cert_file(cert_path("nope.pem"));
  cfg.set_key_file(cert_path("nope.key"));
  cfg.set_ca_bundle(cert_path("nope-ca.pem"));
  auto v = check(cfg);
  EXPECT_FALSE(v.ok());
  EXPECT_FALSE(v.loaded());
  EXPECT_TRUE(v.has_problem(level::error, "cannot read cert_file " + cert_path("nope.pem") +
                                              ": No such file or directory"))
      << dump(v);
  EXPECT_TRUE(v.has_problem(level::error, "cannot read key_file " + cert_path("nope.key") +
                                              ": No such file or directory"))
      << dump(v);
  EXPECT_TRUE(v.has_problem(level::error, "cannot read ca_bundle " + cert_path("nope-ca.pem"))) << dump(v);
  EXPECT_NE(v.to_text().find("(not loaded)"), std::string::npos);
}

TEST(Load, EncryptedKeyIsExplained) {
  auto cfg = pem_config("good");
  cfg.set_key_file(cert_path("encrypted.key"));
  auto v = check(cfg);
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "cannot read key_file " + cert_path("encrypted.key") +
                                              ": the key is encrypted"))
      << dump(v);
}

TEST(Load, NotPemAndEmptyBundle) {
  auto junk = cert_path("junk.txt");
  std::ofstream(junk) << "not a certificate\n";
  auto cfg = pem_config("good");
  cfg.set_cert_file(junk);
  cfg.set_ca_bundle(junk);
  auto v = check(cfg);
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "cert_file " + junk + " contains no PEM certificate")) << dump(v);
  EXPECT_TRUE(v.has_problem(level::error, "ca_bundle " + junk + " contains no certificates")) << dump(v);
}

TEST(Load, NothingConfigured) {
  auto v = check(config::Certificate{});
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "no certificate configured")) << dump(v);
}

TEST(BuildContexts, AllOrNothing) {
  auto good = build_contexts(pem_config("good"), {}, 7);
  ASSERT_NE(good.contexts, nullptr) << dump(good.result);
  EXPECT_EQ(good.contexts->generation(), 7u);
  EXPECT_EQ(good.contexts->certificate().fingerprint, good.result.fingerprint);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(good.contexts->server()), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(good.contexts->client()), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(good.contexts->server()), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  EXPECT_EQ(SSL_CTX_get_verify_mode(good.contexts->client()), SSL_VERIFY_PEER);
  for (const char* bad : {"expired", "notyet", "wrongkey", "selfsigned", "noclient", "leafonly"}) {
    auto r = build_contexts(pem_config(bad), {}, 8);
    EXPECT_EQ(r.contexts, nullptr) << bad;
    EXPECT_FALSE(r.result.ok()) << bad;
    EXPECT_FALSE(r.result.errors().empty()) << bad;
  }
}

}  // namespace
}  // namespace fedgw::tls
