// Knows every SIP connection: the internal UC server's connections and one
// connection per partner domain (outbound, or an inbound one whose certificate
// was verified: RFC 5923 style reuse). Starts outbound connections on demand,
// keeps the back-off state of domains that failed, and rate-limits requests to
// discovered (not allow-listed) partners.
//
// Its interface is peer_registry_actor (actors/proxy_messages.h).
#pragma once

#include <functional>
#include <memory>

#include "actors/proxy_messages.h"
#include "actors/status_log.h"

namespace fedgw {

struct peer_registry_options {
  status_log_actor log;
  // Spawns the outbound connection actor for a domain: to its DNS targets, or
  // (node not empty) to that partner node of a dialog's route set.
  std::function<connection_actor(const std::string& domain, const std::string& node)> connect;
  uint32_t max_queued_per_domain = 1000;
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{60000};
  // Connection events counted by the connection actors (metrics_atom reports them); null: none.
  std::shared_ptr<const metrics::shared_connection_counters> connection_counters;
};

peer_registry_actor spawn_peer_registry(caf::actor_system& system, peer_registry_options options);

}  // namespace fedgw
