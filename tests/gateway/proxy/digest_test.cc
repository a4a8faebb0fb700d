#include "gateway/proxy/digest.h"

#include <gtest/gtest.h>

namespace fedgw::proxy::digest {
namespace {

// RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5 (qop=auth, opaque).
constexpr std::string_view rfc7616_nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
constexpr std::string_view rfc7616_cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const credentials mufasa{"Mufasa", "Circle of Life"};

std::string rfc7616_challenge(std::string_view algorithm) {
  return "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=" + std::string(algorithm) +
         ", nonce=\"" + std::string(rfc7616_nonce) + "\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
}

TEST(Digest, Rfc7616ExampleWithSha256) {
  std::string error;
  auto c = parse_challenge(rfc7616_challenge("SHA-256"), error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->alg, algorithm::sha256);
  EXPECT_TRUE(c->qop_auth);
  EXPECT_EQ(c->realm, "http-auth@example.org");
  EXPECT_EQ(response_digest(*c, mufasa, "GET", "/dir/index.html", 1, rfc7616_cnonce),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

TEST(Digest, Rfc7616ExampleWithMd5) {
  std::string error;
  auto c = parse_challenge(rfc7616_challenge("MD5"), error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->alg, algorithm::md5);
  auto value = authorization(*c, mufasa, "GET", "/dir/index.html", 1, rfc7616_cnonce);
  EXPECT_NE(value.find("response=\"8ca523f5e9506fed4657c9700eebdbec\""), std::string::npos) << value;
  EXPECT_NE(value.find("qop=auth, nc=00000001, cnonce=\"" + std::string(rfc7616_cnonce) + "\""), std::string::npos);
  EXPECT_NE(value.find("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""), std::string::npos);
  EXPECT_NE(value.find("algorithm=MD5"), std::string::npos);
}

// RFC 2617 §3.5 (the classic example; no algorithm parameter means MD5).
TEST(Digest, Rfc2617Example) {
  std::string error;
  auto c = parse_challenge(
    "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
    "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
    error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->alg, algorithm::md5);
  EXPECT_EQ(response_digest(*c, {"Mufasa", "Circle Of Life"}, "GET", "/dir/index.html", 1, "0a4f113b"),
            "6629fae49393a05397450978507c4ef1");
}

TEST(Digest, WithoutQopTheResponseOmitsNonceCount) {
  std::string error;
  auto c = parse_challenge("Digest realm=\"b.test\", nonce=\"n1\"", error);
  ASSERT_TRUE(c) << error;
  EXPECT_FALSE(c->qop_auth);
  auto value = authorization(*c, {"gw", "pw"}, "REGISTER", "sip:b.test", 1, "cn");
  EXPECT_EQ(value.find("nc="), std::string::npos);
  EXPECT_EQ(value.find("cnonce"), std::string::npos);
  // RFC 2069 form: H(HA1:nonce:HA2); the count and the client nonce do not change it.
  EXPECT_EQ(response_digest(*c, {"gw", "pw"}, "REGISTER", "sip:b.test", 1, "cn"),
            response_digest(*c, {"gw", "pw"}, "REGISTER", "sip:b.test", 7, "other"));
}

TEST(Digest, NonceCountAndCnonceChangeTheResponse) {
  std::string error;
  auto c = parse_challenge("Digest realm=\"b.test\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-256", error);
  ASSERT_TRUE(c) << error;
  auto first = response_digest(*c, {"gw", "pw"}, "REGISTER", "sip:b.test", 1, "cn");
  EXPECT_EQ(first.size(), 64u);
  EXPECT_NE(first, response_digest(*c, {"gw", "pw"}, "REGISTER", "sip:b.test", 2, "cn"));
  EXPECT_NE(first, response_digest(*c, {"gw", "pw"}, "REGISTER", "sip:b.test", 1, "cn2"));
  EXPECT_NE(first, response_digest(*c, {"gw", "pw2"}, "REGISTER", "sip:b.test", 1, "cn"));
  EXPECT_NE(authorization(*c, {"gw", "pw"}, "REGISTER", "sip:b.test", 10, "cn").find("nc=0000000a"),
            std::string::npos);
}

TEST(Digest, SessionVariantHashesTheNonceIntoHa1) {
  std::string error;
  auto plain = parse_challenge("Digest realm=\"r\", nonce=\"n\", qop=auth, algorithm=MD5", error);
  auto sess = parse_challenge("Digest realm=\"r\", nonce=\"n\", qop=auth, algorithm=MD5-sess", error);
  ASSERT_TRUE(plain && sess) << error;
  EXPECT_TRUE(sess->session);
  EXPECT_NE(response_digest(*plain, {"u", "p"}, "REGISTER", "sip:r", 1, "c"),
            response_digest(*sess, {"u", "p"}, "REGISTER", "sip:r", 1, "c"));
  EXPECT_NE(authorization(*sess, {"u", "p"}, "REGISTER", "sip:r", 1, "c").find("algorithm=MD5-sess"),
            std::string::npos);
}

TEST(Digest, StaleAndCaseInsensitiveNames) {
  std::string error;
  auto c = parse_challenge("digest REALM=\"r\",NONCE=\"n\" , Stale=TRUE,algorithm=sha-256", error);
  ASSERT_TRUE(c) << error;
  EXPECT_TRUE(c->stale);
  EXPECT_EQ(c->alg, algorithm::sha256);
  c = parse_challenge("Digest realm=\"r\", nonce=\"n\", stale=false", error);
  ASSERT_TRUE(c) << error;
  EXPECT_FALSE(c->stale);
}

TEST(Digest, UnusableChallengesSayWhy) {
  std::string error;
  EXPECT_FALSE(parse_challenge("Basic realm=\"r\"", error));
  EXPECT_NE(error.find("not Digest"), std::string::npos) << error;
  EXPECT_FALSE(parse_challenge("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256", error));
  EXPECT_NE(error.find("SHA-512-256 is not supported"), std::string::npos) << error;
  EXPECT_FALSE(parse_challenge("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"", error));
  EXPECT_NE(error.find("offers no \"auth\""), std::string::npos) << error;
  EXPECT_FALSE(parse_challenge("Digest realm=\"r\"", error));
  EXPECT_EQ(error, "no nonce");
  EXPECT_FALSE(parse_challenge("Digest nonce=\"n\"", error));
  EXPECT_EQ(error, "no realm");
  EXPECT_FALSE(parse_challenge("Digest realm=\"r, nonce=\"n\"", error));  // the quote swallows the rest
  EXPECT_FALSE(parse_challenge("Digest realm=\"unterminated", error));
  EXPECT_NE(error.find("unterminated"), std::string::npos) << error;
  EXPECT_FALSE(parse_challenge("Digest realm", error));
  EXPECT_FALSE(parse_challenge("Digest realm=\"r\" nonce=\"n\"", error));
  EXPECT_NE(error.find("expected ','"), std::string::npos) << error;
  EXPECT_FALSE(parse_challenge("", error));
  EXPECT_FALSE(parse_challenge("Digest realm=\"a \\\x02" "b\", nonce=\"n\"", error));  // found by digest_fuzz
  EXPECT_EQ(error, "realm contains a control character");
}

TEST(Digest, PickTakesTheTopmostUsableChallenge) {
  std::string error;
  auto c = pick_challenge({"Digest realm=\"r\", nonce=\"a\", algorithm=SHA-512-256",
                           "Digest realm=\"r\", nonce=\"b\", algorithm=SHA-256",
                           "Digest realm=\"r\", nonce=\"c\", algorithm=MD5"},
                          error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->nonce, "b");
  EXPECT_EQ(c->alg, algorithm::sha256);
  c = pick_challenge({"Digest realm=\"r\", nonce=\"c\", algorithm=MD5", "Digest realm=\"r\", nonce=\"b\", algorithm=SHA-256"},
                     error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->nonce, "c");  // the proxy's order, not ours
  EXPECT_FALSE(pick_challenge({"Basic realm=\"r\"", "Digest realm=\"r\""}, error));
  EXPECT_NE(error.find("not Digest"), std::string::npos) << error;
  EXPECT_NE(error.find("no nonce"), std::string::npos) << error;
  EXPECT_FALSE(pick_challenge({}, error));
  EXPECT_EQ(error, "no challenge in the response");
}

// Values with quotes and backslashes are escaped in the answer and read back unchanged.
TEST(Digest, QuotedValuesRoundTrip) {
  std::string error;
  auto c = parse_challenge(R"(Digest realm="a \"quoted\" realm\\x", nonce="n,1", opaque="o p")", error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->realm, R"(a "quoted" realm\x)");
  EXPECT_EQ(c->nonce, "n,1");
  auto value = authorization(*c, {"us\"er", "pw"}, "REGISTER", "sip:r", 1, "c");
  auto back = parse_challenge(value, error);
  ASSERT_TRUE(back) << error << ": " << value;
  EXPECT_EQ(back->realm, c->realm);
  EXPECT_EQ(back->nonce, c->nonce);
  EXPECT_EQ(back->opaque, "o p");
  EXPECT_NE(value.find(R"(username="us\"er")"), std::string::npos) << value;
}

// The answerer counts a nonce's uses and starts again at 1 for a new one; the header follows 401 / 407.
TEST(Digest, AnswererCountsEachNonce) {
  std::string error;
  answerer a;
  EXPECT_FALSE(a.ready());
  a.challenged(*parse_challenge("Digest realm=\"r\", nonce=\"n1\", qop=auth", error), true);
  ASSERT_TRUE(a.ready());
  EXPECT_EQ(a.header(), "Proxy-Authorization");
  EXPECT_NE(a.next({"u", "p"}, "MESSAGE", "sip:b@r").find("nc=00000001"), std::string::npos);
  EXPECT_NE(a.next({"u", "p"}, "MESSAGE", "sip:b@r").find("nc=00000002"), std::string::npos);
  a.challenged(*parse_challenge("Digest realm=\"r\", nonce=\"n1\", qop=auth", error), true);  // same nonce
  EXPECT_NE(a.next({"u", "p"}, "MESSAGE", "sip:b@r").find("nc=00000003"), std::string::npos);
  a.challenged(*parse_challenge("Digest realm=\"r\", nonce=\"n2\", qop=auth", error), false);
  EXPECT_EQ(a.header(), "Authorization");
  auto value = a.next({"u", "p"}, "REGISTER", "sip:r");
  EXPECT_NE(value.find("nc=00000001"), std::string::npos);
  EXPECT_NE(value.find("nonce=\"n2\""), std::string::npos);
  a.forget();
  EXPECT_FALSE(a.ready());
}

TEST(Digest, CnoncesAreFreshHex) {
  auto a = make_cnonce(), b = make_cnonce();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace fedgw::proxy::digest
