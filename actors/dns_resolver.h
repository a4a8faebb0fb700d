// fedgw's DNS resolver: one actor in front of c-ares.
//
// c-ares runs on a dedicated DNS I/O thread (gateway/dns/engine.h) that waits
// in epoll on c-ares' sockets and an eventfd; its answers come back to this
// actor as messages, so no CAF worker ever blocks on DNS and there is no
// polling tick. The actor owns the answer cache (TTLs capped by
// dns.max_cache_ttl_s, RFC 2308 negative caching), coalesces concurrent
// questions for one name into one query, answers config dns.srv / dns.hosts
// before DNS, and keeps a short-lived list of unreachable ip:port pairs.
//
// Results are plain data from gateway/dns/types.h; a lookup never replies
// with a CAF error: failures are in the result (outcome / resolve_status,
// with texts), and reach the status log under component "dns".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "actors/messages.h"
#include "actors/status_log.h"
#include "gateway/dns/types.h"
#include "gateway/metrics/metrics.h"
#include "proto/config.pb.h"

// In-process only (never serialised).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::config::Dns)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::dns::resolution)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::dns::srv_lookup)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::dns::host_lookup)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::dns::stats)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::dns::answer)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fedgw::metrics::dns_block)

namespace fedgw {

using resolve_atom = caf::atom_constant<caf::atom("resolve")>;
using srv_atom = caf::atom_constant<caf::atom("srv")>;
using host_atom = caf::atom_constant<caf::atom("host")>;
using unreach_atom = caf::atom_constant<caf::atom("unreach")>;
using reach_atom = caf::atom_constant<caf::atom("reach")>;
using dns_stats_atom = caf::atom_constant<caf::atom("dnsstats")>;
using dns_flush_atom = caf::atom_constant<caf::atom("dnsflush")>;
using dns_answer_atom = caf::atom_constant<caf::atom("dnsanswer")>;

using dns_resolver_actor = caf::typed_actor<
  // Where to send requests for a federated domain (RFC 3263 §4): ordered
  // targets, or why there are none (no_record/no_service: 404, else 503),
  // with every query made and its outcome.
  caf::replies_to<resolve_atom, std::string /*domain*/>::with<dns::resolution>,
  // SRV records of one owner name (DNS order, with TTLs), e.g. "_sips._tcp.example.com".
  caf::replies_to<srv_atom, std::string /*owner name*/>::with<dns::srv_lookup>,
  // A and AAAA of one host, addresses ordered (IPv6/IPv4 interleaved, IPv6 first).
  caf::replies_to<host_atom, std::string /*host*/>::with<dns::host_lookup>,
  // A connection to ip:port failed: later results list it last (flagged) until
  // the unreachable expiry (dns_resolver_options::unreachable_ttl) passes.
  caf::reacts_to<unreach_atom, std::string /*ip*/, uint16_t /*port*/>,
  // A connection to ip:port worked: take it off the unreachable list.
  caf::reacts_to<reach_atom, std::string /*ip*/, uint16_t /*port*/>,
  // New settings (servers, timeout, tries, cache ceiling, static records,
  // allow_tcp_federation). Empties the cache; queries in flight finish on the
  // old servers. A bad server list is reported to the status log and ignored.
  caf::reacts_to<config_atom, config::Dns>,
  // Forget every cached answer.
  caf::reacts_to<dns_flush_atom>,
  caf::replies_to<dns_stats_atom>::with<dns::stats>,
  // Questions by type and result, query latency (/metrics).
  caf::replies_to<metrics_atom>::with<metrics::dns_block>,
  // Internal: an answer from the DNS thread (query key, generation, answer).
  caf::reacts_to<dns_answer_atom, std::string /*name*/, uint16_t /*type*/, uint64_t /*generation*/,
                 dns::answer>>;

struct dns_resolver_options {
  // How long an ip:port stays on the unreachable list.
  std::chrono::milliseconds unreachable_ttl{std::chrono::seconds(30)};
  // NXDOMAIN/NODATA answers without an SOA are cached this long (capped by max_cache_ttl_s).
  uint32_t negative_default_ttl_s = 30;
  // Timeouts and server failures are cached this long (0: not at all), so a
  // dead server is not asked again for every request.
  uint32_t failure_ttl_s = 5;
  size_t max_cache_entries = 10000;
  // RFC 2782 random source seed; 0: random.
  uint64_t random_seed = 0;
  // The time the cache TTLs and the unreachable list run on; empty:
  // std::chrono::steady_clock::now. Tests inject a clock they can advance.
  // Called on the actor's thread only. (Query timeouts are c-ares' own, in real time.)
  std::function<std::chrono::steady_clock::time_point()> clock;
};

// `dns` need not have defaults applied (unset timeout_ms 2000, tries 2,
// max_cache_ttl_s 3600). `log` may be an invalid handle (no status reports).
dns_resolver_actor spawn_dns_resolver(caf::actor_system& system, const config::Dns& dns, status_log_actor log,
                                      dns_resolver_options options = {});

}  // namespace fedgw
