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

// Replies once to (readiness_atom) with the report, then quits.
using readiness_check_actor = caf::typed_actor<caf::replies_to<readiness_atom>::with<readiness::report>>;

readiness_check_actor spawn_readiness_check(caf::actor_system& system, config::Config config,
                                            cert_manager_actor certificates, dns_resolver_actor dns);

}  // namespace fedgw
