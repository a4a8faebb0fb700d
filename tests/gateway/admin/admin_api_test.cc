// The admin page's HTTP API core: routing, login, sessions, CSRF, limits, JSON of the control messages.
#include "gateway/admin/admin_api.h"

#include <gtest/gtest.h>

#include "gateway/admin/password.h"

namespace fedgw::admin {
namespace {

using namespace std::chrono_literals;

class admin_api_test : public ::testing::Test {
protected:
  admin_api_test() : routes(make_options()) {}

  api::options make_options() {
    api::options o;
    o.password_hash = password::make_hash("right horse", 1000);
    o.assets = {{"overview.html", "text/html; charset=utf-8", "<p>overview</p>"},
                {"app.js", "text/javascript; charset=utf-8", "'use strict';"}};
    o.on_event = [this](bool warning, const std::string& text) { events.emplace_back(warning, text); };
    o.now = [this] { return now; };
    return o;
  }

  http_request get(std::string path) {
    http_request r;
    r.method = "GET";
    r.path = std::move(path);
    r.host = "127.0.0.1:8080";
    r.client = "127.0.0.1";
    r.cookie = cookie;
    return r;
  }
  http_request post(std::string path, std::string body) {
    auto r = get(std::move(path));
    r.method = "POST";
    r.body = std::move(body);
    r.content_type = "application/json";
    r.csrf_token = csrf;
    return r;
  }
  // Logs in and keeps the cookie and token for the following requests.
  void log_in() {
    auto r = routes.route(post("/api/login", R"({"password":"right horse"})"));
    ASSERT_TRUE(r.answer);
    ASSERT_EQ(r.answer->status, 200) << r.answer->body;
    for (const auto& [name, value] : r.answer->headers)
      if (name == "Set-Cookie") cookie = value.substr(0, value.find(';'));
    auto body = r.answer->body;
    auto at = body.find("\"csrfToken\":\"");
    ASSERT_NE(at, std::string::npos);
    csrf = body.substr(at + 13, 64);
  }

  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  std::vector<std::pair<bool, std::string>> events;
  std::string cookie, csrf;
  api routes;
};

TEST_F(admin_api_test, PagesAndAssetsAreServedWithoutLogin) {
  auto page = routes.route(get("/overview"));
  ASSERT_TRUE(page.answer);
  EXPECT_EQ(page.answer->status, 200);
  EXPECT_EQ(page.answer->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(page.answer->body, "<p>overview</p>");
  EXPECT_EQ(routes.route(get("/static/app.js")).answer->body, "'use strict';");
  EXPECT_EQ(routes.route(get("/static/missing.js")).answer->status, 404);
  EXPECT_EQ(routes.route(get("/static/../config")).answer->status, 404);
  auto root = routes.route(get("/"));
  EXPECT_EQ(root.answer->status, 302);
  EXPECT_EQ(root.answer->headers.front(), (std::pair<std::string, std::string>{"Location", "/overview"}));
}

TEST_F(admin_api_test, ApiNeedsALogin) {
  auto r = routes.route(get("/api/status"));
  ASSERT_TRUE(r.answer);
  EXPECT_EQ(r.answer->status, 401);
  EXPECT_EQ(r.answer->body, R"({"error":"login required"})");
  EXPECT_EQ(routes.route(get("/api/session")).answer->body, R"({"authenticated":false})");
}

TEST_F(admin_api_test, MetricsNeedNoLogin) {
  auto r = routes.route(get("/metrics"));
  ASSERT_FALSE(r.answer);
  EXPECT_TRUE(r.request.has_metrics());
  control::Response response;
  response.set_metrics_text("fedgw_up 1\n");
  auto http = api::finish(r, response);
  EXPECT_EQ(http.status, 200);
  EXPECT_EQ(http.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(http.body, "fedgw_up 1\n");
}

TEST_F(admin_api_test, WrongPasswordIsRefusedAndLogged) {
  auto r = routes.route(post("/api/login", R"({"password":"wrong"})"));
  EXPECT_EQ(r.answer->status, 401);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].first);
  EXPECT_EQ(events[0].second, "admin page: wrong password from 127.0.0.1");
  EXPECT_EQ(routes.route(post("/api/login", "{}")).answer->status, 400);
  EXPECT_EQ(routes.route(post("/api/login", "not json")).answer->status, 400);
  EXPECT_EQ(routes.route(get("/api/login")).answer->status, 405);
}

TEST_F(admin_api_test, FailedLoginsAreLimitedPerMinute) {
  for (int i = 0; i < 5; ++i) EXPECT_EQ(routes.route(post("/api/login", R"({"password":"x"})")).answer->status, 401);
  // Even the right password waits for the minute to pass.
  EXPECT_EQ(routes.route(post("/api/login", R"({"password":"right horse"})")).answer->status, 429);
  now += 61s;
  EXPECT_EQ(routes.route(post("/api/login", R"({"password":"right horse"})")).answer->status, 200);
}

TEST_F(admin_api_test, LoginGivesAnHttpOnlyStrictCookieAndReadsWork) {
  log_in();
  auto r = routes.route(post("/api/login", R"({"password":"right horse"})"));
  bool strict = false;
  for (const auto& [name, value] : r.answer->headers)
    if (name == "Set-Cookie")
      strict = value.find("; HttpOnly; SameSite=Strict; Path=/") != std::string::npos;
  EXPECT_TRUE(strict);
  auto status = routes.route(get("/api/status"));
  ASSERT_FALSE(status.answer);
  EXPECT_TRUE(status.request.has_status());
  auto session = routes.route(get("/api/session"));
  EXPECT_EQ(session.answer->body, R"({"authenticated":true,"csrfToken":")" + csrf + "\"}");
}

TEST_F(admin_api_test, SessionsExpire) {
  log_in();
  now += std::chrono::hours(8);
  EXPECT_EQ(routes.route(get("/api/status")).answer->status, 401);
}

TEST_F(admin_api_test, PostNeedsTheCsrfTokenJsonAndNoForeignOrigin) {
  log_in();
  auto no_token = post("/api/cert/reload", "{}");
  no_token.csrf_token.clear();
  EXPECT_EQ(routes.route(no_token).answer->status, 403);
  auto wrong_token = post("/api/cert/reload", "{}");
  wrong_token.csrf_token = std::string(64, 'a');
  EXPECT_EQ(routes.route(wrong_token).answer->status, 403);
  auto form = post("/api/cert/reload", "{}");
  form.content_type = "application/x-www-form-urlencoded";
  EXPECT_EQ(routes.route(form).answer->status, 415);
  auto foreign = post("/api/cert/reload", "{}");
  foreign.origin = "http://evil.example";
  EXPECT_EQ(routes.route(foreign).answer->status, 403);
  auto fetch_site = post("/api/cert/reload", "{}");
  fetch_site.sec_fetch_site = "cross-site";
  EXPECT_EQ(routes.route(fetch_site).answer->status, 403);
  auto same_origin = post("/api/cert/reload", "{}");
  same_origin.origin = "http://127.0.0.1:8080";
  auto ok = routes.route(same_origin);
  EXPECT_FALSE(ok.answer);
  EXPECT_TRUE(ok.request.has_cert_reload());
  EXPECT_EQ(std::count_if(events.begin(), events.end(), [](const auto& e) { return e.first; }), 2);
}

TEST_F(admin_api_test, ReadsAndChangesUseTheRightMethod) {
  log_in();
  EXPECT_EQ(routes.route(post("/api/status", "{}")).answer->status, 405);
  EXPECT_EQ(routes.route(get("/api/config/apply")).answer->status, 405);
  auto put = get("/api/status");
  put.method = "PUT";
  EXPECT_EQ(routes.route(put).answer->status, 405);
  EXPECT_EQ(routes.route(get("/api/nothing")).answer->status, 404);
}

TEST_F(admin_api_test, OversizedBodiesAreRefused) {
  log_in();
  EXPECT_EQ(routes.route(post("/api/config/apply", std::string(64 * 1024 + 1, ' '))).answer->status, 413);
}

TEST_F(admin_api_test, BodiesAreTheControlMessagesInJson) {
  log_in();
  auto apply = routes.route(post("/api/config/apply", R"({"config":{"mode":"DIRECT","domains":["a.test"]}})"));
  ASSERT_FALSE(apply.answer);
  ASSERT_TRUE(apply.request.has_config_apply());
  EXPECT_EQ(apply.request.config_apply().config().domains(0), "a.test");
  EXPECT_EQ(apply.request.config_apply().source(), "admin page (127.0.0.1)");
  auto bad = routes.route(post("/api/config/apply", R"({"config":{"mode":"SIDEWAYS"}})"));
  ASSERT_TRUE(bad.answer);
  EXPECT_EQ(bad.answer->status, 400);
  EXPECT_NE(bad.answer->body.find("fedgw.control.ConfigFile"), std::string::npos) << bad.answer->body;
  EXPECT_EQ(routes.route(post("/api/config/apply", "{}")).answer->status, 400);

  auto reset = routes.route(post("/api/peers/reset", R"({"domain":"b.test"})"));
  ASSERT_FALSE(reset.answer);
  EXPECT_EQ(reset.request.peer_action().action(), control::PeerActionRequest::RESET);
  EXPECT_EQ(reset.request.peer_action().domain(), "b.test");
  auto close = routes.route(post("/api/peers/close", R"({"domain":"b.test"})"));
  EXPECT_EQ(close.request.peer_action().action(), control::PeerActionRequest::CLOSE);
  EXPECT_EQ(routes.route(post("/api/peers/test", "{}")).answer->status, 400);
  EXPECT_EQ(routes.route(post("/api/peers/test", R"({"domain":"b.test"})")).request.send_test().domain(), "b.test");

  auto one = get("/api/peers");
  one.query["domain"] = "b.test";
  EXPECT_EQ(routes.route(one).request.peers().domain(), "b.test");
  EXPECT_TRUE(routes.route(get("/api/config")).request.config_show().as_message());
}

TEST_F(admin_api_test, AnswersAreTheResponseInProtobufJson) {
  routed r;
  control::Response response;
  response.mutable_status()->set_version("1.2.3");
  response.mutable_status()->set_uptime_s(5);
  auto http = api::finish(r, response);
  EXPECT_EQ(http.status, 200);
  EXPECT_EQ(http.content_type, "application/json");
  // Field names in lowerCamelCase, 64-bit integers as strings, zero values printed.
  EXPECT_NE(http.body.find(R"("version":"1.2.3")"), std::string::npos) << http.body;
  EXPECT_NE(http.body.find(R"("uptimeS":"5")"), std::string::npos) << http.body;
  EXPECT_NE(http.body.find(R"("error":"")"), std::string::npos) << http.body;
}

TEST_F(admin_api_test, LogoutEndsTheSession) {
  log_in();
  EXPECT_EQ(routes.route(post("/api/logout", "{}")).answer->status, 200);
  EXPECT_EQ(routes.route(get("/api/status")).answer->status, 401);
}

TEST_F(admin_api_test, EverySecurityHeaderIsAdded) {
  http_response r;
  api::add_security_headers(r);
  std::map<std::string, std::string> h(r.headers.begin(), r.headers.end());
  EXPECT_EQ(h["Content-Security-Policy"], std::string(api::content_security_policy));
  EXPECT_EQ(h["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(h["X-Frame-Options"], "DENY");
}

TEST(cookie_value, FindsTheNamedCookie) {
  EXPECT_EQ(cookie_value("a=1; fedgw_session=abc; b=2", "fedgw_session"), "abc");
  EXPECT_EQ(cookie_value("fedgw_session=abc", "fedgw_session"), "abc");
  EXPECT_EQ(cookie_value("xfedgw_session=abc", "fedgw_session"), "");
  EXPECT_EQ(cookie_value("", "fedgw_session"), "");
}

TEST(password, HashesVerifyAndAreSalted) {
  auto a = password::make_hash("pw", 1000);
  auto b = password::make_hash("pw", 1000);
  EXPECT_NE(a, b);
  EXPECT_TRUE(password::is_hash(a));
  EXPECT_TRUE(password::verify("pw", a));
  EXPECT_TRUE(password::verify("pw", b));
  EXPECT_FALSE(password::verify("pW", a));
  EXPECT_FALSE(password::verify("", a));
  EXPECT_EQ(a.rfind("pbkdf2-sha256$1000$", 0), 0u);
}

TEST(password, MalformedHashesAreRefused) {
  for (const char* bad : {"", "***", "pbkdf2-sha256$1000$00$00", "pbkdf2-sha256$999$0011223344556677$" ,
                          "md5$1000$0011223344556677$0011", "pbkdf2-sha256$x$0011223344556677$00"}) {
    EXPECT_FALSE(password::is_hash(bad)) << bad;
    EXPECT_FALSE(password::verify("pw", bad)) << bad;
  }
  // RFC 6070-style check of the derivation: a known PBKDF2-HMAC-SHA256 vector (password, salt, 4096).
  EXPECT_TRUE(password::verify(
    "password", "pbkdf2-sha256$4096$73616c74$c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"));
}

}  // namespace
}  // namespace fedgw::admin
