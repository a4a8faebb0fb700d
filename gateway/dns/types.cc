#include "gateway/dns/types.h"

#include <algorithm>

namespace fedgw::dns {

const char* type_name(rr_type type) {
  switch (type) {
    case rr_type::a: return "A";
    case rr_type::aaaa: return "AAAA";
    case rr_type::srv: return "SRV";
  }
  return "?";
}

const char* outcome_name(outcome result) {
  switch (result) {
    case outcome::ok: return "OK";
    case outcome::no_service: return "no service (SRV target \".\")";
    case outcome::nxdomain: return "NXDOMAIN";
    case outcome::nodata: return "NODATA";
    case outcome::timeout: return "timeout";
    case outcome::server_failure: return "server failure";
    case outcome::bad_answer: return "malformed answer";
    case outcome::error: return "error";
  }
  return "?";
}

const char* source_name(source from) {
  switch (from) {
    case source::dns: return "dns";
    case source::coalesced: return "dns, coalesced";
    case source::cache: return "cache";
    case source::static_config: return "static config";
  }
  return "?";
}

const char* transport_name(transport t) { return t == transport::tcp ? "TCP" : "TLS"; }

const char* resolve_status_name(resolve_status s) {
  switch (s) {
    case resolve_status::ok: return "ok";
    case resolve_status::no_record: return "no federation record";
    case resolve_status::no_service: return "no service";
    case resolve_status::no_address: return "no address";
    case resolve_status::dns_failure: return "DNS failure";
  }
  return "?";
}

query_report make_report(const std::string& name, rr_type type, const answer& a, source from) {
  query_report q;
  q.name = name;
  q.type = type;
  q.result = a.result;
  q.from = from;
  q.records = type == rr_type::srv ? a.srv.size() : a.addresses.size();
  q.ttl = a.ttl;
  std::string s = "DNS: " + name + " " + type_name(type) + ": ";
  if (a.result == outcome::ok) {
    s += std::to_string(q.records) + (q.records == 1 ? " record" : " records") + ", TTL " + std::to_string(a.ttl);
  } else if (!a.detail.empty()) {
    s += a.detail;
  } else {
    s += outcome_name(a.result);
  }
  if (from != source::dns) s += std::string(" (") + source_name(from) + ")";
  q.text = std::move(s);
  return q;
}

bool target::all_unreachable() const {
  return !addresses.empty() &&
         std::all_of(addresses.begin(), addresses.end(), [](const target_address& a) { return a.unreachable; });
}

}  // namespace fedgw::dns
