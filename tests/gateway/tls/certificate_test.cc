// Loading and validating the gateway certificate: every problem is detected with its precise message.
#include "gateway/tls/certificate.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <thread>

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

TEST(Validate, NoClientAuthWithMutualTlsWarnsUnlessRequired) {
  // Public CAs issue serverAuth-only certificates now: usable for mutual TLS, with a warning.
  auto v = check(pem_config("noclient"));
  EXPECT_TRUE(v.ok()) << dump(v);
  EXPECT_TRUE(v.has_problem(level::warning, "certificate lacks the clientAuth extended key usage: fedgw accepts it for "
                                            "mutual TLS, but partners that require clientAuth will refuse it"))
      << dump(v);
  auto cfg = pem_config("noclient");
  cfg.set_require_client_auth_eku(true);
  auto strict = check(cfg, options_for(cfg));
  EXPECT_FALSE(strict.ok());
  EXPECT_TRUE(strict.has_problem(level::error, "certificate lacks the clientAuth extended key usage needed for mutual "
                                               "TLS (certificate.require_client_auth_eku is set)"))
      << dump(strict);
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
  EXPECT_TRUE(v.has_problem(level::error, "cannot read certificate.cert_file " + cert_path("nope.pem") +
                                              ": No such file or directory"))
      << dump(v);
  EXPECT_TRUE(v.has_problem(level::error, "cannot read certificate.key_file " + cert_path("nope.key") +
                                              ": No such file or directory"))
      << dump(v);
  EXPECT_TRUE(v.has_problem(level::error, "cannot read certificate.ca_bundle " + cert_path("nope-ca.pem"))) << dump(v);
  EXPECT_NE(v.to_text().find("(not loaded)"), std::string::npos);
}

TEST(Load, EncryptedKeyIsExplained) {
  auto cfg = pem_config("good");
  cfg.set_key_file(cert_path("encrypted.key"));
  auto v = check(cfg);
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "cannot read certificate.key_file " + cert_path("encrypted.key") +
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
  EXPECT_EQ(SSL_CTX_get_verify_depth(good.contexts->server()), 5);
  EXPECT_EQ(X509_VERIFY_PARAM_get_flags(SSL_CTX_get0_param(good.contexts->server())) & X509_V_FLAG_CRL_CHECK, 0u)
      << "no CRLs configured: no CRL check";
  for (const char* bad : {"expired", "notyet", "wrongkey", "selfsigned", "leafonly"}) {
    auto r = build_contexts(pem_config(bad), {}, 8);
    EXPECT_EQ(r.contexts, nullptr) << bad;
    EXPECT_FALSE(r.result.ok()) << bad;
    EXPECT_FALSE(r.result.errors().empty()) << bad;
  }
}

// Runs `f` on its own thread and waits at most 5 s: a blocked read of a FIFO must fail the test, not hang it.
template <class F>
bool finishes_promptly(F f) {
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  std::thread([f, done]() mutable {
    f();
    done->set_value();
  }).detach();
  return future.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
}

TEST(Load, FifoDirectoryAndDeviceAreRefusedWithoutReading) {
  auto fifo = cert_path("fifo.pem");
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto cfg = pem_config("good");
  cfg.set_cert_file(fifo);
  cfg.set_key_file(testing::cert_dir());
  cfg.set_ca_bundle("/dev/zero");  // would never end if read
  cfg.add_crl_files("/dev/null");
  auto v = std::make_shared<validation_result>();
  ASSERT_TRUE(finishes_promptly([cfg, v] { *v = check(cfg); })) << "blocked on the FIFO or the device";
  EXPECT_FALSE(v->ok());
  EXPECT_TRUE(v->has_problem(level::error, "certificate.cert_file: " + fifo + " is a FIFO, not a regular file"))
      << dump(*v);
  EXPECT_TRUE(v->has_problem(level::error, "certificate.key_file: " + testing::cert_dir() +
                                               " is a directory, not a regular file"))
      << dump(*v);
  EXPECT_TRUE(v->has_problem(level::error, "certificate.ca_bundle: /dev/zero is a character device, not a regular "
                                           "file"))
      << dump(*v);
  EXPECT_TRUE(v->has_problem(level::error, "certificate.crl_files[0]: /dev/null is a character device, not a "
                                           "regular file"))
      << dump(*v);
  auto p12 = config::Certificate{};
  p12.set_pkcs12_file(fifo);
  auto w = std::make_shared<validation_result>();
  ASSERT_TRUE(finishes_promptly([p12, w] { *w = check(p12); }));
  EXPECT_TRUE(w->has_problem(level::error, "certificate.pkcs12_file: " + fifo + " is a FIFO, not a regular file"))
      << dump(*w);
  ::unlink(fifo.c_str());
}

TEST(Load, CrlFilesInPemAndDer) {
  auto cfg = pem_config("good");
  cfg.add_crl_files(cert_path("inter.crl.pem"));
  cfg.add_crl_files(cert_path("inter.crl.der"));
  auto r = build_contexts(cfg, options_for(cfg), 1);
  ASSERT_NE(r.contexts, nullptr) << dump(r.result);
  size_t crls = 0;
  for (const auto& p : r.result.problems)
    crls += p.severity == level::info &&
            p.text.rfind("CRL of \"CN=fedgw test intermediate CA,O=fedgw test\" (1 revoked, next update ", 0) == 0 &&
            p.text.find(") is checked") != std::string::npos;
  EXPECT_EQ(crls, 2u) << dump(r.result);
  auto flags = X509_VERIFY_PARAM_get_flags(SSL_CTX_get0_param(r.contexts->server()));
  EXPECT_EQ(flags & (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL),
            static_cast<unsigned long>(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL));
  flags = X509_VERIFY_PARAM_get_flags(SSL_CTX_get0_param(r.contexts->client()));
  EXPECT_NE(flags & X509_V_FLAG_CRL_CHECK, 0u);

  // All or nothing: a file that holds no CRL refuses the whole certificate.
  auto junk = cert_path("junk.crl");
  std::ofstream(junk) << "not a CRL\n";
  cfg.add_crl_files(junk);
  auto bad = build_contexts(cfg, options_for(cfg), 2);
  EXPECT_EQ(bad.contexts, nullptr);
  EXPECT_TRUE(bad.result.has_problem(level::error, "certificate.crl_files[2]: " + junk + " contains no CRL (PEM or DER)"))
      << dump(bad.result);
}

TEST(Validate, OwnRevokedCertificateIsAnError) {
  auto cfg = pem_config("revoked");
  cfg.add_crl_files(cert_path("inter.crl.pem"));
  auto v = check(cfg, options_for(cfg));
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(v.has_problem(level::error, "certificate revoked: \"CN=revoked.b.test,O=fedgw test\" is on a CRL of "
                                          "certificate.crl_files"))
      << dump(v);
  // Without the CRL it is a fine certificate.
  EXPECT_TRUE(check(pem_config("revoked")).ok());
  // A stale CRL of our own CA: a warning, the certificate itself stays usable.
  auto stale = pem_config("good");
  stale.add_crl_files(cert_path("stale.crl.pem"));
  auto s = check(stale, options_for(stale));
  EXPECT_TRUE(s.ok()) << dump(s);
  EXPECT_TRUE(s.has_problem(level::warning, "next update 2020-02-01 00:00:00 UTC) has expired")) << dump(s);
}

}  // namespace
}  // namespace fedgw::tls
