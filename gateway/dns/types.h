// Result types of fedgw's DNS resolver (actors/dns_resolver.h). Plain data,
// shared by the actor-free code in gateway/dns and by the resolver actor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedgw::dns {

// The record types the resolver asks for.
enum class rr_type : uint16_t { a = 1, aaaa = 28, srv = 33 };
const char* type_name(rr_type type);  // "A", "AAAA", "SRV"

// The outcome of one DNS question.
enum class outcome : uint8_t {
  ok,              // records found
  no_service,      // SRV answered with the single target "." (RFC 2782: service decidedly not available)
  nxdomain,        // the name does not exist
  nodata,          // the name exists, but has no record of this type
  timeout,         // no server answered within timeout_ms x tries
  server_failure,  // SERVFAIL, REFUSED or connection refused by every server
  bad_answer,      // the answer could not be parsed
  error,           // anything else (bad name, no servers configured, resolver shut down)
};
const char* outcome_name(outcome result);  // "OK", "NXDOMAIN", "NODATA", "timeout", ...
// NXDOMAIN / NODATA: an authoritative "no" (cached per RFC 2308).
inline bool is_negative(outcome r) { return r == outcome::nxdomain || r == outcome::nodata; }
// DNS itself did not work: nothing is known about the name.
inline bool is_failure(outcome r) {
  return r == outcome::timeout || r == outcome::server_failure || r == outcome::bad_answer ||
         r == outcome::error;
}

// Where an answer came from.
enum class source : uint8_t {
  dns,            // a query was sent for this request
  coalesced,      // joined a query already in flight for another request
  cache,          // answered from the cache (positive or negative)
  static_config,  // config dns.srv / dns.hosts
};
const char* source_name(source from);

struct srv_record {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  std::string target;  // without trailing dot; "." for "no service"
  uint32_t ttl = 0;    // seconds (remaining, when from the cache)
};

struct address_record {
  std::string ip;  // textual, IPv6 without brackets
  bool ipv6 = false;
  uint32_t ttl = 0;
};

// The parsed answer to one question: the unit of caching and coalescing.
struct answer {
  outcome result = outcome::error;
  std::vector<srv_record> srv;            // rr_type::srv, in DNS order
  std::vector<address_record> addresses;  // rr_type::a / aaaa, in DNS order
  uint32_t ttl = 0;     // how long this answer may be cached (positive: min record TTL)
  bool has_soa = false; // negative answer carried an SOA (RFC 2308 TTL) in the authority section
  std::string detail;   // for failures: "server 127.0.0.1:5353 timed out after 2 tries"
};

// One question that was asked on behalf of a request, and what came of it.
struct query_report {
  std::string name;
  rr_type type = rr_type::a;
  outcome result = outcome::error;
  source from = source::dns;
  size_t records = 0;
  uint32_t ttl = 0;
  // "DNS: _sipfederationtls._tcp.example.com SRV: NXDOMAIN",
  // "DNS: sip.example.com A: 2 records, TTL 300 (cache)" or
  // "DNS: example.com SRV: server 127.0.0.1:5353 timed out after 2 tries".
  std::string text;
};
query_report make_report(const std::string& name, rr_type type, const answer& a, source from);

// srv lookup of one owner name.
struct srv_lookup {
  std::string name;
  outcome result = outcome::error;
  std::vector<srv_record> records;  // DNS order (use dns::order_srv for RFC 2782 order)
  query_report query;
};

// A and AAAA lookup of one host.
struct host_lookup {
  std::string host;
  // ok when either family has addresses; otherwise the more telling outcome of
  // the two (a failure wins over NODATA, NXDOMAIN over NODATA).
  outcome result = outcome::error;
  std::vector<address_record> addresses;  // ordered, see order_addresses()
  std::vector<query_report> queries;      // A, then AAAA
};

enum class transport : uint8_t { tcp, tls };
const char* transport_name(transport t);  // "TCP", "TLS"

struct target_address {
  std::string ip;
  bool ipv6 = false;
  // Marked unreachable (dns_resolver's unreachable list) on this target's port:
  // such addresses come after all others of their target.
  bool unreachable = false;
};

// One place to send requests for a federated domain, in the order to try.
struct target {
  std::string host;
  uint16_t port = 0;
  transport proto = transport::tls;
  std::string srv_name;  // the SRV owner name that gave it; empty for the A/AAAA fallback
  uint16_t priority = 0;
  uint16_t weight = 0;
  std::vector<target_address> addresses;  // reachable ones first
  bool all_unreachable() const;
};

enum class resolve_status : uint8_t {
  ok,           // targets has at least one target with addresses
  no_record,    // no federation SRV record and no A/AAAA for the domain: 404
  no_service,   // the preferred SRV record is ".": the domain explicitly offers no service: 404
  no_address,   // SRV records exist, but none of their targets has an address: 503
  dns_failure,  // DNS did not work (timeout, SERVFAIL, ...): 503, retry later
};
const char* resolve_status_name(resolve_status s);

// The result of resolve_domain (RFC 3263 §4 as federation deployments use it).
struct resolution {
  std::string domain;
  resolve_status status = resolve_status::dns_failure;
  std::vector<target> targets;          // in the order to try
  std::vector<query_report> queries;    // every question asked, in order, with its outcome
  std::string error;                    // empty when ok: "DNS: example.com: no federation record (...)"
  bool ok() const { return status == resolve_status::ok; }
  // "No federation record exists": a proxy answers 404.
  bool not_found() const {
    return status == resolve_status::no_record || status == resolve_status::no_service;
  }
  // 0 when ok, else the SIP status a proxy should answer (404 or 503).
  int sip_status() const { return ok() ? 0 : not_found() ? 404 : 503; }
};

// Counters of the resolver, for tests and the status page.
struct stats {
  uint64_t requests = 0;       // questions asked by requests (resolve_domain asks several)
  uint64_t queries_sent = 0;   // questions handed to c-ares
  uint64_t cache_hits = 0;
  uint64_t coalesced = 0;      // requests that joined a query in flight
  uint64_t static_hits = 0;
  uint64_t failures = 0;       // queries that ended in is_failure()
  size_t cache_entries = 0;
  size_t unreachable_entries = 0;
};

}  // namespace fedgw::dns
