#include "gateway/proxy/registration.h"

#include <gtest/gtest.h>

#include <openssl/evp.h>

#include "gateway/proxy/hex.h"
#include "tests/gateway/proxy/proxy_test_util.h"

namespace fedgw::proxy {
namespace {

using namespace std::chrono_literals;
using testing::parse;
using clock = registration::clock;
using state = registration::state;

registration::options login(std::string password = "secret") {
  registration::options o;
  o.login = {"gw", std::move(password)};
  o.aor_domain = "a.test";
  o.registrar_uri = "sip:127.0.0.1:5070;transport=tcp";
  o.transport = "TCP";
  o.contact_host = "127.0.0.1:5090";
  o.expires = 600s;
  return o;
}

// The proxy's answer to `request` (a REGISTER the machine sent), with more header lines.
sip::Message answer(const std::string& request, int code, const std::string& extra = "") {
  auto r = parse(request);
  std::string text = "SIP/2.0 " + std::to_string(code) + " Reason\r\n";
  for (auto v : r.get_all("Via")) text += "Via: " + std::string(v) + "\r\n";
  text += "From: " + std::string(r.get("From").value_or("")) + "\r\nTo: " + std::string(r.get("To").value_or("")) +
          ";tag=reg\r\nCall-ID: " + std::string(r.call_id()) + "\r\nCSeq: " + std::to_string(r.cseq().number) +
          " REGISTER\r\n" + extra + "Content-Length: 0\r\n\r\n";
  return parse(text);
}

std::string challenge(const std::string& nonce, bool stale = false, const std::string& algorithm = "MD5") {
  return "WWW-Authenticate: Digest realm=\"a.test\", nonce=\"" + nonce + "\", qop=\"auth\", algorithm=" + algorithm +
         (stale ? ", stale=true" : "") + "\r\n";
}

// The registrar's own check of an MD5 qop=auth Authorization value (written out here, not digest.cc's).
std::string param(std::string_view auth, const std::string& name) {
  auto at = auth.find(" " + name + "=");
  if (at == std::string_view::npos) at = auth.find("," + name + "=");
  if (at == std::string_view::npos) return "";
  auto v = auth.substr(at + name.size() + 2);
  if (!v.empty() && v.front() == '"') return std::string(v.substr(1, v.find('"', 1) - 1));
  return std::string(v.substr(0, v.find(',')));
}
std::string md5(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_md5(), nullptr);
  return hex(md, n);
}
bool registrar_accepts(const sip::Message& reg, const std::string& password) {
  auto auth = reg.get("Authorization");
  if (!auth) return false;
  std::string a(*auth);
  auto ha1 = md5(param(a, "username") + ":" + param(a, "realm") + ":" + password);
  auto ha2 = md5("REGISTER:" + param(a, "uri"));
  return param(a, "response") ==
         md5(ha1 + ":" + param(a, "nonce") + ":" + param(a, "nc") + ":" + param(a, "cnonce") + ":auth:" + ha2);
}

TEST(Registration, ChallengedLoginThenRegistered) {
  registration reg(login());
  auto now = clock::now();
  reg.connecting();
  EXPECT_EQ(reg.current(), state::connecting);
  auto first = reg.connected("127.0.0.1:40000", now);
  ASSERT_TRUE(first.send);
  EXPECT_EQ(reg.current(), state::authenticating);
  auto r1 = parse(*first.send);
  EXPECT_EQ(r1.method(), "REGISTER");
  EXPECT_EQ(r1.request_uri(), "sip:127.0.0.1:5070;transport=tcp");
  EXPECT_FALSE(r1.has("Authorization"));
  EXPECT_EQ(r1.get("Contact").value_or(""), "<sip:gw@127.0.0.1:5090;transport=tcp>");
  EXPECT_EQ(r1.get("Expires").value_or(""), "600");
  EXPECT_NE(std::string(r1.get("Via").value_or("")).find("SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bK"),
            std::string::npos);

  bool handled = false;
  auto second = reg.on_response(answer(*first.send, 401, challenge("n1")), now, handled);
  EXPECT_TRUE(handled);
  ASSERT_TRUE(second.send);
  auto r2 = parse(*second.send);
  EXPECT_EQ(r2.call_id(), r1.call_id());
  EXPECT_EQ(r2.cseq().number, r1.cseq().number + 1);
  EXPECT_NE(r2.top_via_branch(), r1.top_via_branch());
  EXPECT_TRUE(registrar_accepts(r2, "secret"));
  EXPECT_FALSE(registrar_accepts(r2, "other"));
  EXPECT_EQ(param(std::string(r2.get("Authorization").value_or("")), "nc"), "00000001");

  auto done = reg.on_response(
    answer(*second.send, 200, "Contact: <sip:gw@127.0.0.1:5090;transport=tcp>;expires=120\r\n"), now, handled);
  EXPECT_TRUE(handled);
  EXPECT_FALSE(done.send);
  ASSERT_TRUE(done.log);
  EXPECT_FALSE(done.error);
  EXPECT_EQ(*done.log, "registered at the SIP proxy as sip:gw@a.test for 120 s");
  EXPECT_EQ(reg.current(), state::registered);
  EXPECT_EQ(reg.expires_at(), now + 120s);

  // Refresh at half the granted time, with the same nonce and the next count.
  EXPECT_FALSE(reg.tick(now + 59s).send);
  auto refresh = reg.tick(now + 60s);
  ASSERT_TRUE(refresh.send);
  auto r3 = parse(*refresh.send);
  EXPECT_EQ(param(std::string(r3.get("Authorization").value_or("")), "nc"), "00000002");
  EXPECT_EQ(param(std::string(r3.get("Authorization").value_or("")), "nonce"), "n1");
  EXPECT_TRUE(registrar_accepts(r3, "secret"));
  auto again = reg.on_response(answer(*refresh.send, 200, "Expires: 300\r\n"), now + 60s, handled);
  EXPECT_FALSE(again.log);  // still registered: nothing new to say
  EXPECT_EQ(reg.expires_at(), now + 60s + 300s);
  EXPECT_EQ(reg.registers_sent(), 3u);
}

TEST(Registration, WrongPasswordIsRejectedOnceAndNotRetried) {
  registration reg(login("wrong"));
  auto now = clock::now();
  auto first = reg.connected("127.0.0.1:40000", now);
  bool handled = false;
  auto second = reg.on_response(answer(*first.send, 401, challenge("n1")), now, handled);
  ASSERT_TRUE(second.send);
  EXPECT_FALSE(registrar_accepts(parse(*second.send), "secret"));
  auto refused = reg.on_response(answer(*second.send, 401, challenge("n2")), now, handled);
  EXPECT_FALSE(refused.send);
  ASSERT_TRUE(refused.log);
  EXPECT_TRUE(refused.error);
  EXPECT_EQ(refused.log->rfind("SIP proxy rejected the login of user \"gw\": check the user name and password for "
                               "typing mistakes",
                               0),
            0u)
    << *refused.log;
  EXPECT_EQ(reg.current(), state::rejected);
  EXPECT_EQ(reg.last_error(), *refused.log);
  // No retry storm: not on ticks, not on a new connection.
  EXPECT_FALSE(reg.tick(now + 1h).send);
  reg.disconnected("closed by peer");
  reg.connecting();
  EXPECT_EQ(reg.current(), state::rejected);
  EXPECT_FALSE(reg.connected("127.0.0.1:40001", now + 1h).send);
  EXPECT_EQ(reg.registers_sent(), 2u);
  // Until the operator asks again.
  auto retry = reg.relogin(now + 2h);
  ASSERT_TRUE(retry.send);
  EXPECT_FALSE(parse(*retry.send).has("Authorization"));
  EXPECT_EQ(reg.current(), state::authenticating);
}

TEST(Registration, ForbiddenAfterCredentialsIsARejection) {
  registration reg(login());
  auto now = clock::now();
  auto first = reg.connected("127.0.0.1:40000", now);
  bool handled = false;
  auto second = reg.on_response(answer(*first.send, 401, challenge("n1")), now, handled);
  auto refused = reg.on_response(answer(*second.send, 403), now, handled);
  ASSERT_TRUE(refused.log);
  EXPECT_NE(refused.log->find("rejected the login of user \"gw\": 403 Reason; check the user name and password"),
            std::string::npos)
    << *refused.log;
  EXPECT_EQ(reg.current(), state::rejected);
}

TEST(Registration, StaleNonceIsAnsweredWithoutCountingAsAFailure) {
  registration reg(login());
  auto now = clock::now();
  auto first = reg.connected("127.0.0.1:40000", now);
  bool handled = false;
  auto second = reg.on_response(answer(*first.send, 401, challenge("n1")), now, handled);
  auto third = reg.on_response(answer(*second.send, 401, challenge("n2", true)), now, handled);
  ASSERT_TRUE(third.send);
  EXPECT_FALSE(third.log);
  auto r3 = parse(*third.send);
  std::string auth(r3.get("Authorization").value_or(""));
  EXPECT_EQ(param(auth, "nonce"), "n2");
  EXPECT_EQ(param(auth, "nc"), "00000001");  // a new nonce counts from 1
  EXPECT_TRUE(registrar_accepts(r3, "secret"));
  EXPECT_EQ(reg.current(), state::authenticating);
}

// A refresh with a nonce the proxy forgot (e.g. it restarted) is challenged without stale: answer the new
// challenge instead of calling the password wrong.
TEST(Registration, ForgottenNonceOnARefreshIsNotARejection) {
  registration reg(login());
  auto now = clock::now();
  auto first = reg.connected("127.0.0.1:40000", now);
  bool handled = false;
  auto second = reg.on_response(answer(*first.send, 401, challenge("n1")), now, handled);
  reg.on_response(answer(*second.send, 200, "Expires: 100\r\n"), now, handled);
  auto refresh = reg.tick(now + 50s);
  ASSERT_TRUE(refresh.send);
  auto next = reg.on_response(answer(*refresh.send, 401, challenge("n9")), now + 50s, handled);
  ASSERT_TRUE(next.send);
  EXPECT_FALSE(next.error);
  EXPECT_EQ(param(std::string(parse(*next.send).get("Authorization").value_or("")), "nonce"), "n9");
  EXPECT_EQ(reg.current(), state::registered);  // the binding holds until it expires
}

TEST(Registration, ProxyAuthenticateIsAnsweredWithProxyAuthorization) {
  registration reg(login());
  auto now = clock::now();
  auto first = reg.connected("127.0.0.1:40000", now);
  bool handled = false;
  auto second = reg.on_response(
    answer(*first.send, 407, "Proxy-Authenticate: Digest realm=\"p\", nonce=\"x\", algorithm=SHA-256\r\n"), now,
    handled);
  ASSERT_TRUE(second.send);
  auto r2 = parse(*second.send);
  EXPECT_FALSE(r2.has("Authorization"));
  std::string auth(r2.get("Proxy-Authorization").value_or(""));
  EXPECT_NE(auth.find("algorithm=SHA-256"), std::string::npos) << auth;
  EXPECT_EQ(param(auth, "response").size(), 64u);
}

TEST(Registration, UnanswerableChallengeSaysWhy) {
  registration reg(login());
  auto now = clock::now();
  auto first = reg.connected("127.0.0.1:40000", now);
  bool handled = false;
  auto s = reg.on_response(
    answer(*first.send, 401, "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256\r\n"), now,
    handled);
  ASSERT_TRUE(s.log);
  EXPECT_NE(s.log->find("algorithm SHA-512-256 is not supported"), std::string::npos) << *s.log;
  EXPECT_EQ(reg.current(), state::rejected);
}

TEST(Registration, IntervalTooBriefRetriesWithMinExpires) {
  registration reg(login());
  auto now = clock::now();
  auto first = reg.connected("127.0.0.1:40000", now);
  bool handled = false;
  auto again = reg.on_response(answer(*first.send, 423, "Min-Expires: 1800\r\n"), now, handled);
  ASSERT_TRUE(again.send);
  EXPECT_EQ(parse(*again.send).get("Expires").value_or(""), "1800");
}

TEST(Registration, ServerErrorsAndSilenceBackOff) {
  registration reg(login());
  auto now = clock::now();
  auto first = reg.connected("127.0.0.1:40000", now);
  bool handled = false;
  auto failed = reg.on_response(answer(*first.send, 503), now, handled);
  EXPECT_FALSE(failed.send);
  ASSERT_TRUE(failed.log);
  EXPECT_EQ(*failed.log, "SIP proxy answered REGISTER with 503 Reason; retrying in 30 s");
  EXPECT_FALSE(reg.tick(now + 29s).send);
  auto retry = reg.tick(now + 30s);
  ASSERT_TRUE(retry.send);
  // No answer at all: Timer F, then twice the delay.
  EXPECT_FALSE(reg.tick(now + 30s + 31s).send);
  auto silent = reg.tick(now + 30s + 32s);
  ASSERT_TRUE(silent.log);
  EXPECT_EQ(*silent.log, "SIP proxy did not answer REGISTER within 32 s; retrying in 60 s");
  EXPECT_TRUE(reg.tick(now + 30s + 32s + 60s).send);
  EXPECT_EQ(reg.current(), state::authenticating);
}

TEST(Registration, ResponsesToOtherRequestsAreNotHandled) {
  registration reg(login());
  auto now = clock::now();
  auto first = reg.connected("127.0.0.1:40000", now);
  bool handled = true;
  auto other = testing::request_text{}.message();
  reg.on_response(testing::response_to(other, 200), now, handled);
  EXPECT_FALSE(handled);
  // A late answer to an earlier REGISTER (its branch is not the one in flight) is not handled either.
  auto second = reg.on_response(answer(*first.send, 401, challenge("n1")), now, handled);
  EXPECT_TRUE(handled);
  reg.on_response(answer(*first.send, 200), now, handled);
  EXPECT_FALSE(handled);
  EXPECT_EQ(reg.current(), state::authenticating);
}

TEST(Registration, DisconnectForgetsTheRequestInFlight) {
  registration reg(login());
  auto now = clock::now();
  auto first = reg.connected("127.0.0.1:40000", now);
  reg.disconnected("connection reset");
  EXPECT_EQ(reg.current(), state::disconnected);
  EXPECT_EQ(reg.last_error(), "connection reset");
  bool handled = true;
  reg.on_response(answer(*first.send, 200), now, handled);
  EXPECT_FALSE(handled);
  EXPECT_FALSE(reg.tick(now + 1h).send);  // nothing to send without a connection
  auto fresh = reg.connected("127.0.0.1:40002", now + 1h);
  ASSERT_TRUE(fresh.send);
  EXPECT_NE(parse(*fresh.send).call_id(), parse(*first.send).call_id());  // a new flow, a new registration
}

}  // namespace
}  // namespace fedgw::proxy
