#include "gateway/metrics/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace fedgw::metrics {
namespace {

// One parsed sample line: name{labels} value.
struct sample_line {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string value;
};

// A strict reader of the text format 0.0.4 as far as render() uses it: every sample belongs to the
// family announced by the HELP and TYPE lines before it; label values are unescaped.
struct parsed {
  std::map<std::string, std::string> types;  // family -> type
  std::vector<sample_line> samples;
  std::vector<std::string> errors;

  explicit parsed(const std::string& text) {
    std::istringstream in(text);
    std::string line, family;
    static const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
    while (std::getline(in, line)) {
      if (line.rfind("# HELP ", 0) == 0) {
        family = line.substr(7, line.find(' ', 7) - 7);
        continue;
      }
      if (line.rfind("# TYPE ", 0) == 0) {
        auto rest = line.substr(7);
        auto space = rest.find(' ');
        if (rest.substr(0, space) != family) errors.push_back("TYPE without HELP: " + line);
        if (types.count(family)) errors.push_back("family twice: " + family);
        types[family] = rest.substr(space + 1);
        continue;
      }
      if (line.empty() || line[0] == '#') {
        errors.push_back("unexpected line: " + line);
        continue;
      }
      sample_line s;
      size_t i = 0;
      while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
      s.name = line.substr(0, i);
      if (!std::regex_match(s.name, name_re)) errors.push_back("bad name: " + line);
      if (i < line.size() && line[i] == '{') {
        ++i;
        while (i < line.size() && line[i] != '}') {
          auto eq = line.find('=', i);
          if (eq == std::string::npos || line[eq + 1] != '"') {
            errors.push_back("bad label: " + line);
            return;
          }
          auto key = line.substr(i, eq - i);
          std::string value;
          size_t j = eq + 2;
          for (; j < line.size() && line[j] != '"'; ++j) {
            if (line[j] == '\\' && j + 1 < line.size()) {
              ++j;
              value += line[j] == 'n' ? '\n' : line[j];
            } else {
              value += line[j];
            }
          }
          s.labels[key] = value;
          i = j + 1;
          if (i < line.size() && line[i] == ',') ++i;
        }
        ++i;  // '}'
      }
      if (i >= line.size() || line[i] != ' ') errors.push_back("no value: " + line);
      s.value = line.substr(i + 1);
      std::string base = s.name;
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        if (types.count(family) && types[family] == "histogram" && base == family + suffix) base = family;
      if (base != family) errors.push_back("sample outside its family " + family + ": " + line);
      samples.push_back(std::move(s));
    }
  }

  std::vector<sample_line> of(const std::string& name) const {
    std::vector<sample_line> out;
    for (const auto& s : samples)
      if (s.name == name) out.push_back(s);
    return out;
  }
  // The value of the sample with exactly these labels (-1: none).
  double value(const std::string& name, const std::map<std::string, std::string>& labels) const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels) return std::stod(s.value == "+Inf" ? "inf" : s.value);
    return -1;
  }
};

TEST(Metrics, MethodNamesMapToTheFixedEnum) {
  EXPECT_EQ(method_of("INVITE"), method::invite);
  EXPECT_EQ(method_of("MESSAGE"), method::message);
  EXPECT_EQ(method_of("SUBSCRIBE"), method::subscribe);
  EXPECT_EQ(method_of("REGISTER"), method::register_);
  EXPECT_EQ(method_of("ACK"), method::ack);
  EXPECT_EQ(method_of("invite"), method::other);  // methods are case-sensitive
  EXPECT_EQ(method_of("FOOBAR"), method::other);
  EXPECT_EQ(method_of(""), method::other);
  for (size_t m = 0; m < n<method>(); ++m) {
    if (method(m) == method::other) continue;
    EXPECT_EQ(method_of(name(method(m))), method(m)) << name(method(m));
  }
}

TEST(Metrics, ReasonsOfTheGatewaysOwnResponses) {
  EXPECT_EQ(reason_of(404, "Not Found - no federation DNS record: DNS: x.test: NXDOMAIN"), reason::no_dns_record);
  EXPECT_EQ(reason_of(503, "Service Unavailable - rate limit for b.test"), reason::rate_limit);
  EXPECT_EQ(reason_of(503, "Service Unavailable - too many discovered partners at once"), reason::rate_limit);
  EXPECT_EQ(reason_of(503, "Service Unavailable - too many requests queued for b.test"), reason::overload);
  EXPECT_EQ(reason_of(503, "Service Unavailable - b.test unreachable (refused)"), reason::unreachable);
  EXPECT_EQ(reason_of(408, "Request Timeout - no final response from the next hop"), reason::timeout);
  EXPECT_EQ(reason_of(413, "body too large"), reason::too_large);
  EXPECT_EQ(reason_of(400, "Bad Request - missing To header"), reason::malformed);
  EXPECT_EQ(reason_of(482, "Loop Detected"), reason::loop);
  EXPECT_EQ(reason_of(483, "Too Many Hops"), reason::loop);
  EXPECT_EQ(reason_of(403, "Forbidden - relaying to c.test is not allowed"), reason::policy);
  EXPECT_EQ(reason_of(200, "OK"), reason::local);
  EXPECT_EQ(reason_of(599, "x"), reason::other);
}

TEST(Metrics, HandshakeAndCloseReasons) {
  EXPECT_EQ(handshake_failure_of("TLS handshake with b.test at 1.2.3.4:5061 failed: certificate verify failed"),
            handshake_result::certificate_verify_failed);
  EXPECT_EQ(handshake_failure_of("TLS: b.test at 1.2.3.4:5061: certificate name mismatch: expected b.test, got c.test"),
            handshake_result::name_mismatch);
  EXPECT_EQ(handshake_failure_of("TLS: b.test at 1.2.3.4:5061: issued by a CA we do not trust: the root \"x\""),
            handshake_result::certificate_verify_failed);
  EXPECT_EQ(handshake_failure_of("no TLS handshake / SIP message within 10 s"), handshake_result::timeout);
  EXPECT_EQ(handshake_failure_of("closed by peer"), handshake_result::peer_closed);
  EXPECT_EQ(handshake_failure_of("TLS handshake with peer at 1.2.3.4:1 failed: wrong version number"),
            handshake_result::protocol_error);
  EXPECT_EQ(close_reason_of("closed by peer"), close_reason::peer_closed);
  EXPECT_EQ(close_reason_of("closed locally"), close_reason::local);
  EXPECT_EQ(close_reason_of("connection error: Connection reset by peer"), close_reason::error);
  EXPECT_EQ(close_reason_of("incomplete SIP message for 10 s"), close_reason::timeout);
  EXPECT_EQ(close_reason_of("something new"), close_reason::other);
  EXPECT_EQ(close_reason_of("output not sent within 5 s of closing"), close_reason::timeout);
}

TEST(Metrics, HistogramBucketsByUpperBoundInclusive) {
  histogram h;
  const std::array<int64_t, 3> b{10, 100, 1000};
  h.observe(b, 0);
  h.observe(b, 10);    // le 10 (bounds are inclusive)
  h.observe(b, 11);    // le 100
  h.observe(b, 1000);  // le 1000
  h.observe(b, 5000);  // +Inf
  h.observe(b, -5);    // clock went backwards: 0
  EXPECT_EQ(h.buckets[0], 3u);
  EXPECT_EQ(h.buckets[1], 1u);
  EXPECT_EQ(h.buckets[2], 1u);
  EXPECT_EQ(h.buckets[3], 1u);
  EXPECT_EQ(h.count, 6u);
  EXPECT_EQ(h.sum_ns, 0u + 10 + 11 + 1000 + 5000);
}

TEST(Metrics, MergeSumsEveryCounterOfTheShards) {
  sip_block a, b;
  a.count_request(side::internal, direction::in, method::message);
  a.count_request(side::internal, direction::in, method::message);
  b.count_request(side::internal, direction::in, method::message);
  b.count_request(side::external, direction::out, method::invite);
  a.count_response(side::internal, direction::out, method::message, 200);
  b.count_response(side::internal, direction::out, method::message, 202);
  b.count_response(side::external, direction::in, method::invite, 180);
  a.count_local(404, reason::no_dns_record);
  b.count_local(404, reason::no_dns_record);
  b.count_local(599, reason::other);  // an unexpected code goes to the "other" slot
  a.transactions_started = 3;
  b.transactions_started = 4;
  a.transactions_active = 1;
  b.transactions_active = 2;
  a.transaction_seconds.observe(transaction_bounds, 1000000);
  b.transaction_seconds.observe(transaction_bounds, 2000000000);
  sip_block sum;
  sum += a;
  sum += b;
  EXPECT_EQ(sum.requests[sip_block::request_index(side::internal, direction::in, method::message)], 3u);
  EXPECT_EQ(sum.requests[sip_block::request_index(side::external, direction::out, method::invite)], 1u);
  EXPECT_EQ(sum.requests_total(direction::in), 3u);
  EXPECT_EQ(sum.requests_total(direction::out), 1u);
  EXPECT_EQ(sum.responses_total(direction::out, 2), 2u);
  EXPECT_EQ(sum.responses_total(direction::in, 1), 1u);
  EXPECT_EQ(sum.responses_total(direction::out, 1), 0u);
  EXPECT_EQ(sum.local_responses[ix(reason::no_dns_record) * local_code_slots + code_slot(404)], 2u);
  EXPECT_EQ(sum.local_responses[ix(reason::other) * local_code_slots + local_codes.size()], 1u);
  EXPECT_EQ(sum.transactions_started, 7u);
  EXPECT_EQ(sum.transactions_active, 3u);
  EXPECT_EQ(sum.transaction_seconds.count, 2u);
  EXPECT_EQ(sum.transaction_seconds.sum_ns, 2001000000u);

  shared_connection_counters live;
  live.count_opened(side::external, conn_direction::inbound);
  live.count_handshake(side::external, conn_direction::outbound, handshake_result::name_mismatch);
  live.count_local(503, reason::rate_limit);
  auto copy = snapshot(live);
  copy += snapshot(live);
  EXPECT_EQ(copy.opened[copy.kind(side::external, conn_direction::inbound)], 2u);
  EXPECT_EQ(copy.rate_limited_in[0], 2u);
  EXPECT_EQ(copy.handshakes[copy.kind(side::external, conn_direction::outbound) * n<handshake_result>() +
                            ix(handshake_result::name_mismatch)],
            2u);

  dns_block d1, d2;
  d1.count(dns_type::srv, dns_result::ok);
  d2.count(dns_type::srv, dns_result::ok);
  d2.latency[ix(dns_type::a)].observe(dns_bounds, 3000000);
  d1 += d2;
  EXPECT_EQ(d1.queries[ix(dns_type::srv) * n<dns_result>() + ix(dns_result::ok)], 2u);
  EXPECT_EQ(d1.latency[ix(dns_type::a)].count, 1u);
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value("a\"b"), "a\\\"b");
  EXPECT_EQ(escape_label_value("a\\b"), "a\\\\b");
  EXPECT_EQ(escape_label_value("a\nb"), "a\\nb");
  EXPECT_EQ(escape_help("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");  // quotes stay in HELP
  text_writer w;
  w.family("t_total", "counter", "help");
  w.sample("t_total", {{"v", "1.0\"\n\\"}}, uint64_t{5});
  parsed p(w.text());
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  ASSERT_EQ(p.samples.size(), 1u);
  EXPECT_EQ(p.samples[0].labels.at("v"), "1.0\"\n\\");
  EXPECT_EQ(p.samples[0].value, "5");
}

TEST(Metrics, ValuesInTheTextFormat) {
  EXPECT_EQ(format_value(0.5), "0.5");
  EXPECT_EQ(format_value(1e9), "1000000000");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
}

snapshot_data sample_data() {
  snapshot_data d;
  d.version = "1.2.3";
  d.process = read_process_stats();
  d.sip.count_request(side::internal, direction::in, method::message);
  d.sip.count_request(side::external, direction::out, method::message);
  d.sip.count_response(side::external, direction::in, method::message, 200);
  d.sip.count_response(side::internal, direction::out, method::message, 200);
  d.sip.count_local(404, reason::no_dns_record);
  d.sip.transaction_seconds.observe(transaction_bounds, 20000000);   // 20 ms
  d.sip.transaction_seconds.observe(transaction_bounds, 90000000000);  // 90 s: +Inf
  d.peers.connections.count_handshake(side::external, conn_direction::outbound, handshake_result::ok);
  d.peers.connections.count_local(400, reason::malformed);
  d.peers.count_peer(conn_direction::outbound, peer_state::up);
  d.peers.domains.emplace_back("b.test", peer_state::up);
  d.peers.domains.emplace_back("discovered.test", peer_state::up);
  d.dns.count(dns_type::srv, dns_result::nxdomain);
  d.dns.latency[ix(dns_type::srv)].observe(dns_bounds, 1500000);
  d.certificate_in_use = true;
  d.certificate_not_after = 1893456000;
  d.scheduler = {true, 3};
  return d;
}

TEST(Metrics, RenderedTextParsesAndHasEveryFamily) {
  auto d = sample_data();
  d.allowed_partners = {"b.test"};
  parsed p(render(d));
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  for (const char* family :
       {"fedgw_build_info", "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
        "process_max_fds", "process_start_time_seconds", "fedgw_sip_requests_total", "fedgw_sip_responses_total",
        "fedgw_sip_responses_dropped_total", "fedgw_sip_local_responses_total", "fedgw_transactions_active",
        "fedgw_transactions_total", "fedgw_transaction_timeouts_total", "fedgw_transaction_duration_seconds",
        "fedgw_policy_rejections_total", "fedgw_rate_limit_rejections_total", "fedgw_partner_connections",
        "fedgw_connections_opened_total", "fedgw_connections_closed_total", "fedgw_tls_handshakes_total",
        "fedgw_allowed_partner_up", "fedgw_dns_queries_total", "fedgw_dns_query_duration_seconds",
        "fedgw_certificate_in_use", "fedgw_certificate_not_after_seconds", "fedgw_scrape_parts_missing",
        "fedgw_cores_busy", "fedgw_cores_busy_total"})
    EXPECT_TRUE(p.types.count(family)) << family;
  // Counters end in _total (process_cpu_seconds_total included), and only counters do.
  for (const auto& [family, type] : p.types) {
    bool total = family.size() > 6 && family.substr(family.size() - 6) == "_total";
    EXPECT_EQ(type == "counter", total) << family << " " << type;
    EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << type;
  }
  EXPECT_EQ(p.value("fedgw_build_info", {{"version", "1.2.3"}}), 1);
  EXPECT_EQ(p.value("fedgw_cores_busy", {}), 1);
  EXPECT_EQ(p.value("fedgw_cores_busy_total", {}), 3);
  EXPECT_EQ(p.value("fedgw_sip_requests_total", {{"side", "internal"}, {"direction", "in"}, {"method", "MESSAGE"}}), 1);
  EXPECT_EQ(p.value("fedgw_sip_requests_total", {{"side", "internal"}, {"direction", "in"}, {"method", "INVITE"}}), 0);
  EXPECT_EQ(p.value("fedgw_sip_responses_total",
                    {{"side", "external"}, {"direction", "in"}, {"method", "MESSAGE"}, {"class", "2xx"}}),
            1);
  // The shards' and the connections' own answers are one family.
  EXPECT_EQ(p.value("fedgw_sip_local_responses_total", {{"code", "404"}, {"reason", "no_dns_record"}}), 1);
  EXPECT_EQ(p.value("fedgw_sip_local_responses_total", {{"code", "400"}, {"reason", "malformed"}}), 1);
  EXPECT_EQ(p.value("fedgw_tls_handshakes_total", {{"side", "external"}, {"direction", "outbound"}, {"result", "ok"}}),
            1);
  EXPECT_EQ(p.value("fedgw_partner_connections", {{"direction", "outbound"}, {"state", "up"}}), 1);
  EXPECT_EQ(p.value("fedgw_dns_queries_total", {{"type", "SRV"}, {"result", "nxdomain"}}), 1);
  EXPECT_EQ(p.value("fedgw_certificate_not_after_seconds", {}), 1893456000);
  // Per-domain gauges: the allow-listed partner only.
  EXPECT_EQ(p.value("fedgw_allowed_partner_up", {{"domain", "b.test"}}), 1);
  EXPECT_EQ(p.of("fedgw_allowed_partner_up").size(), 1u);
}

TEST(Metrics, HistogramsAreCumulativeWithInfEqualToCount) {
  parsed p(render(sample_data()));
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  auto buckets = p.of("fedgw_transaction_duration_seconds_bucket");
  ASSERT_EQ(buckets.size(), transaction_bounds.size() + 1);
  double last = 0, last_le = 0;
  for (const auto& b : buckets) {
    double v = std::stod(b.value);
    EXPECT_GE(v, last);
    last = v;
    if (b.labels.at("le") != "+Inf") {
      double le = std::stod(b.labels.at("le"));
      EXPECT_GT(le, last_le);
      last_le = le;
    }
  }
  EXPECT_EQ(buckets.back().labels.at("le"), "+Inf");
  EXPECT_EQ(p.value("fedgw_transaction_duration_seconds_bucket", {{"le", "0.025"}}), 1);
  EXPECT_EQ(p.value("fedgw_transaction_duration_seconds_bucket", {{"le", "60"}}), 1);
  EXPECT_EQ(p.value("fedgw_transaction_duration_seconds_bucket", {{"le", "+Inf"}}), 2);
  EXPECT_EQ(p.value("fedgw_transaction_duration_seconds_count", {}), 2);
  EXPECT_DOUBLE_EQ(p.value("fedgw_transaction_duration_seconds_sum", {}), 90.02);
  EXPECT_EQ(p.value("fedgw_dns_query_duration_seconds_bucket", {{"type", "SRV"}, {"le", "0.0025"}}), 1);
  EXPECT_EQ(p.value("fedgw_dns_query_duration_seconds_bucket", {{"type", "SRV"}, {"le", "0.001"}}), 0);
}

TEST(Metrics, NoLabelValueIsADomainAddressOrUserWithoutAnAllowList) {
  auto d = sample_data();  // the registry knows b.test and discovered.test; nothing is allow-listed
  parsed p(render(d));
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  static const std::regex unbounded(".*(\\.test|@|[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+).*");
  for (const auto& s : p.samples)
    for (const auto& [k, v] : s.labels)
      if (k != "le" && k != "version") EXPECT_FALSE(std::regex_match(v, unbounded)) << s.name << " " << k << "=" << v;
  EXPECT_FALSE(p.types.count("fedgw_allowed_partner_up"));
}

TEST(Metrics, ProcessStatsFromProc) {
  auto p = read_process_stats();
  ASSERT_TRUE(p.ok);
  EXPECT_GT(p.resident_bytes, 0u);
  EXPECT_GE(p.open_fds, 3u);  // stdin, stdout, stderr
  EXPECT_GE(p.max_fds, p.open_fds);
  EXPECT_GT(p.start_time_seconds, 1.6e9);
  EXPECT_GE(p.cpu_seconds, 0.0);
}

}  // namespace
}  // namespace fedgw::metrics
