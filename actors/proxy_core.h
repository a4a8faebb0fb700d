// The transaction-stateful proxy (RFC 3261 §16), sharded: each shard owns the
// client transactions whose branch it created, so requests of different calls
// are proxied on different cores. A request goes to the shard chosen by its
// Call-ID; its response finds the shard through the branch of our Via.
//
// Accepts:
//   (request_atom, sip_origin, sip::Message)            a request from a connection
//   (response_atom, sip::Message)                        a response whose top Via is ours
//   (fail_atom, std::string branch, int status, std::string reason)
//                                                        the request could not be delivered
//   (timeout_atom, std::string branch)                   timer B/F (internal)
//   (counters_atom) -> control::Counters                 requests and responses so far
//   (config_atom, std::shared_ptr<const proxy::settings>) new domains and partner lists (config apply)
#pragma once

#include <memory>
#include <vector>

#include "actors/proxy_messages.h"
#include "actors/status_log.h"

namespace fedgw {

struct proxy_core_options {
  std::shared_ptr<const proxy::settings> settings;
  size_t shard = 0;
  caf::actor registry;
  status_log_actor log;
  std::chrono::milliseconds transaction_timeout{32000};
};

caf::actor spawn_proxy_core(caf::actor_system& system, proxy_core_options options);

// The shard for a request (by Call-ID).
size_t shard_for_call(std::string_view call_id, size_t shards);

}  // namespace fedgw
