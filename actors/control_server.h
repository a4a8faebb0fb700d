// Serves the control API (proto/control.proto) to fedctl: length-delimited
// protobuf frames on a Unix socket, any number of clients at once.
#pragma once

#include <memory>

#include "actors/gateway_supervisor.h"
#include "actors/status_log.h"
#include "gateway/net/reactor.h"

namespace fedgw {

struct control_server_options {
  std::shared_ptr<net::reactor> reactor;
  supervisor_actor supervisor;
  status_log_actor log;
};

// The returned actor receives the socket's events through a socket_bridge;
// listen with listen_control_socket(). It also answers a control::Request
// message with a control::Response (the admin page's requests).
caf::actor spawn_control_server(caf::actor_system& system, control_server_options options);

// Opens the control socket (mode 0600) feeding `server`; returns the listener
// id, or 0 with `error` set.
uint64_t listen_control_socket(net::reactor& reactor, const std::string& path,
                               const caf::actor& server, std::string& error);

}  // namespace fedgw
