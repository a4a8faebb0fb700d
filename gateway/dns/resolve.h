// resolve_domain (RFC 3263 §4 as SIP federation uses it) and the A+AAAA host
// lookup, written against an abstract lookup function so that the logic runs
// the same inside the resolver actor (cache, coalescing, c-ares) and in unit
// tests (canned answers).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gateway/dns/selection.h"
#include "gateway/dns/types.h"

namespace fedgw::dns {

// Asks one question; `done` is called exactly once, possibly before lookup returns.
using lookup_fn =
  std::function<void(const std::string& name, rr_type type, std::function<void(const answer&, source)> done)>;

struct srv_candidate {
  std::string name;  // "_sipfederationtls._tcp.example.com"
  transport proto = transport::tls;
};

// The SRV names tried for a domain, most preferred first:
// _sipfederationtls._tcp (the de-facto federation record), _sips._tcp,
// _sip._tls, and _sip._tcp (TCP) only when allow_tcp.
std::vector<srv_candidate> federation_srv_names(const std::string& domain, bool allow_tcp);

inline constexpr uint16_t default_tls_port = 5061;

struct resolve_options {
  bool allow_tcp_federation = false;
  random_source random;  // RFC 2782 weighted order; make_random_source() when empty
  // True when ip:port is on the unreachable list; may be empty.
  std::function<bool(const std::string& ip, uint16_t port)> unreachable;
};

// The SRV names are asked one after the other, in preference order:
//  - records: those targets (RFC 2782 order) are used, nothing else is asked;
//  - ".": the domain explicitly offers no service: no_service, no fallback;
//  - NXDOMAIN/NODATA: the next name;
//  - a failure (timeout, SERVFAIL, ...): dns_failure; a less preferred record is
//    never used because a more preferred one could not be looked up.
// Without any SRV record, the domain's own A/AAAA on port 5061 (TLS).
// Addresses of all targets are looked up in parallel; targets without an
// address are dropped (their queries stay in the report). An IP literal as
// domain is used as is (port 5061, TLS). `done` is called exactly once.
void resolve_domain(const std::string& domain, resolve_options options, const lookup_fn& lookup,
                    std::function<void(resolution)> done);

// A and AAAA of one host, asked in parallel, addresses in order_addresses() order.
// An IP literal is answered at once without a query.
void lookup_host(const std::string& host, const lookup_fn& lookup, std::function<void(host_lookup)> done);

// Combines the A and AAAA answers (A first) into a host_lookup.
host_lookup make_host_lookup(const std::string& host, const answer& a, source a_from, const answer& aaaa,
                             source aaaa_from);

}  // namespace fedgw::dns
