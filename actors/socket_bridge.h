// Hands a reactor connection's events to an actor, in order:
// (connected_atom, conn_id) for outbound connections, (data_atom, conn_id,
// std::string bytes), and once (closed_atom, conn_id, std::string reason).
// The actor calls reactor::consumed() after processing bytes, which is the
// reactor's read back-pressure. flow_socket_bridge also forwards (drained_atom, conn_id).
#pragma once

#include <memory>

#include "actors/messages.h"
#include "gateway/net/reactor.h"

namespace fedgw {

// `Handle`: caf::actor, or a typed actor that accepts the three messages.
template <class Handle = caf::actor>
class socket_bridge : public net::reactor::handler {
public:
  explicit socket_bridge(Handle target) : target_(std::move(target)) {}

  void on_data(conn_id conn, std::string_view bytes) override {
    caf::anon_send(target_, data_atom::value, conn, std::string(bytes));
  }
  void on_closed(conn_id conn, const std::string& reason) override {
    caf::anon_send(target_, closed_atom::value, conn, reason);
  }
  void on_connected(conn_id conn) override { caf::anon_send(target_, connected_atom::value, conn); }

protected:
  Handle target_;
};

// The same, and (drained_atom, conn_id) when the connection's congested output drained (for actors that
// hold requests while reactor::write reports the output congested).
template <class Handle>
class flow_socket_bridge : public socket_bridge<Handle> {
public:
  using socket_bridge<Handle>::socket_bridge;
  void on_drained(conn_id conn) override { caf::anon_send(this->target_, drained_atom::value, conn); }
};

}  // namespace fedgw
