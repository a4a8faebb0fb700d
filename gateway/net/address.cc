#include "gateway/net/address.h"

#include <arpa/inet.h>

#include <charconv>

namespace fedgw::net {

namespace {
template <int Family, typename Buf>
bool parses_as(std::string_view text) {
  if (text.empty() || text.size() > 45) return false;
  std::string s(text);
  Buf buf;
  return inet_pton(Family, s.c_str(), &buf) == 1;
}
}  // namespace

bool is_ipv4(std::string_view text) { return parses_as<AF_INET, in_addr>(text); }
bool is_ipv6(std::string_view text) { return parses_as<AF_INET6, in6_addr>(text); }

namespace {
bool is_dns_name(std::string_view text, bool allow_underscore) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty() || text.size() > 253) return false;
  size_t label = 0;
  char prev = '.';
  for (char c : text) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c == '-' && label > 0) || (c == '_' && allow_underscore)) {
      if (++label > 63) return false;
    } else {
      return false;
    }
    prev = c;
  }
  return prev != '-';
}
}  // namespace

bool is_hostname(std::string_view text) { return is_dns_name(text, false); }
bool is_srv_owner_name(std::string_view text) { return is_dns_name(text, true); }

std::string endpoint::to_string() const {
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

std::optional<endpoint> parse_endpoint(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!is_ipv6(host)) return std::nullopt;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (!is_ipv4(host)) return std::nullopt;
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || !is_valid_port(value))
    return std::nullopt;
  return endpoint{std::string(host), static_cast<uint16_t>(value)};
}

}  // namespace fedgw::net

namespace fedgw::net {

namespace {

// The address bytes of a textual IP: (family, 4 or 16 bytes).
bool address_bytes(std::string_view text, int& family, unsigned char* out) {
  std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out) == 1) {
    family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out) == 1) {
    family = AF_INET6;
    return true;
  }
  return false;
}

}  // namespace

std::optional<prefix> parse_prefix(std::string_view text) {
  prefix p;
  auto slash = text.find('/');
  if (!address_bytes(text.substr(0, slash), p.family, p.bytes)) return std::nullopt;
  unsigned max_bits = p.family == AF_INET ? 32 : 128;
  p.bits = max_bits;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    unsigned bits = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      bits = bits * 10 + static_cast<unsigned>(c - '0');
    }
    if (bits > max_bits) return std::nullopt;
    p.bits = bits;
  }
  return p;
}

bool prefix::contains(std::string_view ip) const {
  int f = 0;
  unsigned char b[16] = {};
  if (!address_bytes(ip, f, b) || f != family) return false;
  unsigned full = bits / 8, rest = bits % 8;
  for (unsigned i = 0; i < full; ++i)
    if (b[i] != bytes[i]) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (b[full] & mask) == (bytes[full] & mask);
}

}  // namespace fedgw::net
