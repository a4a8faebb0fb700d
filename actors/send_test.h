// `fedctl send-test DOMAIN`: one OPTIONS request to a partner domain through
// the data path, as if the internal UC server had sent it; replies with the
// final response. One short-lived actor per test.
#pragma once

#include <string>
#include <vector>

#include "actors/proxy_messages.h"

namespace fedgw {

struct send_test_result {
  int status = 0;
  std::string reason;
  double milliseconds = 0;
};

using send_test_atom = caf::atom_constant<caf::atom("sendtest")>;

// Replies once to (send_test_atom) with a send_test_result, then quits.
caf::actor spawn_send_test(caf::actor_system& system, std::vector<proxy_core_actor> shards, std::string from_domain,
                           std::string to_domain);

}  // namespace fedgw

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::send_test_result)
