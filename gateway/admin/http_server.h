// The admin listener (admin_http): libmicrohttpd, one thread per connection (at most max_connections), so
// a slow or stuck admin client holds only its own thread and never a CAF worker or the SIP data path.
// Requests go through admin::api; control requests are answered by `ask` (the control server actor).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "gateway/admin/admin_api.h"

struct MHD_Daemon;

namespace fedgw::admin {

class http_server {
public:
  struct options {
    std::string bind_ip = "127.0.0.1";
    uint16_t port = 0;
    unsigned max_connections = 32;
    unsigned max_connections_per_ip = 8;
    unsigned idle_timeout_s = 15;          // a connection silent this long is closed
    size_t max_header_bytes = 16 * 1024;   // request line + headers; over it: 431/413 by libmicrohttpd
  };
  // Answers a control request (blocking the connection's thread) within the given time.
  using ask_fn = std::function<control::Response(const control::Request&, std::chrono::milliseconds)>;

  // Listens and serves until destroyed; null with `error` set when it cannot listen.
  static std::unique_ptr<http_server> start(const options& opts, api& routes, ask_fn ask, std::string& error);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // "127.0.0.1:8080"
  const std::string& address() const { return address_; }

private:
  http_server(api& routes, ask_fn ask) : routes_(routes), ask_(std::move(ask)) {}
  friend struct connection_handler;

  api& routes_;
  ask_fn ask_;
  std::string address_;
  size_t max_body_ = 0;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace fedgw::admin
