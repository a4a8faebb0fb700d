// Prometheus metrics of fedgw (README "Metrics"): plain code, no actors, no sockets.
//
// Counting: each actor owns its block (a proxy-core shard its sip_block, the DNS
// resolver its dns_block) and increments it with plain integer adds; nothing is
// shared, nothing is locked. Connection events (connects, handshakes, closes,
// answers to malformed or rate-limited requests) happen per connection or on
// error paths, in many short-lived connection actors: they go to one
// shared_connection_counters block with relaxed atomic adds (a proxied message
// never touches it). At scrape time the supervisor asks every owner for a copy,
// sums them with +=, and render() writes the text exposition format 0.0.4.
//
// Labels come only from the small enums below: never a domain, user, Call-ID or
// IP (the per-partner gauge is written only for allow-listed partner domains).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/proxy/policy_rule.h"

namespace fedgw::metrics {

// ---- label enums (the names are the label values) ----

enum class method : uint8_t {
  invite, ack, bye, cancel, message, subscribe, notify, options, register_, info, prack, update, refer, publish,
  other, count
};
method method_of(std::string_view name);  // case-sensitive, as SIP methods are
const char* name(method m);

// The side a message is on (proxy::side has the same values): internal = the UC server, external = partners.
enum class side : uint8_t { internal, external, count };
const char* name(side s);

enum class direction : uint8_t { in, out, count };  // received by / sent by the gateway
const char* name(direction d);

// Why the gateway answered a request itself (a final response it generated).
enum class reason : uint8_t {
  policy, rate_limit, no_dns_record, unreachable, timeout, malformed, too_large, loop, overload,
  local,  // answered by design: OPTIONS to a served domain, CANCEL (200 / 481)
  other, count
};
const char* name(reason r);
// The reason of a locally generated response from its status code and reason phrase. Only called for the
// gateway's own answers (not on the path of proxied messages).
reason reason_of(int code, std::string_view phrase);

// Status codes of the gateway's own final responses; any other is counted as "other".
inline constexpr std::array<int, 15> local_codes{200, 400, 403, 404, 408, 413, 416, 420, 481, 482, 483, 488, 500, 503, 505};
inline constexpr size_t local_code_slots = local_codes.size() + 1;
size_t code_slot(int code);
std::string code_label(size_t slot);  // "403", ..., "other"

// Policy refusals (403) by rule, as the routing core decided them.
using policy_reason = proxy::policy_rule;
const char* name(policy_reason r);

// A connection's direction (who connected).
enum class conn_direction : uint8_t { inbound, outbound, count };
const char* name(conn_direction d);

enum class close_reason : uint8_t { peer_closed, error, timeout, local, other, count };
const char* name(close_reason r);
close_reason close_reason_of(std::string_view reactor_reason);

enum class handshake_result : uint8_t {
  ok, certificate_verify_failed, name_mismatch, protocol_error, timeout, peer_closed, other, count
};
const char* name(handshake_result r);
// A failed handshake from the text the TLS layer or the peer check gave.
handshake_result handshake_failure_of(std::string_view text);

// A partner entry's state in the peer registry's table ("connecting", "up", "backoff", "failed").
enum class peer_state : uint8_t { connecting, up, backoff, failed, other, count };
const char* name(peer_state s);
peer_state peer_state_of(std::string_view state);

enum class dns_type : uint8_t { a, aaaa, srv, other, count };
const char* name(dns_type t);
dns_type dns_type_of(uint16_t rr_type);
enum class dns_result : uint8_t {
  ok, no_service, nxdomain, nodata, timeout, servfail, bad_answer, error,  // answers of DNS
  static_config, cache_hit, coalesced,                                      // answered without a query
  count
};
const char* name(dns_result r);

template <class E>
constexpr size_t n() { return static_cast<size_t>(E::count); }
template <class E>
constexpr size_t ix(E e) { return static_cast<size_t>(e); }

// ---- counters and histograms ----

template <size_t N>
struct counter_array {
  std::array<uint64_t, N> v{};
  void add(size_t i, uint64_t by = 1) { v[i] += by; }
  uint64_t operator[](size_t i) const { return v[i]; }
  counter_array& operator+=(const counter_array& o) {
    for (size_t i = 0; i < N; ++i) v[i] += o.v[i];
    return *this;
  }
};

// The same, shared by threads: relaxed atomic adds (connection events only, see above).
template <size_t N>
struct shared_counter_array {
  std::array<std::atomic<uint64_t>, N> v{};
  void add(size_t i, uint64_t by = 1) { v[i].fetch_add(by, std::memory_order_relaxed); }
  counter_array<N> snapshot() const {
    counter_array<N> out;
    for (size_t i = 0; i < N; ++i) out.v[i] = v[i].load(std::memory_order_relaxed);
    return out;
  }
};

// Upper bounds in nanoseconds, ascending; a histogram has one bucket per bound plus +Inf.
using bounds = std::span<const int64_t>;
inline constexpr size_t max_buckets = 16;

struct histogram {
  std::array<uint64_t, max_buckets> buckets{};  // not cumulative; buckets[bounds.size()] is +Inf
  uint64_t count = 0;
  uint64_t sum_ns = 0;
  void observe(bounds b, int64_t ns);
  histogram& operator+=(const histogram& o);
};

// Transaction durations: 5 ms .. 60 s. DNS query latency: 0.5 ms .. 5 s.
extern const std::array<int64_t, 13> transaction_bounds;
extern const std::array<int64_t, 13> dns_bounds;

// ---- blocks ----

constexpr size_t response_classes = 6;  // 1xx .. 6xx

// One proxy-core shard's counts (and, merged, the gateway's). fedctl status's
// control::Counters are derived from it (requests in / out, responses sent by class).
struct sip_block {
  counter_array<n<side>() * n<direction>() * n<method>()> requests;
  counter_array<n<side>() * n<direction>() * n<method>() * response_classes> responses;
  counter_array<n<reason>() * local_code_slots> local_responses;
  counter_array<n<policy_reason>()> policy_rejections;
  uint64_t rate_limited_out = 0;       // requests to discovered partners over partners.discovered_rate_limit
  uint64_t transactions_started = 0;
  uint64_t transaction_timeouts = 0;   // no final response in time (408 sent upstream)
  uint64_t transactions_active = 0;    // gauge: filled in when asked
  uint64_t responses_dropped = 0;      // responses matching no request sent on their connection
  histogram transaction_seconds;

  static size_t request_index(side s, direction d, method m) {
    return (ix(s) * n<direction>() + ix(d)) * n<method>() + ix(m);
  }
  static size_t response_index(side s, direction d, method m, int code) {
    size_t cls = code >= 100 && code < 700 ? static_cast<size_t>(code / 100 - 1) : response_classes - 1;
    return request_index(s, d, m) * response_classes + cls;
  }
  void count_request(side s, direction d, method m) { requests.add(request_index(s, d, m)); }
  void count_response(side s, direction d, method m, int code) { responses.add(response_index(s, d, m, code)); }
  void count_local(int code, reason r) { local_responses.add(ix(r) * local_code_slots + code_slot(code)); }

  // Sums over the other labels (what fedctl status shows).
  uint64_t requests_total(direction d) const;
  uint64_t responses_total(direction d, int response_class) const;  // response_class 1..6

  sip_block& operator+=(const sip_block& o);
};

// Connection events: `Array` is counter_array (a copy) or shared_counter_array (the live block).
template <template <size_t> class Array>
struct connection_counts {
  static constexpr size_t kinds = n<side>() * n<conn_direction>();
  Array<kinds> opened;                               // established (TLS: handshake done and peer checked)
  Array<kinds * n<close_reason>()> closed;           // established connections that closed
  Array<kinds * n<handshake_result>()> handshakes;   // TLS handshakes by result
  Array<n<reason>() * local_code_slots> local_responses;  // answered by the connection (malformed, too large, rate limit)
  Array<1> rate_limited_in;                          // requests from discovered partners over the rate limit

  static size_t kind(side s, conn_direction d) { return ix(s) * n<conn_direction>() + ix(d); }
  void count_opened(side s, conn_direction d) { opened.add(kind(s, d)); }
  void count_closed(side s, conn_direction d, close_reason r) { closed.add(kind(s, d) * n<close_reason>() + ix(r)); }
  void count_handshake(side s, conn_direction d, handshake_result r) {
    handshakes.add(kind(s, d) * n<handshake_result>() + ix(r));
  }
  void count_local(int code, reason r) {
    local_responses.add(ix(r) * local_code_slots + code_slot(code));
    if (r == reason::rate_limit) rate_limited_in.add(0);
  }
};
using connection_block = connection_counts<counter_array>;
using shared_connection_counters = connection_counts<shared_counter_array>;
connection_block snapshot(const shared_connection_counters& live);
connection_block& operator+=(connection_block& a, const connection_block& b);

// The peer registry's part: its table as gauges, and the connection counters.
struct peer_block {
  connection_block connections;
  counter_array<n<conn_direction>() * n<peer_state>()> peers;  // entries by direction and state
  std::vector<std::pair<std::string, peer_state>> domains;     // domain entries (only allow-listed ones are written)
  void count_peer(conn_direction d, peer_state s) { peers.add(ix(d) * n<peer_state>() + ix(s)); }
};

// The DNS resolver's part.
struct dns_block {
  counter_array<n<dns_type>() * n<dns_result>()> queries;
  std::array<histogram, n<dns_type>()> latency;  // queries sent to DNS servers, until the answer
  void count(dns_type t, dns_result r) { queries.add(ix(t) * n<dns_result>() + ix(r)); }
  dns_block& operator+=(const dns_block& o);
};

// ---- process ----

struct process_stats {
  double cpu_seconds = 0;
  uint64_t resident_bytes = 0;
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;
  double start_time_seconds = 0;
  bool ok = false;  // /proc/self could be read
};
process_stats read_process_stats();  // from /proc/self (Linux)

// The scheduling policy's view of the cores (gateway/io_scheduling.h).
struct scheduler_stats {
  bool cores_busy = false;        // the workers find every core busy: work stays on one worker
  uint64_t cores_busy_total = 0;  // times they found so (free -> busy)
};

// ---- exposition ----

// Everything one scrape writes.
struct snapshot_data {
  std::string version;
  process_stats process;
  scheduler_stats scheduler;
  sip_block sip;
  peer_block peers;
  dns_block dns;
  std::vector<std::string> allowed_partners;  // config partners.allowed: the only per-domain gauges
  std::optional<int64_t> certificate_not_after;  // unix seconds of the certificate in use
  bool certificate_in_use = false;
  uint32_t parts_missing = 0;  // actors that did not answer the scrape in time
};
std::string render(const snapshot_data& data);

// Prometheus text format 0.0.4 writer: one family (HELP, TYPE) then its samples.
class text_writer {
 public:
  using labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, labels l, double value);
  void sample(std::string_view name, labels l, uint64_t value);
  // _bucket{le=...} (cumulative), _sum (seconds), _count
  void histogram_samples(std::string_view name, labels l, bounds b, const histogram& h);
  const std::string& text() const { return out_; }

 private:
  void head(std::string_view name, labels l, std::string_view extra_name = {}, std::string_view extra_value = {});
  std::string out_;
};

std::string escape_label_value(std::string_view v);  // \ " and newline escaped
std::string escape_help(std::string_view v);         // \ and newline escaped
std::string format_value(double v);                   // shortest round-trip form, +Inf / -Inf / NaN

}  // namespace fedgw::metrics
