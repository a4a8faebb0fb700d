// Runs one federation readiness check: asks the certificate manager for the
// certificate in use, the DNS resolver for each of its names, and analyses
// the answers (gateway/readiness). One short-lived actor per check.
#pragma once

#include "actors/cert_manager.h"
#include "actors/dns_resolver.h"
#include "gateway/readiness/readiness.h"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::readiness::report)

namespace fedgw {

using readiness_atom = caf::atom_constant<caf::atom("readiness")>;

// Replies once to (readiness_atom) with the report, then quits. The reply
// comes within `budget` of the request (config::readiness_budget): a name whose
// lookup has not finished by then is reported as such, never waited for longer.
using readiness_check_actor = caf::typed_actor<caf::replies_to<readiness_atom>::with<readiness::report>>;

// `proxy`: SIP_PROXY mode, the session with the proxy as the caller found it (none: not running).
readiness_check_actor spawn_readiness_check(caf::actor_system& system, config::Config config,
                                            cert_manager_actor certificates, dns_resolver_actor dns,
                                            std::chrono::milliseconds budget,
                                            std::optional<readiness::proxy_session_view> proxy = std::nullopt);

}  // namespace fedgw
