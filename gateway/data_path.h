// Builds the SIP data path of a running fedgw: proxy core shards, the peer
// registry, and the internal and open-federation listeners.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "actors/cert_manager.h"
#include "actors/dns_resolver.h"
#include "actors/peer_connection.h"
#include "actors/proxy_session.h"
#include "actors/status_log.h"
#include "gateway/net/reactor.h"

namespace fedgw {

struct data_path {
  std::shared_ptr<const proxy::settings> settings;
  std::shared_ptr<tls_source> tls;
  std::shared_ptr<policy_source> policy;
  std::shared_ptr<std::atomic<uint64_t>> stray_responses;
  std::shared_ptr<metrics::shared_connection_counters> connection_counters;  // reported by the registry
  std::shared_ptr<proxy::partner_rate_limiter> inbound_limits;
  std::shared_ptr<proxy::partner_rate_limiter> outbound_limits;  // per partner domain, shared by the shards
  std::vector<proxy_core_actor> shards;
  peer_registry_actor registry;
  std::vector<uint64_t> listeners;
  std::vector<control::ListenerStatus> listener_status;
  uint64_t proxy_incoming = 0;  // the sip_proxy.incoming listener (0: none)

  void stop(net::reactor& reactor);
};

// Spawns the actors (proxy_core_shards(workers) proxy-core shards) and opens the listeners; false with `error`
// when a listener cannot be opened.
bool start_data_path(caf::actor_system& system, const config::Config& config, size_t workers,
                     const std::shared_ptr<net::reactor>& reactor, const status_log_actor& log,
                     const dns_resolver_actor& dns, const cert_manager_actor& certificates, data_path& out,
                     std::string& error);

}  // namespace fedgw

namespace fedgw {

// Opens one listener of the data path (`from_sip_proxy`: sip_proxy.incoming), records it in `path` and logs
// it; 0 with `error` (naming it) when it cannot listen.
uint64_t open_listener(caf::actor_system& system, const config::Config& config, data_path& path,
                       const std::shared_ptr<net::reactor>& reactor, const status_log_actor& log,
                       const dns_resolver_actor& dns, const char* name, const config::Listener& l, proxy::side where,
                       bool from_sip_proxy, std::string& error);
control::ListenerStatus listener_status(const std::string& name, const config::Listener& l, const std::string& state);

// SIP_PROXY mode: the session with the proxy for `config` (its TLS contexts are the data path's).
proxy_session_options proxy_session_settings(const config::Config& config, const data_path& path,
                                             const std::shared_ptr<net::reactor>& reactor,
                                             const status_log_actor& log);

}  // namespace fedgw
