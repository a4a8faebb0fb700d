// Message vocabulary shared by fedgw's actors.
#pragma once

#include <cstdint>
#include <string>

#include "caf/all.hpp"
#include "proto/config.pb.h"
#include "proto/control.pb.h"

// Protobuf messages travel between actors of one process only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::config::Config)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::control::GatewayStatus)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::control::Request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::control::Response)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::control::ProxySessionStatus)

namespace fedgw {

// CAF's own atoms (get_atom, put_atom, subscribe_atom, ...) are used where they fit.
using log_atom = caf::atom_constant<caf::atom("log")>;
using entry_atom = caf::atom_constant<caf::atom("entry")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using check_atom = caf::atom_constant<caf::atom("check")>;
using apply_atom = caf::atom_constant<caf::atom("apply")>;
using config_atom = caf::atom_constant<caf::atom("config")>;
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;
// Socket events from net::reactor (see socket_bridge.h).
using data_atom = caf::atom_constant<caf::atom("data")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using connected_atom = caf::atom_constant<caf::atom("connected")>;
using drained_atom = caf::atom_constant<caf::atom("drained")>;  // a congested socket output drained

using conn_id = uint64_t;

}  // namespace fedgw
