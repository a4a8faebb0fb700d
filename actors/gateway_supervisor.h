// Holds the running configuration and the gateway's status; applies new
// configurations as a whole (the seed's OK button) or not at all.
#pragma once

#include <string>
#include <vector>

#include "actors/messages.h"
#include "actors/status_log.h"

namespace fedgw {

using supervisor_actor = caf::typed_actor<
  caf::replies_to<status_atom>::with<control::GatewayStatus>,
  caf::replies_to<config_atom>::with<std::string>,  // running config, passwords masked
  // (text, source name) → every problem found; empty means valid
  caf::replies_to<check_atom, std::string, std::string>::with<std::vector<std::string>>,
  // validates, then applies; the running config is untouched unless the reply is empty
  caf::replies_to<apply_atom, std::string, std::string>::with<std::vector<std::string>>>;

struct supervisor_options {
  config::Config config;  // validated, defaults applied
  std::string source;     // file it came from
  uint32_t worker_threads = 0;  // the scheduler's actual thread count
  status_log_actor log;
};

supervisor_actor spawn_gateway_supervisor(caf::actor_system& system, supervisor_options options);

}  // namespace fedgw
