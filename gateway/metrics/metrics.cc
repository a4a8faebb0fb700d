#include "gateway/metrics/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace fedgw::metrics {

namespace {

template <class E, size_t N>
const char* pick(const std::array<const char*, N>& names, E e) {
  static_assert(N == n<E>());
  return names[ix(e)];
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }
bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

constexpr int64_t ms = 1000000;

}  // namespace

const std::array<int64_t, 13> transaction_bounds{5 * ms,   10 * ms,   25 * ms,   50 * ms,    100 * ms,
                                                 250 * ms, 500 * ms,  1000 * ms, 2500 * ms,  5000 * ms,
                                                 10000 * ms, 30000 * ms, 60000 * ms};
const std::array<int64_t, 13> dns_bounds{ms / 2,   1 * ms,   ms * 5 / 2, 5 * ms,    10 * ms,  25 * ms,  50 * ms,
                                         100 * ms, 250 * ms, 500 * ms,   1000 * ms, 2500 * ms, 5000 * ms};

method method_of(std::string_view m) {
  // By length first: one or two comparisons per message.
  switch (m.size()) {
    case 3:
      if (m == "ACK") return method::ack;
      if (m == "BYE") return method::bye;
      break;
    case 4:
      if (m == "INFO") return method::info;
      break;
    case 5:
      if (m == "PRACK") return method::prack;
      if (m == "REFER") return method::refer;
      break;
    case 6:
      if (m == "INVITE") return method::invite;
      if (m == "CANCEL") return method::cancel;
      if (m == "NOTIFY") return method::notify;
      if (m == "UPDATE") return method::update;
      break;
    case 7:
      if (m == "MESSAGE") return method::message;
      if (m == "OPTIONS") return method::options;
      if (m == "PUBLISH") return method::publish;
      break;
    case 8:
      if (m == "REGISTER") return method::register_;
      break;
    case 9:
      if (m == "SUBSCRIBE") return method::subscribe;
      break;
  }
  return method::other;
}

const char* name(method m) {
  static constexpr std::array<const char*, n<method>()> names{
    "INVITE", "ACK",  "BYE",   "CANCEL", "MESSAGE", "SUBSCRIBE", "NOTIFY", "OPTIONS",
    "REGISTER", "INFO", "PRACK", "UPDATE", "REFER",   "PUBLISH",   "other"};
  return pick(names, m);
}

const char* name(side s) { return pick(std::array<const char*, 2>{"internal", "external"}, s); }
const char* name(direction d) { return pick(std::array<const char*, 2>{"in", "out"}, d); }
const char* name(conn_direction d) { return pick(std::array<const char*, 2>{"inbound", "outbound"}, d); }

const char* name(reason r) {
  static constexpr std::array<const char*, n<reason>()> names{
    "policy", "rate_limit", "no_dns_record", "unreachable", "timeout", "malformed",
    "too_large", "loop", "overload", "local", "other"};
  return pick(names, r);
}

reason reason_of(int code, std::string_view phrase) {
  switch (code) {
    case 200:
    case 481: return reason::local;
    case 400:
    case 416:
    case 505: return reason::malformed;
    case 403: return reason::policy;
    case 404: return contains(phrase, "Request-URI") ? reason::other : reason::no_dns_record;
    case 408: return reason::timeout;
    case 413: return reason::too_large;
    case 482:
    case 483: return reason::loop;
    case 503:
      if (contains(phrase, "rate limit") || contains(phrase, "too many discovered partners")) return reason::rate_limit;
      if (contains(phrase, "too many requests queued")) return reason::overload;
      if (contains(phrase, "shutting down")) return reason::other;
      return reason::unreachable;
    default: return reason::other;
  }
}

size_t code_slot(int code) {
  for (size_t i = 0; i < local_codes.size(); ++i)
    if (local_codes[i] == code) return i;
  return local_codes.size();
}

std::string code_label(size_t slot) { return slot < local_codes.size() ? std::to_string(local_codes[slot]) : "other"; }

const char* name(policy_reason r) {
  return pick(std::array<const char*, n<policy_reason>()>{"from_domain", "partner_list", "relay", "route_signature",
                                                          "other"},
              r);
}

const char* name(close_reason r) {
  return pick(std::array<const char*, n<close_reason>()>{"peer_closed", "error", "timeout", "local", "other"}, r);
}

close_reason close_reason_of(std::string_view r) {
  // The reactor's texts (gateway/net/reactor.cc).
  if (r == "closed by peer") return close_reason::peer_closed;
  if (r == "closed locally") return close_reason::local;
  // The establishment, incomplete-message and flush deadlines.
  if (contains(r, " within ") || starts_with(r, "incomplete SIP message")) return close_reason::timeout;
  if (starts_with(r, "connection error") || starts_with(r, "send")) return close_reason::error;
  return close_reason::other;
}

const char* name(handshake_result r) {
  return pick(std::array<const char*, n<handshake_result>()>{"ok", "certificate_verify_failed", "name_mismatch",
                                                             "protocol_error", "timeout", "peer_closed", "other"},
              r);
}

handshake_result handshake_failure_of(std::string_view text) {
  // OpenSSL's texts, and the peer checks' (gateway/tls: identity.cc, verify.cc, contexts.cc).
  if (contains(text, "name mismatch") || contains(text, "is not one of")) return handshake_result::name_mismatch;
  for (std::string_view part : {"certificate verify failed", "unknown ca", "bad certificate", "certificate required",
                                "did not return a certificate", "presented no certificate", "not verified",
                                "do not trust", "self-signed", "expired", "not yet valid", "revoked",
                                "extended key usage", "intermediate certificate", "verify_depth"})
    if (contains(text, part)) return handshake_result::certificate_verify_failed;
  if (contains(text, " within ")) return handshake_result::timeout;
  if (contains(text, "closed by peer") || contains(text, "connection error")) return handshake_result::peer_closed;
  if (contains(text, "TLS") || contains(text, "SSL") || contains(text, "ssl") || contains(text, "alert") ||
      contains(text, "protocol") || contains(text, "wrong version"))
    return handshake_result::protocol_error;
  return handshake_result::other;
}

const char* name(peer_state s) {
  return pick(std::array<const char*, n<peer_state>()>{"connecting", "up", "backoff", "failed", "other"}, s);
}

peer_state peer_state_of(std::string_view s) {
  if (s == "connecting" || s == "handshaking") return peer_state::connecting;
  if (s == "up") return peer_state::up;
  if (s == "backoff") return peer_state::backoff;
  if (s == "failed") return peer_state::failed;
  return peer_state::other;
}

const char* name(dns_type t) { return pick(std::array<const char*, n<dns_type>()>{"A", "AAAA", "SRV", "other"}, t); }

dns_type dns_type_of(uint16_t rr) {
  switch (rr) {
    case 1: return dns_type::a;
    case 28: return dns_type::aaaa;
    case 33: return dns_type::srv;
    default: return dns_type::other;
  }
}

const char* name(dns_result r) {
  return pick(std::array<const char*, n<dns_result>()>{"ok", "no_service", "nxdomain", "nodata", "timeout",
                                                       "servfail", "bad_answer", "error", "static", "cache_hit",
                                                       "coalesced"},
              r);
}

void histogram::observe(bounds b, int64_t ns) {
  if (ns < 0) ns = 0;
  size_t i = 0;
  while (i < b.size() && ns > b[i]) ++i;
  ++buckets[i];
  ++count;
  sum_ns += static_cast<uint64_t>(ns);
}

histogram& histogram::operator+=(const histogram& o) {
  for (size_t i = 0; i < max_buckets; ++i) buckets[i] += o.buckets[i];
  count += o.count;
  sum_ns += o.sum_ns;
  return *this;
}

uint64_t sip_block::requests_total(direction d) const {
  uint64_t sum = 0;
  for (size_t s = 0; s < n<side>(); ++s)
    for (size_t m = 0; m < n<method>(); ++m) sum += requests[request_index(side(s), d, method(m))];
  return sum;
}

uint64_t sip_block::responses_total(direction d, int response_class) const {
  uint64_t sum = 0;
  for (size_t s = 0; s < n<side>(); ++s)
    for (size_t m = 0; m < n<method>(); ++m) sum += responses[response_index(side(s), d, method(m), response_class * 100)];
  return sum;
}

sip_block& sip_block::operator+=(const sip_block& o) {
  requests += o.requests;
  responses += o.responses;
  local_responses += o.local_responses;
  policy_rejections += o.policy_rejections;
  rate_limited_out += o.rate_limited_out;
  transactions_started += o.transactions_started;
  transaction_timeouts += o.transaction_timeouts;
  transactions_active += o.transactions_active;
  responses_dropped += o.responses_dropped;
  transaction_seconds += o.transaction_seconds;
  return *this;
}

connection_block snapshot(const shared_connection_counters& live) {
  connection_block out;
  out.opened = live.opened.snapshot();
  out.closed = live.closed.snapshot();
  out.handshakes = live.handshakes.snapshot();
  out.local_responses = live.local_responses.snapshot();
  out.rate_limited_in = live.rate_limited_in.snapshot();
  return out;
}

connection_block& operator+=(connection_block& a, const connection_block& b) {
  a.opened += b.opened;
  a.closed += b.closed;
  a.handshakes += b.handshakes;
  a.local_responses += b.local_responses;
  a.rate_limited_in += b.rate_limited_in;
  return a;
}

dns_block& dns_block::operator+=(const dns_block& o) {
  queries += o.queries;
  for (size_t i = 0; i < latency.size(); ++i) latency[i] += o.latency[i];
  return *this;
}

// ---- process ----

process_stats read_process_stats() {
  process_stats p;
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may contain spaces) start at field 3 (state).
  auto close = stat.rfind(')');
  if (close == std::string::npos) return p;
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; fields >> x;) f.push_back(x);
  // f[0] is field 3: utime 14 -> f[11], stime 15 -> f[12], starttime 22 -> f[19], rss 24 -> f[21].
  if (f.size() < 22) return p;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  p.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  p.resident_bytes = std::stoull(f[21]) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  std::ifstream proc_stat("/proc/stat");
  for (std::string line; std::getline(proc_stat, line);)
    if (starts_with(line, "btime ")) p.start_time_seconds = std::stod(line.substr(6)) + std::stod(f[19]) / ticks;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++p.open_fds;
    closedir(d);
    --p.open_fds;  // the directory stream itself
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) p.max_fds = limit.rlim_cur;
  p.ok = true;
  return p;
}

// ---- text format ----

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Whole numbers (timestamps, byte counts) in full; others in the shortest form that reads back exactly.
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void text_writer::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void text_writer::head(std::string_view name, labels l, std::string_view extra_name, std::string_view extra_value) {
  out_ += name;
  if (l.size() == 0 && extra_name.empty()) {
    out_ += ' ';
    return;
  }
  out_ += '{';
  bool first = true;
  auto label = [&](std::string_view k, std::string_view v) {
    if (!first) out_ += ',';
    first = false;
    out_ += k;
    out_ += "=\"";
    out_ += escape_label_value(v);
    out_ += '"';
  };
  for (const auto& [k, v] : l) label(k, v);
  if (!extra_name.empty()) label(extra_name, extra_value);
  out_ += "} ";
}

void text_writer::sample(std::string_view name, labels l, double value) {
  head(name, l);
  out_ += format_value(value);
  out_ += '\n';
}

void text_writer::sample(std::string_view name, labels l, uint64_t value) {
  head(name, l);
  out_ += std::to_string(value);
  out_ += '\n';
}

void text_writer::histogram_samples(std::string_view name, labels l, bounds b, const histogram& h) {
  std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= b.size(); ++i) {
    cumulative += h.buckets[i];
    head(bucket, l, "le", i < b.size() ? format_value(static_cast<double>(b[i]) / 1e9) : "+Inf");
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  sample(std::string(name) + "_sum", l, static_cast<double>(h.sum_ns) / 1e9);
  sample(std::string(name) + "_count", l, h.count);
}

namespace {

template <size_t N>
void local_response_samples(text_writer& w, const counter_array<N>& a, const counter_array<N>& b) {
  for (size_t r = 0; r < n<reason>(); ++r)
    for (size_t c = 0; c < local_code_slots; ++c) {
      auto i = r * local_code_slots + c;
      if (a[i] + b[i] == 0) continue;
      auto code = code_label(c);
      w.sample("fedgw_sip_local_responses_total", {{"code", code}, {"reason", name(reason(r))}}, a[i] + b[i]);
    }
}

void sip_families(text_writer& w, const snapshot_data& d) {
  const auto& s = d.sip;
  w.family("fedgw_sip_requests_total", "counter",
           "SIP requests by side (internal: UC server, external: partners), direction (in: received, out: sent) "
           "and method, as seen by the proxy core");
  for (size_t sd = 0; sd < n<side>(); ++sd)
    for (size_t dir = 0; dir < n<direction>(); ++dir)
      for (size_t m = 0; m < n<method>(); ++m)
        w.sample("fedgw_sip_requests_total",
                 {{"side", name(side(sd))}, {"direction", name(direction(dir))}, {"method", name(method(m))}},
                 s.requests[sip_block::request_index(side(sd), direction(dir), method(m))]);
  w.family("fedgw_sip_responses_total", "counter",
           "SIP responses by side, direction, method of the request and class (1xx..6xx); out includes the "
           "gateway's own answers");
  for (size_t sd = 0; sd < n<side>(); ++sd)
    for (size_t dir = 0; dir < n<direction>(); ++dir)
      for (size_t m = 0; m < n<method>(); ++m)
        for (int cls = 1; cls <= static_cast<int>(response_classes); ++cls) {
          auto v = s.responses[sip_block::response_index(side(sd), direction(dir), method(m), cls * 100)];
          if (v == 0) continue;  // 360 label sets: only those seen
          std::string class_label = std::to_string(cls) + "xx";
          w.sample("fedgw_sip_responses_total",
                   {{"side", name(side(sd))}, {"direction", name(direction(dir))}, {"method", name(method(m))},
                    {"class", class_label}},
                   v);
        }
  w.family("fedgw_sip_responses_dropped_total", "counter",
           "Responses dropped because they match no request sent on the connection they came on");
  w.sample("fedgw_sip_responses_dropped_total", {}, s.responses_dropped);
  w.family("fedgw_sip_local_responses_total", "counter",
           "Final responses the gateway generated itself, by status code and reason");
  local_response_samples(w, s.local_responses, d.peers.connections.local_responses);
  w.family("fedgw_transactions_active", "gauge", "Client transactions in the proxy core's tables");
  w.sample("fedgw_transactions_active", {}, s.transactions_active);
  w.family("fedgw_transactions_total", "counter", "Client transactions started (requests forwarded statefully)");
  w.sample("fedgw_transactions_total", {}, s.transactions_started);
  w.family("fedgw_transaction_timeouts_total", "counter",
           "Transactions without a final response in time (408 sent upstream)");
  w.sample("fedgw_transaction_timeouts_total", {}, s.transaction_timeouts);
  w.family("fedgw_transaction_duration_seconds", "histogram",
           "From forwarding a request to its final response upstream");
  w.histogram_samples("fedgw_transaction_duration_seconds", {}, transaction_bounds, s.transaction_seconds);
  w.family("fedgw_policy_rejections_total", "counter", "Requests refused by the partner policy (403), by rule");
  for (size_t r = 0; r < n<policy_reason>(); ++r)
    w.sample("fedgw_policy_rejections_total", {{"reason", name(policy_reason(r))}}, s.policy_rejections[r]);
  w.family("fedgw_rate_limit_rejections_total", "counter",
           "Requests refused (503) by partners.discovered_rate_limit: inbound from a discovered partner, outbound "
           "to one");
  w.sample("fedgw_rate_limit_rejections_total", {{"direction", "inbound"}}, d.peers.connections.rate_limited_in[0]);
  w.sample("fedgw_rate_limit_rejections_total", {{"direction", "outbound"}}, s.rate_limited_out);
}

void connection_families(text_writer& w, const peer_block& p) {
  const auto& c = p.connections;
  w.family("fedgw_partner_connections", "gauge",
           "Entries of the peer registry's partner table (fedctl peers) by direction and state");
  for (size_t dir = 0; dir < n<conn_direction>(); ++dir)
    for (size_t st = 0; st < n<peer_state>(); ++st)
      w.sample("fedgw_partner_connections", {{"direction", name(conn_direction(dir))}, {"state", name(peer_state(st))}},
               p.peers[dir * n<peer_state>() + st]);
  w.family("fedgw_connections_opened_total", "counter",
           "Connections established (TLS: handshake done and peer checked) by side and direction");
  for (size_t sd = 0; sd < n<side>(); ++sd)
    for (size_t dir = 0; dir < n<conn_direction>(); ++dir)
      w.sample("fedgw_connections_opened_total", {{"side", name(side(sd))}, {"direction", name(conn_direction(dir))}},
               c.opened[c.kind(side(sd), conn_direction(dir))]);
  w.family("fedgw_connections_closed_total", "counter", "Established connections closed, by side, direction and reason");
  for (size_t sd = 0; sd < n<side>(); ++sd)
    for (size_t dir = 0; dir < n<conn_direction>(); ++dir)
      for (size_t r = 0; r < n<close_reason>(); ++r)
        w.sample("fedgw_connections_closed_total",
                 {{"side", name(side(sd))}, {"direction", name(conn_direction(dir))}, {"reason", name(close_reason(r))}},
                 c.closed[c.kind(side(sd), conn_direction(dir)) * n<close_reason>() + r]);
  w.family("fedgw_tls_handshakes_total", "counter", "TLS handshakes by side, direction and result (ok or why not)");
  for (size_t sd = 0; sd < n<side>(); ++sd)
    for (size_t dir = 0; dir < n<conn_direction>(); ++dir)
      for (size_t r = 0; r < n<handshake_result>(); ++r)
        w.sample("fedgw_tls_handshakes_total",
                 {{"side", name(side(sd))}, {"direction", name(conn_direction(dir))},
                  {"result", name(handshake_result(r))}},
                 c.handshakes[c.kind(side(sd), conn_direction(dir)) * n<handshake_result>() + r]);
}

void allowed_partner_family(text_writer& w, const snapshot_data& d) {
  if (d.allowed_partners.empty()) return;
  w.family("fedgw_allowed_partner_up", "gauge",
           "1 while an allow-listed partner domain (partners.allowed) has an established connection");
  for (const auto& domain : d.allowed_partners) {
    uint64_t up = 0;
    for (const auto& [known, state] : d.peers.domains)
      if (known == domain && state == peer_state::up) up = 1;
    w.sample("fedgw_allowed_partner_up", {{"domain", domain}}, up);
  }
}

void dns_families(text_writer& w, const dns_block& dns) {
  w.family("fedgw_dns_queries_total", "counter",
           "DNS questions by record type and result (static: config dns.srv/hosts, cache_hit, coalesced: no query "
           "sent)");
  for (size_t t = 0; t < n<dns_type>(); ++t)
    for (size_t r = 0; r < n<dns_result>(); ++r)
      w.sample("fedgw_dns_queries_total", {{"type", name(dns_type(t))}, {"result", name(dns_result(r))}},
               dns.queries[t * n<dns_result>() + r]);
  w.family("fedgw_dns_query_duration_seconds", "histogram", "Latency of DNS queries sent to the servers, by type");
  for (size_t t = 0; t < n<dns_type>(); ++t)
    w.histogram_samples("fedgw_dns_query_duration_seconds", {{"type", name(dns_type(t))}}, dns_bounds, dns.latency[t]);
}

void process_families(text_writer& w, const process_stats& p) {
  if (!p.ok) return;
  w.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
  w.sample("process_cpu_seconds_total", {}, p.cpu_seconds);
  w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  w.sample("process_resident_memory_bytes", {}, p.resident_bytes);
  w.family("process_open_fds", "gauge", "Number of open file descriptors.");
  w.sample("process_open_fds", {}, p.open_fds);
  w.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
  w.sample("process_max_fds", {}, p.max_fds);
  w.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  w.sample("process_start_time_seconds", {}, p.start_time_seconds);
}

}  // namespace

std::string render(const snapshot_data& d) {
  text_writer w;
  w.family("fedgw_build_info", "gauge", "fedgw version (always 1)");
  w.sample("fedgw_build_info", {{"version", d.version}}, uint64_t{1});
  process_families(w, d.process);
  w.family("fedgw_cores_busy", "gauge",
           "1 while a running worker waits for a CPU more than a tenth of the time it wants to run: work stays on "
           "one worker (config spread_when_cores_busy)");
  w.sample("fedgw_cores_busy", {}, uint64_t{d.scheduler.cores_busy ? 1u : 0u});
  w.family("fedgw_cores_busy_total", "counter", "Times the workers found every core busy (free -> busy)");
  w.sample("fedgw_cores_busy_total", {}, d.scheduler.cores_busy_total);
  sip_families(w, d);
  connection_families(w, d.peers);
  allowed_partner_family(w, d);
  dns_families(w, d.dns);
  w.family("fedgw_certificate_in_use", "gauge", "1 while a valid certificate of the gateway's is in use");
  w.sample("fedgw_certificate_in_use", {}, uint64_t{d.certificate_in_use ? 1u : 0u});
  if (d.certificate_not_after) {
    w.family("fedgw_certificate_not_after_seconds", "gauge",
             "Expiry (notAfter, unix seconds) of the gateway's certificate in use");
    w.sample("fedgw_certificate_not_after_seconds", {}, static_cast<double>(*d.certificate_not_after));
  }
  w.family("fedgw_scrape_parts_missing", "gauge",
           "Actors that did not answer this scrape in time (their counters are missing from it)");
  w.sample("fedgw_scrape_parts_missing", {}, uint64_t{d.parts_missing});
  return w.text();
}

}  // namespace fedgw::metrics
