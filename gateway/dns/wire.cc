#include "gateway/dns/wire.h"

#include <ares.h>
#include <arpa/inet.h>

#include <algorithm>
#include <limits>

namespace fedgw::dns {

namespace {

constexpr size_t header_size = 12;
constexpr uint16_t type_cname = 5;
constexpr uint16_t type_soa = 6;
constexpr uint16_t class_in = 1;

uint16_t get16(const unsigned char* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t get32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// A reader over one message; every accessor checks bounds.
struct reader {
  const unsigned char* msg;
  size_t size;
  size_t pos = header_size;
  std::string error;

  bool fail(std::string why) {
    if (error.empty()) error = std::move(why);
    return false;
  }
  // Reads a (possibly compressed) name at pos and moves past it.
  bool name(std::string& out) {
    if (pos >= size) return fail("name beyond the end of the message");
    char* expanded = nullptr;
    long consumed = 0;
    int rc = ares_expand_name(msg + pos, msg, static_cast<int>(size), &expanded, &consumed);
    if (rc != ARES_SUCCESS) return fail("malformed name");
    out = expanded;
    ares_free_string(expanded);
    pos += static_cast<size_t>(consumed);
    return true;
  }
  // A name inside RDATA: must not run past rdata_end.
  bool name_within(std::string& out, size_t rdata_end) {
    if (!name(out)) return false;
    return pos <= rdata_end || fail("name runs past its record");
  }
  bool need(size_t n) { return pos + n <= size || fail("truncated record"); }
};

// The SRV "no service" answer: a single record whose target is the root.
bool is_root(const std::string& name) { return name.empty() || name == "."; }

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

}  // namespace

answer parse_response(const unsigned char* data, size_t size, rr_type type) {
  answer out;
  out.result = outcome::bad_answer;
  if (data == nullptr || size < header_size) {
    out.detail = "answer shorter than a DNS header";
    return out;
  }
  uint16_t flags = get16(data + 2);
  uint16_t qdcount = get16(data + 4), ancount = get16(data + 6), nscount = get16(data + 8);
  if (!(flags & 0x8000)) {
    out.detail = "not a response";
    return out;
  }
  unsigned rcode = flags & 0x0f;
  reader r{data, size, header_size, {}};
  for (uint16_t i = 0; i < qdcount; ++i) {
    std::string qname;
    if (!r.name(qname) || !r.need(4)) {
      out.detail = r.error;
      return out;
    }
    r.pos += 4;
  }
  uint32_t min_ttl = std::numeric_limits<uint32_t>::max();
  bool any_answer = false;
  // Answer and authority sections.
  for (uint32_t i = 0; i < uint32_t{ancount} + nscount; ++i) {
    bool authority = i >= ancount;
    std::string owner;
    if (!r.name(owner) || !r.need(10)) {
      out.detail = r.error;
      return out;
    }
    uint16_t rtype = get16(data + r.pos), rclass = get16(data + r.pos + 2);
    uint32_t ttl = get32(data + r.pos + 4);
    if (ttl > 0x7fffffffu) ttl = 0;  // RFC 2181 §8: treat as zero
    uint16_t rdlength = get16(data + r.pos + 8);
    r.pos += 10;
    if (!r.need(rdlength)) {
      out.detail = r.error;
      return out;
    }
    size_t rdata = r.pos, rdata_end = r.pos + rdlength;
    if (rclass == class_in && !authority) {
      if (rtype == static_cast<uint16_t>(type) || rtype == type_cname) {
        min_ttl = std::min(min_ttl, ttl);
        any_answer = true;
      }
      if (rtype == static_cast<uint16_t>(type)) {
        if (type == rr_type::srv) {
          if (rdlength < 7) {
            out.detail = "SRV record too short";
            return out;
          }
          srv_record srv;
          srv.priority = get16(data + rdata);
          srv.weight = get16(data + rdata + 2);
          srv.port = get16(data + rdata + 4);
          srv.ttl = ttl;
          r.pos = rdata + 6;
          if (!r.name_within(srv.target, rdata_end)) {
            out.detail = "SRV record: " + r.error;
            return out;
          }
          srv.target = is_root(srv.target) ? "." : lower(srv.target);
          out.srv.push_back(std::move(srv));
        } else {
          bool v6 = type == rr_type::aaaa;
          if (rdlength != (v6 ? 16 : 4)) {
            out.detail = std::string(v6 ? "AAAA" : "A") + " record of wrong length";
            return out;
          }
          char text[INET6_ADDRSTRLEN] = {};
          inet_ntop(v6 ? AF_INET6 : AF_INET, data + rdata, text, sizeof text);
          out.addresses.push_back(address_record{text, v6, ttl});
        }
      }
    } else if (rclass == class_in && authority && rtype == type_soa) {
      // MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM.
      std::string mname, rname;
      r.pos = rdata;
      if (!r.name_within(mname, rdata_end) || !r.name_within(rname, rdata_end) ||
          r.pos + 20 > rdata_end) {
        out.detail = "SOA record: " + (r.error.empty() ? std::string("too short") : r.error);
        return out;
      }
      uint32_t minimum = get32(data + r.pos + 16);
      uint32_t neg = std::min(ttl, minimum);
      out.ttl = out.has_soa ? std::min(out.ttl, neg) : neg;
      out.has_soa = true;
    }
    r.pos = rdata_end;
  }

  switch (rcode) {
    case 0: break;
    case 3: out.result = outcome::nxdomain; out.srv.clear(); out.addresses.clear(); return out;
    case 2: out.result = outcome::server_failure; out.detail = "SERVFAIL"; return out;
    case 5: out.result = outcome::server_failure; out.detail = "REFUSED"; return out;
    case 4: out.result = outcome::server_failure; out.detail = "NOTIMP"; return out;
    default:
      out.result = outcome::server_failure;
      out.detail = "RCODE " + std::to_string(rcode);
      return out;
  }
  bool has_records = type == rr_type::srv ? !out.srv.empty() : !out.addresses.empty();
  if (!has_records) {
    out.result = outcome::nodata;
    return out;
  }
  out.has_soa = false;
  out.ttl = any_answer ? min_ttl : 0;
  if (type == rr_type::srv && out.srv.size() == 1 && out.srv.front().target == ".") {
    out.result = outcome::no_service;
    return out;
  }
  // A "." among real targets is meaningless (RFC 2782); drop it.
  out.srv.erase(std::remove_if(out.srv.begin(), out.srv.end(),
                               [](const srv_record& s) { return s.target == "."; }),
                out.srv.end());
  out.result = outcome::ok;
  return out;
}

}  // namespace fedgw::dns
