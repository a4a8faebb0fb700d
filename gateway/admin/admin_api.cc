#include "gateway/admin/admin_api.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "gateway/admin/password.h"
#include "gateway/proxy/hex.h"

namespace fedgw::admin {

namespace {

std::string random_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
  return proxy::hex(bytes, sizeof bytes);
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

http_response json(int status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// A JSON string literal.
std::string quote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// Parses a POST body (JSON of a control command message); an empty body is the empty message.
std::optional<std::string> parse_body(const std::string& body, google::protobuf::Message& into) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return std::nullopt;
  auto status = google::protobuf::util::JsonStringToMessage(body, &into);
  if (status.ok()) return std::nullopt;
  return "the body is not a " + into.GetDescriptor()->full_name() + " in JSON: " + std::string(status.message());
}

// A browser names the page a request comes from; only the admin page's own may log in or change things.
bool cross_site(const http_request& request) {
  return request.sec_fetch_site == "cross-site" ||
         (!request.origin.empty() && request.origin != "http://" + request.host);
}

const std::map<std::string_view, std::string_view> pages = {
  {"/login", "login.html"},       {"/overview", "overview.html"}, {"/settings", "settings.html"},
  {"/partners", "partners.html"}, {"/log", "log.html"},
};

// The control request of each API endpoint, built from the HTTP request; a refusal says why (400).
struct endpoint {
  std::string_view path;
  bool post;  // a change (POST) or a read (GET)
  std::optional<std::string> (*build)(const http_request&, control::Request&);
};

std::optional<std::string> config_file(const http_request& request, control::ConfigFile& file) {
  auto bad = parse_body(request.body, file);
  if (!bad && !file.has_config() && file.text().empty()) bad = "the body carries no config";
  file.set_source("admin page (" + request.client + ")");
  return bad;
}

std::optional<std::string> peer_action(const http_request& request, control::Request& r,
                                       control::PeerActionRequest::Action action) {
  auto bad = parse_body(request.body, *r.mutable_peer_action());
  if (!bad && r.peer_action().domain().empty()) bad = "domain is required";
  r.mutable_peer_action()->set_action(action);
  return bad;
}

using no_problem = std::optional<std::string>;
const endpoint endpoints[] = {
  {"/api/status", false, [](const http_request&, control::Request& r) { r.mutable_status(); return no_problem(); }},
  {"/api/log", false, [](const http_request&, control::Request& r) { r.mutable_log(); return no_problem(); }},
  {"/api/config", false,
   [](const http_request&, control::Request& r) {
     r.mutable_config_show()->set_as_message(true);
     return no_problem();
   }},
  {"/api/interfaces", false,
   [](const http_request&, control::Request& r) { r.mutable_interfaces(); return no_problem(); }},
  {"/api/check", false, [](const http_request&, control::Request& r) { r.mutable_check(); return no_problem(); }},
  {"/api/peers", false,
   [](const http_request& request, control::Request& r) {
     auto domain = request.query.find("domain");
     r.mutable_peers()->set_domain(domain == request.query.end() ? "" : domain->second);
     return no_problem();
   }},
  {"/api/config/check", true,
   [](const http_request& request, control::Request& r) { return config_file(request, *r.mutable_config_check()); }},
  {"/api/config/apply", true,
   [](const http_request& request, control::Request& r) { return config_file(request, *r.mutable_config_apply()); }},
  {"/api/cert/reload", true,
   [](const http_request&, control::Request& r) { r.mutable_cert_reload(); return no_problem(); }},
  {"/api/peers/test", true,
   [](const http_request& request, control::Request& r) {
     auto bad = parse_body(request.body, *r.mutable_send_test());
     if (!bad && r.send_test().domain().empty()) bad = "domain is required";
     return bad;
   }},
  {"/api/peers/reset", true,
   [](const http_request& request, control::Request& r) {
     return peer_action(request, r, control::PeerActionRequest::RESET);
   }},
  {"/api/peers/close", true,
   [](const http_request& request, control::Request& r) {
     return peer_action(request, r, control::PeerActionRequest::CLOSE);
   }},
  {"/api/proxy/login", true,
   [](const http_request&, control::Request& r) { r.mutable_proxy_login(); return no_problem(); }},
};

const endpoint* find_endpoint(std::string_view path) {
  for (const auto& e : endpoints)
    if (e.path == path) return &e;
  return nullptr;
}

}  // namespace

std::string cookie_value(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    auto end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    auto pair = header.substr(pos, end - pos);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    pos = end + 1;
  }
  return {};
}

api::api(options opts) : options_(std::move(opts)) {}

void api::add_security_headers(http_response& response) {
  response.headers.emplace_back("Content-Security-Policy", std::string(content_security_policy));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("Cache-Control", "no-store");
}

http_response api::error(int status, const std::string& text) { return json(status, "{\"error\":" + quote(text) + "}"); }

std::string api::to_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, print).ok()) return "{\"error\":\"cannot print\"}";
  return out;
}

void api::event(bool warning, const std::string& text) const {
  if (options_.on_event) options_.on_event(warning, text);
}

const api::session* api::find_session(const http_request& request) {
  auto token = cookie_value(request.cookie, session_cookie);
  if (token.empty()) return nullptr;
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return nullptr;
  if (it->second.expires <= options_.now()) {
    sessions_.erase(it);
    return nullptr;
  }
  return &it->second;
}

http_response api::login(const http_request& request) {
  control::AdminLogin body;
  if (parse_body(request.body, body) || body.password().empty())
    return error(400, "the body must be {\"password\": \"...\"}");
  const auto& password = body.password();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto now = options_.now();
    if (now - failures_since_ >= std::chrono::minutes(1)) {
      failures_since_ = now;
      failures_ = 0;
    }
    // Counted before the check, so parallel guesses cannot pass the limit.
    if (failures_ >= options_.login_failures_per_minute)
      return error(429, "too many failed logins: try again in a minute");
    ++failures_;
  }
  if (!password::verify(password, options_.password_hash)) {
    event(true, "admin page: wrong password from " + request.client);
    return error(401, "wrong password");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (failures_ > 0) --failures_;
  auto now = options_.now();
  for (auto it = sessions_.begin(); it != sessions_.end();)
    it = it->second.expires <= now ? sessions_.erase(it) : std::next(it);
  if (sessions_.size() >= options_.max_sessions) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
      if (it->second.expires < oldest->second.expires) oldest = it;
    sessions_.erase(oldest);
  }
  auto token = random_token();
  auto csrf = random_token();
  if (token.empty() || csrf.empty()) return error(500, "no random bytes for a session");
  sessions_[token] = session{csrf, now + options_.session_lifetime};
  event(false, "admin page: login from " + request.client);
  auto r = json(200, "{\"csrfToken\":" + quote(csrf) + "}");
  r.headers.emplace_back("Set-Cookie", std::string(session_cookie) + "=" + token +
                                         "; HttpOnly; SameSite=Strict; Path=/; Max-Age=" +
                                         std::to_string(options_.session_lifetime.count()));
  return r;
}

http_response api::logout(const http_request& request) {
  sessions_.erase(cookie_value(request.cookie, session_cookie));
  auto r = json(200, "{}");
  r.headers.emplace_back("Set-Cookie", std::string(session_cookie) + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
  return r;
}

http_response api::session_state(const http_request& request) {
  const auto* s = find_session(request);
  if (!s) return json(200, "{\"authenticated\":false}");
  return json(200, "{\"authenticated\":true,\"csrfToken\":" + quote(s->csrf_token) + "}");
}

std::optional<http_response> api::refuse_post(const http_request& request, const session& s) {
  // A browser names the page a request comes from; only the admin page's own may change things.
  if (cross_site(request)) {
    event(true, "admin page: refused a cross-site " + request.path + " from " + request.client + " (Origin " +
                  (request.origin.empty() ? "none" : request.origin) + ")");
    return error(403, "cross-site request refused");
  }
  if (!same_secret(request.csrf_token, s.csrf_token)) return error(403, "missing or wrong X-CSRF-Token");
  if (request.content_type.rfind("application/json", 0) != 0)
    return error(415, "the body must be JSON (Content-Type: application/json)");
  return std::nullopt;
}

std::optional<http_response> api::serve_asset(const http_request& request) const {
  std::string_view name;
  if (auto page = pages.find(request.path); page != pages.end()) name = page->second;
  else if (request.path.rfind("/static/", 0) == 0) name = std::string_view(request.path).substr(8);
  else return std::nullopt;
  for (const auto& a : options_.assets) {
    if (a.name != name) continue;
    http_response r;
    r.content_type = std::string(a.content_type);
    r.body = std::string(a.bytes);
    return r;
  }
  return std::nullopt;
}

routed api::route(const http_request& request) {
  routed out;
  auto answer = [&](http_response r) {
    out.answer = std::move(r);
    return out;
  };
  bool get = request.method == "GET", post = request.method == "POST";
  if (!get && !post) {
    auto r = error(405, request.method + " is not allowed: GET reads, POST changes");
    r.headers.emplace_back("Allow", "GET, POST");
    return answer(std::move(r));
  }
  if (request.body.size() > options_.max_body_bytes)
    return answer(error(413, "the body is over " + std::to_string(options_.max_body_bytes) + " bytes"));

  if (get && request.path == "/") {
    http_response r;
    r.status = 302;
    r.content_type = "text/plain";
    r.headers.emplace_back("Location", "/overview");
    return answer(std::move(r));
  }
  if (get && request.path == "/metrics") {
    out.request.mutable_metrics();
    out.as = routed::format::metrics_text;
    return out;
  }
  if (request.path.rfind("/api/", 0) != 0) {
    if (!get) return answer(error(405, "pages are read with GET"));
    if (auto r = serve_asset(request)) return answer(std::move(*r));
    return answer(error(404, "no page " + request.path));
  }

  if (request.path == "/api/login") {
    if (!post) return answer(error(405, "log in with POST"));
    if (cross_site(request)) return answer(error(403, "cross-site request refused"));
    return answer(login(request));  // locks itself: the password check takes long
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (request.path == "/api/session") return answer(session_state(request));
  const session* s = find_session(request);
  if (!s) return answer(error(401, "login required"));
  if (post)
    if (auto refused = refuse_post(request, *s)) return answer(std::move(*refused));
  if (request.path == "/api/logout") return post ? answer(logout(request)) : answer(error(405, "log out with POST"));

  const auto* endpoint = find_endpoint(request.path);
  if (!endpoint) return answer(error(404, "no API " + request.path));
  if (endpoint->post != post)
    return answer(error(405, request.path + (endpoint->post ? " changes the gateway: use POST" : " is read with GET")));
  if (auto bad = endpoint->build(request, out.request)) return answer(error(400, *bad));
  return out;
}

http_response api::finish(const routed& r, const control::Response& response) {
  if (r.as == routed::format::metrics_text) {
    if (!response.error().empty()) return http_response{503, "text/plain; charset=utf-8", response.error() + "\n", {}};
    return http_response{200, "text/plain; version=0.0.4; charset=utf-8", response.metrics_text(), {}};
  }
  return json(200, to_json(response));
}

}  // namespace fedgw::admin
