// libFuzzer target: hostile HTTP requests (method, path, content type, origin, body; the last byte picks a
// logged-in session or none) through admin::api::route and finish. Invariants: every immediate answer is
// JSON or a known asset/redirect with a status code; a control request is only routed for /metrics or
// with a valid session (and for POST, the session's CSRF token).
#include <cstdint>
#include <string>

#include "gateway/admin/admin_api.h"
#include "gateway/admin/password.h"

using namespace fedgw::admin;

namespace {

struct setup {
  api routes;
  std::string cookie, csrf;
  setup() : routes(options()) {
    http_request login;
    login.method = "POST";
    login.path = "/api/login";
    login.content_type = "application/json";
    login.body = R"({"password":"pw"})";
    auto r = routes.route(login);
    for (const auto& [name, value] : r.answer->headers)
      if (name == "Set-Cookie") cookie = value.substr(0, value.find(';'));
    auto at = r.answer->body.find("\"csrfToken\":\"");
    csrf = r.answer->body.substr(at + 13, 64);
  }
  static api::options options() {
    api::options o;
    o.password_hash = fedgw::password::make_hash("pw", 1000);
    o.assets = {{"overview.html", "text/html", "<p></p>"}};
    o.login_failures_per_minute = 1000000;
    return o;
  }
};

std::string next_line(std::string_view& in) {
  auto end = in.find('\n');
  auto line = std::string(in.substr(0, end));
  in.remove_prefix(end == std::string_view::npos ? in.size() : end + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static setup s;
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size - 1);
  uint8_t mode = data[size - 1];
  http_request r;
  r.method = next_line(in);
  r.path = next_line(in);
  r.content_type = next_line(in);
  r.origin = next_line(in);
  r.body = std::string(in);
  r.host = "127.0.0.1:8080";
  bool with_session = mode & 1, with_token = mode & 2;
  if (with_session) r.cookie = "fedgw_session=" + s.cookie.substr(s.cookie.find('=') + 1);
  if (with_token) r.csrf_token = s.csrf;
  if (r.path == "/api/logout") return 0;  // would end the shared session
  auto routed = s.routes.route(r);
  if (routed.answer) {
    if (routed.answer->status < 200 || routed.answer->status > 599) __builtin_trap();
    if (routed.answer->status >= 400 && routed.answer->body.rfind("{\"error\":", 0) != 0) __builtin_trap();
    return 0;
  }
  if (r.path != "/metrics") {
    if (!with_session) __builtin_trap();
    if (r.method == "POST" && !with_token) __builtin_trap();
  }
  fedgw::control::Response response;
  response.set_error(r.body.substr(0, 64));
  response.set_metrics_text("fedgw_up 1\n");
  auto http = api::finish(routed, response);
  if (http.body.empty()) __builtin_trap();
  return 0;
}
