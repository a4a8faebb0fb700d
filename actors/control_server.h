// Serves the control API (proto/control.proto) to fedctl: length-delimited
// protobuf frames on a Unix socket, any number of clients at once.
#pragma once

#include <sys/types.h>

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

// Opens the control socket feeding `server` with `mode` (owner and group bits) and, unless
// empty, `group` (a name or number: control_socket_group); returns the listener id, or 0
// with `error` set.
uint64_t listen_control_socket(net::reactor& reactor, const std::string& path,
                               const caf::actor& server, std::string& error, mode_t mode = 0600,
                               const std::string& group = {});

}  // namespace fedgw
