// The certificate manager: owns the gateway's certificate, key and trusted CAs, validates them, and hands out
// ready TLS contexts (server + client role) to connection actors as std::shared_ptr<const tls_contexts>.
//
// It also builds the internal listener's server context (internal_listener.ca_bundle, .peer_names), so the
// UC server's client certificate is checked against its own CA bundle and names.
//
// Reloads on command (fedctl cert reload), on a new Certificate config section (config apply), and when the
// configured files (certificate, key, CA bundles, CRLs) change (periodic stat of mtime/size/inode, see gateway/tls/file_watch.h). All or nothing:
// a new certificate with any error is refused, the one in use stays, and the reasons go to the status log
// (component "cert": warnings and errors one entry each, then one summary line). A failed check never stops the
// manager: every handler replies with a validation result, also when something threw. Contexts handed out earlier stay alive as long as someone holds them, so established
// connections are never dropped by a reload; new connections get the new contexts.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "actors/messages.h"
#include "actors/status_log.h"
#include "gateway/tls/contexts.h"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::config::Certificate)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::config::Listener)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::tls::contexts_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::tls::validation_result)

namespace fedgw {

using reload_atom = caf::atom_constant<caf::atom("reload")>;
using cert_tick_atom = caf::atom_constant<caf::atom("certtick")>;
// Sent to subscribers after the certificate files changed and were (re)loaded or refused.
using cert_changed_atom = caf::atom_constant<caf::atom("certchange")>;

using cert_manager_actor = caf::typed_actor<
  // The contexts in use; null while no valid certificate has been loaded yet (see status for why).
  caf::replies_to<caf::get_atom>::with<tls::contexts_ptr>,
  // Validation of the certificate in use; while none is in use, of the last failed attempt (readiness check).
  caf::replies_to<status_atom>::with<tls::validation_result>,
  // fedctl cert reload: reads the configured files again. The reply is this attempt's validation;
  // reply.ok() means the new certificate is now in use, otherwise the old one stays.
  caf::replies_to<reload_atom>::with<tls::validation_result>,
  // Config apply: a new certificate section, same all-or-nothing rule as reload.
  caf::replies_to<apply_atom, config::Certificate>::with<tls::validation_result>,
  // Config apply of the certificate and the internal listener sections together (internal_listener.ca_bundle,
  // .peer_names), same rule.
  caf::replies_to<apply_atom, config::Certificate, config::Listener>::with<tls::validation_result>,
  // Config check: validates a certificate section without using it (nothing changes, nothing is logged).
  caf::replies_to<check_atom, config::Certificate>::with<tls::validation_result>,
  // Config apply: the served domains changed; later validations warn about these (nothing is logged).
  caf::reacts_to<config_atom, std::vector<std::string>>,
  // The same with the internal listener section.
  caf::replies_to<check_atom, config::Certificate, config::Listener>::with<tls::validation_result>,
  // Internal timer: file change detection and the daily expiry warning.
  caf::reacts_to<cert_tick_atom>,
  // The subscriber receives (cert_changed_atom) after each reload caused by changed files.
  caf::reacts_to<caf::subscribe_atom, caf::actor>>;

struct cert_manager_options {
  config::Certificate certificate;
  status_log_actor log;
  // The gateway also presents the certificate as a TLS client to peers that require one (federation): the
  // certificate then needs the clientAuth extended key usage.
  bool mutual_tls = true;
  // SIP domains the gateway serves; a warning names each one the certificate does not cover.
  std::vector<std::string> domains;
  // How often the files are stat()ed; zero disables file watching. Values below 1 s are raised to 1 s.
  std::chrono::milliseconds watch_interval{2000};
  // The internal listener (config.internal_listener()): its ca_bundle and peer_names shape
  // tls_contexts::internal_server() and check_internal_peer().
  config::Listener internal_listener{};
};

// Spawns the manager; it loads the configured certificate at once (the result goes to the status log).
cert_manager_actor spawn_cert_manager(caf::actor_system& system, cert_manager_options options);

}  // namespace fedgw
