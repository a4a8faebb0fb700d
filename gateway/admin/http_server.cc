#include "gateway/admin/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace fedgw::admin {

namespace {

// Per request: the body collected so far (bounded) and whether it grew over the limit.
struct pending_request {
  std::string body;
  bool too_large = false;
};

std::string header(MHD_Connection* c, const char* name) {
  const char* v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
  return v ? v : "";
}

std::string client_address(MHD_Connection* c) {
  const auto* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!info || !info->client_addr) return "?";
  char text[INET6_ADDRSTRLEN] = "?";
  const auto* sa = info->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text, sizeof text);
  return text;
}

MHD_Result queue(MHD_Connection* c, http_response r) {
  api::add_security_headers(r);
  auto* response = MHD_create_response_from_buffer(r.body.size(), r.body.data(), MHD_RESPMEM_MUST_COPY);
  if (!response) return MHD_NO;
  MHD_add_response_header(response, "Content-Type", r.content_type.c_str());
  for (const auto& [name, value] : r.headers) MHD_add_response_header(response, name.c_str(), value.c_str());
  auto result = MHD_queue_response(c, static_cast<unsigned>(r.status), response);
  MHD_destroy_response(response);
  return result;
}

MHD_Result collect_argument(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* query = static_cast<std::map<std::string, std::string>*>(cls);
  if (query->size() < 16 && key) (*query)[key] = value ? value : "";
  return MHD_YES;
}

}  // namespace

struct connection_handler {
  static MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                               const char* upload, size_t* upload_size, void** state) {
    auto* server = static_cast<http_server*>(cls);
    auto* pending = static_cast<pending_request*>(*state);
    if (!pending) {  // first call: headers only
      *state = new pending_request;
      return MHD_YES;
    }
    if (*upload_size != 0) {  // a part of the body
      if (!pending->too_large && pending->body.size() + *upload_size <= server->max_body_)
        pending->body.append(upload, *upload_size);
      else
        pending->too_large = true;  // read and dropped: the answer is 413 once it is all in
      *upload_size = 0;
      return MHD_YES;
    }
    if (pending->too_large)
      return queue(c, api::error(413, "the body is over " + std::to_string(server->max_body_) + " bytes"));

    http_request request;
    request.method = method;
    request.path = url;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_argument, &request.query);
    request.cookie = header(c, MHD_HTTP_HEADER_COOKIE);
    request.content_type = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
    request.csrf_token = header(c, "X-CSRF-Token");
    request.origin = header(c, "Origin");
    request.host = header(c, MHD_HTTP_HEADER_HOST);
    request.sec_fetch_site = header(c, "Sec-Fetch-Site");
    request.body = std::move(pending->body);
    request.client = client_address(c);
    auto routed = server->routes_.route(request);
    if (routed.answer) return queue(c, std::move(*routed.answer));
    // send-test waits for DNS and timer F; every other command is answered sooner by the control server.
    auto answer = server->ask_(routed.request, std::chrono::seconds(130));
    return queue(c, api::finish(routed, answer));
  }

  static void on_completed(void*, MHD_Connection*, void** state, MHD_RequestTerminationCode) {
    delete static_cast<pending_request*>(*state);
    *state = nullptr;
  }
};

std::unique_ptr<http_server> http_server::start(const options& opts, api& routes, ask_fn ask, std::string& error) {
  std::unique_ptr<http_server> server(new http_server(routes, std::move(ask)));
  server->max_body_ = 64 * 1024;
  sockaddr_storage address{};
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, opts.bind_ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(opts.port);
    server->address_ = opts.bind_ip + ":" + std::to_string(opts.port);
  } else if (inet_pton(AF_INET6, opts.bind_ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(opts.port);
    flags |= MHD_USE_IPv6;
    server->address_ = "[" + opts.bind_ip + "]:" + std::to_string(opts.port);
  } else {
    error = "admin_http.bind_ip: \"" + opts.bind_ip + "\" is not an IP address";
    return nullptr;
  }
  // Bound here, so a failure names its reason (address in use, not on this machine, ...).
  int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  socklen_t length = address.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd, 64) != 0) {
    error = "admin_http: cannot listen on " + server->address_ + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return nullptr;
  }
  server->daemon_ = MHD_start_daemon(
    flags, opts.port, nullptr, nullptr, &connection_handler::on_request, server.get(),
    MHD_OPTION_LISTEN_SOCKET, fd,
    MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned>(opts.max_connections),
    MHD_OPTION_PER_IP_CONNECTION_LIMIT, static_cast<unsigned>(opts.max_connections_per_ip),
    MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(opts.idle_timeout_s),
    MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(opts.max_header_bytes + 16 * 1024),
    MHD_OPTION_NOTIFY_COMPLETED, &connection_handler::on_completed, nullptr,
    MHD_OPTION_END);
  if (!server->daemon_) {
    ::close(fd);
    error = "admin_http: libmicrohttpd did not start on " + server->address_;
    return nullptr;
  }
  return server;
}

http_server::~http_server() {
  if (daemon_) MHD_stop_daemon(daemon_);
}

}  // namespace fedgw::admin
