// The admin page's HTTP API, as plain code (no sockets, no actors): routes a request to a static asset,
// to the login/session logic, or to a control request (proto/control.proto) whose Response it prints as
// JSON with protobuf's own printer, so the page, the API and fedctl show the same messages.
// Security: every /api call but /api/session and /api/login needs the session cookie; every POST also
// needs the session's CSRF token in X-CSRF-Token, a JSON body, and no cross-site Origin. GET reads, POST
// changes; nothing else is accepted. Thread-safe (the HTTP server calls it from its connection threads).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/control.pb.h"

namespace fedgw::admin {

struct http_request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query
  std::map<std::string, std::string> query;  // decoded arguments
  // Request headers this API reads (values as received).
  std::string cookie;
  std::string content_type;
  std::string csrf_token;      // X-CSRF-Token
  std::string origin;          // Origin
  std::string host;            // Host
  std::string sec_fetch_site;  // Sec-Fetch-Site
  std::string body;
  std::string client;          // the peer's address, for the log
};

struct http_response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Set-Cookie, Location, Allow, ...
};

// A file built into the binary (gateway/admin/static/).
struct asset {
  std::string_view name;  // "overview.html", "app.js"
  std::string_view content_type;
  std::string_view bytes;
};

// What to do with a request: answer at once, or ask the control server `request` and turn its answer into
// the HTTP response with finish().
struct routed {
  std::optional<http_response> answer;
  control::Request request;
  enum class format { json, metrics_text } as = format::json;
};

class api {
public:
  struct options {
    std::string password_hash;  // admin_http.password_hash
    std::vector<asset> assets;
    std::chrono::seconds session_lifetime{std::chrono::hours(8)};
    size_t max_sessions = 64;
    size_t max_body_bytes = 64 * 1024;
    // Failed logins allowed per minute (all clients together) before logins are refused for the minute.
    unsigned login_failures_per_minute = 5;
    // Logins and refused requests, for the status log: (is_warning, text).
    std::function<void(bool, const std::string&)> on_event;
    std::function<std::chrono::steady_clock::time_point()> now = [] { return std::chrono::steady_clock::now(); };
  };

  explicit api(options opts);

  routed route(const http_request& request);
  static http_response finish(const routed& r, const control::Response& response);

  // Headers every response carries (Content-Security-Policy and friends).
  static void add_security_headers(http_response& response);
  static http_response error(int status, const std::string& text);
  static std::string to_json(const google::protobuf::Message& message);

  static constexpr std::string_view session_cookie = "fedgw_session";
  static constexpr std::string_view content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

private:
  struct session {
    std::string csrf_token;
    std::chrono::steady_clock::time_point expires;
  };

  http_response login(const http_request& request);
  http_response logout(const http_request& request);
  http_response session_state(const http_request& request);
  // The valid session of the request's cookie, or nullptr (expired sessions are removed).
  const session* find_session(const http_request& request);
  std::optional<http_response> refuse_post(const http_request& request, const session& s);
  std::optional<http_response> serve_asset(const http_request& request) const;
  void event(bool warning, const std::string& text) const;

  options options_;
  std::mutex mutex_;
  std::map<std::string, session> sessions_;  // by cookie value
  std::chrono::steady_clock::time_point failures_since_{};
  unsigned failures_ = 0;
};

// The value of cookie `name` in a Cookie header ("a=1; b=2"), empty when absent.
std::string cookie_value(std::string_view header, std::string_view name);

}  // namespace fedgw::admin
