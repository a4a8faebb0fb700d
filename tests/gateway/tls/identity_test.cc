// RFC 5922 peer identity: the names of a certificate and how a SIP domain is matched against them.
#include "gateway/tls/identity.h"

#include <gtest/gtest.h>

#include <openssl/pem.h>

#include "gateway/tls/openssl_ptr.h"
#include "tests/gateway/tls/tls_test_support.h"

namespace fedgw::tls {
namespace {

using testing::cert_path;

x509_ptr read_cert(const std::string& name) {
  FILE* f = std::fopen(cert_path(name + ".pem").c_str(), "r");
  EXPECT_NE(f, nullptr) << name;
  if (!f) return nullptr;
  x509_ptr x{PEM_read_X509(f, nullptr, nullptr, nullptr)};
  std::fclose(f);
  EXPECT_NE(x, nullptr) << name;
  return x;
}

identity_name dns(std::string s) { return {identity_name::dns, s, normalize_domain(s), ""}; }
identity_name cn(std::string s) { return {identity_name::common_name, s, normalize_domain(s), ""}; }

// --- names found in real certificates ------------------------------------------------------------------------

TEST(CertificateIdentities, SanDnsNamesAndSipUrisInOrderCnIgnored) {
  auto x = read_cert("good");
  auto names = certificate_identities(x.get());
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names[0].text, "a.test");
  EXPECT_EQ(names[0].kind, identity_name::dns);
  EXPECT_EQ(names[1].text, "gw.a.test");
  EXPECT_EQ(names[2].text, "sip:a.test");
  EXPECT_EQ(names[2].kind, identity_name::uri);
  EXPECT_EQ(names[2].host, "a.test");
  EXPECT_TRUE(names[2].ignored.empty());
  EXPECT_EQ(names[3].kind, identity_name::common_name);
  EXPECT_EQ(names[3].text, "gw.a.test");
  EXPECT_EQ(names[3].ignored, "the certificate has a subjectAltName");
  EXPECT_TRUE(names[3].host.empty());
}

TEST(CertificateIdentities, CnCountsOnlyWithoutSan) {
  auto x = read_cert("nosan");
  auto names = certificate_identities(x.get());
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].kind, identity_name::common_name);
  EXPECT_EQ(names[0].host, "nosan.a.test");
  EXPECT_TRUE(names[0].ignored.empty());
  EXPECT_TRUE(check_peer_identity(x.get(), "nosan.a.test", false).ok);
}

TEST(CertificateIdentities, SipUriWithUserPartIsIgnored) {
  auto x = read_cert("mixed");  // CN=b.test, SAN DNS:peer.test URI:sip:other.test URI:sip:alice@b.test
  auto names = certificate_identities(x.get());
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names[2].text, "sip:alice@b.test");
  EXPECT_EQ(names[2].ignored, "has a user part");
  // b.test appears only as the user-part URI and as the CN: neither counts.
  auto r = check_peer_identity(x.get(), "b.test", false);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason,
            "certificate name mismatch: expected b.test, found peer.test, sip:other.test, "
            "sip:alice@b.test (has a user part), CN=b.test (the certificate has a subjectAltName)");
  EXPECT_TRUE(check_peer_identity(x.get(), "peer.test", false).ok);
  auto via_uri = check_peer_identity(x.get(), "other.test", false);
  EXPECT_TRUE(via_uri.ok);
  EXPECT_EQ(via_uri.matched, "sip:other.test");
}

TEST(CertificateIdentities, SanSipUriAndDnsNameMatch) {
  auto x = read_cert("peer");  // SAN DNS:b.test URI:sip:b.test
  auto r = check_peer_identity(x.get(), "b.test", false);
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.matched, "b.test");
  auto other = check_peer_identity(x.get(), "c.test", false);
  EXPECT_FALSE(other.ok);
  EXPECT_EQ(other.reason,
            "certificate name mismatch: expected c.test, found b.test, sip:b.test, "
            "CN=gw.b.test (the certificate has a subjectAltName)");
  // The CN (gw.b.test) does not count because SANs exist.
  EXPECT_FALSE(check_peer_identity(x.get(), "gw.b.test", false).ok);
}

TEST(CertificateIdentities, WildcardCertificate) {
  auto x = read_cert("wildcard");  // SAN DNS:*.a.test, CN wildcard.a.test
  auto off = check_peer_identity(x.get(), "sip.a.test", false);
  EXPECT_FALSE(off.ok);
  EXPECT_NE(off.reason.find("*.a.test (wildcard, not allowed)"), std::string::npos) << off.reason;
  EXPECT_NE(off.reason.find("allow_wildcards"), std::string::npos) << off.reason;
  EXPECT_TRUE(check_peer_identity(x.get(), "sip.a.test", true).ok);
  EXPECT_FALSE(check_peer_identity(x.get(), "a.test", true).ok);
  EXPECT_FALSE(check_peer_identity(x.get(), "x.y.a.test", true).ok);
}

TEST(CertificateIdentities, NoCertificate) {
  auto r = check_peer_identity(nullptr, "b.test", false);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "the peer presented no certificate (expected b.test)");
}

// --- matching rules ----------------------------------------------------------------------------------------

TEST(MatchIdentity, ExactCaseInsensitiveTrailingDot) {
  std::vector<identity_name> names{dns("Peer.Test")};
  EXPECT_TRUE(match_identity(names, "peer.test", false).ok);
  EXPECT_TRUE(match_identity(names, "PEER.TEST", false).ok);
  EXPECT_TRUE(match_identity(names, "peer.test.", false).ok);
  EXPECT_FALSE(match_identity(names, "sub.peer.test", false).ok);
  EXPECT_FALSE(match_identity(names, "test", false).ok);
  EXPECT_FALSE(match_identity(names, "", false).ok);
}

TEST(MatchIdentity, MismatchNamesExpectedAndFound) {
  std::vector<identity_name> names{dns("peer.test"), {identity_name::uri, "sip:other.test", "other.test", ""}};
  auto r = match_identity(names, "B.test", false);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "certificate name mismatch: expected b.test, found peer.test, sip:other.test");
  auto none = match_identity({}, "b.test", false);
  EXPECT_EQ(none.reason, "certificate name mismatch: expected b.test, found no names (no subjectAltName and no CN)");
}

TEST(MatchIdentity, CnOnlyWhenNoSan) {
  EXPECT_TRUE(match_identity({cn("b.test")}, "b.test", false).ok);
}

TEST(MatchIdentity, WildcardsOnlyWhenAllowedAndOneLabel) {
  std::vector<identity_name> names{dns("*.example.com")};
  EXPECT_FALSE(match_identity(names, "sip.example.com", false).ok);
  EXPECT_TRUE(match_identity(names, "sip.example.com", true).ok);
  EXPECT_TRUE(match_identity(names, "SIP.Example.COM", true).ok);
  EXPECT_FALSE(match_identity(names, "example.com", true).ok);
  EXPECT_FALSE(match_identity(names, "a.b.example.com", true).ok);
  // sip: URIs never carry wildcards
  std::vector<identity_name> uri{{identity_name::uri, "sip:*.example.com", "*.example.com", ""}};
  EXPECT_FALSE(match_identity(uri, "sip.example.com", true).ok);
}

TEST(WildcardMatches, Rules) {
  EXPECT_TRUE(wildcard_matches("*.example.com", "a.example.com"));
  EXPECT_FALSE(wildcard_matches("*.example.com", ".example.com"));
  EXPECT_FALSE(wildcard_matches("*.com", "example.com"));         // too broad
  EXPECT_FALSE(wildcard_matches("f*.example.com", "foo.example.com"));  // partial label
  EXPECT_FALSE(wildcard_matches("*.*.example.com", "a.b.example.com"));
  EXPECT_FALSE(wildcard_matches("*.example.com", "aexample.com"));
}

}  // namespace
}  // namespace fedgw::tls
