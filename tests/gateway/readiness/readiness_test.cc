#include "gateway/readiness/readiness.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "gateway/config/config.h"

namespace fedgw::readiness {
namespace {

config::Config proxy_config() {
  auto loaded = config::parse_config(R"(
    mode: SIP_PROXY
    domains: "a.test"
    internal_listener { bind_ip: "127.0.0.1" }
    sip_proxy { username: "gw" password: "pw" ip: "192.0.2.7" port: 5070 transport: TCP
                incoming { bind_ip: "127.0.0.1" port: 5090 } })",
                                     "t");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors.front());
  return loaded.config;
}

bool has_line(const report& r, const std::string& text) {
  return std::any_of(r.lines.begin(), r.lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

const address_test nowhere = [](const std::string&) { return false; };

TEST(Readiness, ProxyModeNeedsTheLoginNotTheListenerOrDns) {
  proxy_session_view registered{"registered", "192.0.2.7:5070", "TCP", "gw", "", 590};
  auto r = analyze(proxy_config(), {}, {}, nowhere, registered);
  EXPECT_TRUE(r.consistent) << (r.problems.empty() ? "" : r.problems.front());
  EXPECT_TRUE(has_line(r, "SIP proxy: 192.0.2.7:5070 over TCP, user \"gw\": registered (expires in 590 s)"));
  EXPECT_TRUE(has_line(r, "Open-federation listener: not configured (SIP proxy mode"));
  EXPECT_TRUE(has_line(r, "Certificate: none configured (not needed: the SIP proxy is reached over TCP)"));
}

TEST(Readiness, ProxyModeReportsARejectedOrMissingSession) {
  proxy_session_view rejected{"rejected", "192.0.2.7:5070", "TCP", "gw", "SIP proxy rejected the login of user \"gw\"", 0};
  auto r = analyze(proxy_config(), {}, {}, nowhere, rejected);
  EXPECT_FALSE(r.consistent);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0], "SIP proxy 192.0.2.7:5070 over TCP, user \"gw\": rejected: SIP proxy rejected the login of user \"gw\"");
  r = analyze(proxy_config(), {}, {}, nowhere, std::nullopt);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("the session with the proxy is not running"), std::string::npos);
  // A login in progress (no failure yet) is not a problem.
  proxy_session_view connecting{"connecting", "192.0.2.7:5070", "TCP", "gw", "", 0};
  EXPECT_TRUE(analyze(proxy_config(), {}, {}, nowhere, connecting).consistent);
  connecting.last_error = "connection to SIP proxy 192.0.2.7:5070 failed: connection refused";
  EXPECT_FALSE(analyze(proxy_config(), {}, {}, nowhere, connecting).consistent);
}

TEST(Readiness, DirectModeStillNeedsTheListener) {
  auto c = proxy_config();
  c.set_mode(config::DIRECT);
  auto r = analyze(c, {}, {}, nowhere);
  EXPECT_FALSE(r.consistent);
  EXPECT_TRUE(std::any_of(r.problems.begin(), r.problems.end(), [](const std::string& p) {
    return p == "federation_listener is not configured: partners cannot connect";
  }));
}

}  // namespace
}  // namespace fedgw::readiness
