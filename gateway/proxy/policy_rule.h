// Which policy rule refused a request (403): set by the routing core where it refuses, counted by the metrics.
#pragma once

#include <cstdint>

namespace fedgw::proxy {

enum class policy_rule : uint8_t {
  from_domain,      // From domain not a certificate identity of the partner / not served (internal side)
  partner_list,     // partners.blocked / partners.allowed
  relay,            // relaying between partners, or to a domain served internally
  route_signature,  // a Route naming the gateway without a valid signature
  other, count
};

}  // namespace fedgw::proxy
