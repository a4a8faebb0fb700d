// Holds the running configuration and the gateway's status; applies new
// configurations as a whole (the seed's OK button) or not at all, hands the
// DNS and certificate sections to their actors, and runs the federation
// readiness check at start, after every apply and after every certificate reload.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "actors/cert_manager.h"
#include "actors/dns_resolver.h"
#include "actors/messages.h"
#include "actors/peer_connection.h"
#include "actors/proxy_session.h"
#include "actors/readiness_check.h"
#include "actors/send_test.h"
#include "actors/status_log.h"

namespace fedgw {

using budget_atom = caf::atom_constant<caf::atom("budget")>;

// Deadlines nest (gateway/config/config.h): ask (budget_atom) for the readiness
// budget B of the running config, then pass B with (readiness_atom) or
// (apply_atom): the answer comes within config::check_answer_budget(B) or
// config::apply_answer_budget(B), with the diagnosis found so far.
using supervisor_actor = caf::typed_actor<
  caf::replies_to<status_atom>::with<control::GatewayStatus>,
  // every known partner domain (fedctl peers)
  caf::replies_to<peers_atom>::with<std::vector<peer_info>>,
  // fedctl peers reset / close DOMAIN (the registry's answer)
  caf::replies_to<peer_reset_atom, std::string>::with<std::string>,
  caf::replies_to<peer_close_atom, std::string>::with<std::string>,
  // an OPTIONS to a partner domain through the data path (fedctl send-test)
  caf::replies_to<send_test_atom, std::string>::with<send_test_result>,
  caf::replies_to<config_atom>::with<std::string>,  // running config, passwords masked
  caf::replies_to<config_atom, caf::get_atom>::with<config::Config>,  // the same as a message (admin page)
  // (text, source name) → every problem found; empty means valid
  caf::replies_to<check_atom, std::string, std::string>::with<std::vector<std::string>>,
  // (text, source, readiness budget): validates, then applies, then runs the readiness check
  // and logs one summary line (plus one per problem); the reply comes after that. The running
  // config is untouched unless the reply is empty.
  caf::replies_to<apply_atom, std::string, std::string, caf::timespan>::with<std::vector<std::string>>,
  // config::readiness_budget of the running config
  caf::replies_to<budget_atom>::with<caf::timespan>,
  // the federation readiness check within the given budget, also logged
  caf::replies_to<readiness_atom, caf::timespan>::with<readiness::report>,
  // reads the certificate files again; the reply says whether the new one is in use
  caf::replies_to<reload_atom>::with<tls::validation_result>,
  // from the certificate manager: the certificate files changed (re-check)
  caf::reacts_to<cert_changed_atom>,
  // SIP_PROXY mode: log in at the proxy again (after a rejection); the reply says what happens
  caf::replies_to<login_atom>::with<std::string>,
  // /metrics and fedctl metrics: the Prometheus text exposition of the gateway's counters
  caf::replies_to<metrics_atom>::with<std::string>>;

struct supervisor_options {
  config::Config config;  // validated, defaults applied
  std::string source;     // file it came from
  uint32_t worker_threads = 0;  // the scheduler's actual thread count
  status_log_actor log;
  cert_manager_actor certificates;
  dns_resolver_actor dns;
  // The data path: where new connections get their TLS contexts, the proxy
  // shards (counters), the peer registry (fedctl peers) and the listeners.
  std::shared_ptr<tls_source> tls;
  std::shared_ptr<const proxy::settings> proxy_settings;
  std::shared_ptr<policy_source> policy;
  std::vector<proxy_core_actor> shards;
  peer_registry_actor registry;
  std::vector<control::ListenerStatus> listeners;
  // SIP_PROXY mode: starts the session with the proxy for a config (null: never started, e.g. in tests).
  std::function<proxy_session_actor(const config::Config&)> start_proxy_session;
  // sip_proxy.incoming follows the configuration: the listener open at start (0: none), how to open one
  // for a config (its id, 0 when it cannot; `status` for fedctl status either way) and how to close one.
  uint64_t proxy_incoming_listener = 0;
  std::function<uint64_t(const config::Config&, control::ListenerStatus& status)> open_proxy_incoming;
  std::function<void(uint64_t)> close_listener;
};

supervisor_actor spawn_gateway_supervisor(caf::actor_system& system, supervisor_options options);

}  // namespace fedgw
