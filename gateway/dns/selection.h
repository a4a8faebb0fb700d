// RFC 2782 target selection and address ordering: plain functions with an
// injectable random source, used by resolve_domain for every request (so the
// order, and any failover along it, belongs to the request, not to the name).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "gateway/dns/types.h"

namespace fedgw::dns {

// Returns a uniformly distributed number in [0, bound] (inclusive, as RFC 2782 says).
using random_source = std::function<uint32_t(uint32_t bound)>;
// A std::mt19937-backed source; seed 0 means "seed from std::random_device".
random_source make_random_source(uint64_t seed = 0);

// RFC 2782 order: ascending priority; within a priority, the weighted random
// selection of the RFC: the not yet ordered records are arranged with the
// zero-weight ones first, a number 0..sum(weights) is drawn, and the first
// record whose running weight sum is >= that number comes next. So a zero-weight
// record is picked only when the draw is 0 (a small chance), and records of
// weight 0 only are kept in DNS order. Records with target "." are dropped.
std::vector<srv_record> order_srv(std::vector<srv_record> records, const random_source& random);

// Address order used by fedgw: IPv6 and IPv4 interleaved, IPv6 first
// (RFC 8305 §4, "Happy Eyeballs"), each family keeping its DNS order. A
// machine without IPv6 fails those connects at once and moves on; one
// unreachable family never delays the other by more than one attempt.
std::vector<address_record> order_addresses(const std::vector<address_record>& v4,
                                            const std::vector<address_record>& v6);

// Moves the addresses for which `unreachable` is true after the others
// (stable), flagging them.
std::vector<target_address> flag_unreachable(const std::vector<address_record>& ordered,
                                             const std::function<bool(const std::string& ip)>& unreachable);

// Stable: targets whose addresses are all unreachable move after the others.
void unreachable_targets_last(std::vector<target>& targets);

}  // namespace fedgw::dns
