// Parsing DNS answers (RFC 1035 wire format) into dns::answer. c-ares' own
// ares_parse_srv_reply drops TTLs and ares_parse_*_reply ignore the authority
// section, so fedgw parses the messages itself (names via ares_expand_name).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "gateway/dns/types.h"

namespace fedgw::dns {

// Parses a complete DNS response to a question of `type`. Fills result
// (ok / no_service / nxdomain / nodata / server_failure / bad_answer), the records
// of `type` found in the answer section (following CNAMEs: every record of the
// type is taken), ttl = the smallest TTL of the answer section (CNAMEs included),
// and for negative answers the RFC 2308 TTL from the authority SOA, min(SOA TTL,
// SOA MINIMUM), with has_soa set. Sets detail on bad_answer / server_failure.
answer parse_response(const unsigned char* data, size_t size, rr_type type);

}  // namespace fedgw::dns
