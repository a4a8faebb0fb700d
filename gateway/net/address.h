// Textual IP addresses and endpoints, shared by config validation, DNS and sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fedgw::net {

// True for a literal IPv4 (dotted quad) or IPv6 address (no brackets).
bool is_ipv4(std::string_view text);
bool is_ipv6(std::string_view text);
inline bool is_ip(std::string_view text) { return is_ipv4(text) || is_ipv6(text); }

// A DNS host name: labels of letters, digits and '-', 1..63 chars each, 253 in all.
bool is_hostname(std::string_view text);
// Like is_hostname, but labels may contain '_' (_sips._tcp.example.com).
bool is_srv_owner_name(std::string_view text);

struct endpoint {
  std::string ip;  // without brackets
  uint16_t port = 0;
  // "1.2.3.4:5060" or "[::1]:5060".
  std::string to_string() const;
};

// Parses "ip:port" or "[ipv6]:port"; nullopt when malformed or port not 1..65535.
std::optional<endpoint> parse_endpoint(std::string_view text);

// An address block "10.0.0.0/8", "fd00::/8"; a bare address is a block of one.
struct prefix {
  int family = 0;  // AF_INET or AF_INET6
  unsigned char bytes[16] = {};
  unsigned bits = 0;
  // True when `ip` (textual, without brackets) lies in the block.
  bool contains(std::string_view ip) const;
};
std::optional<prefix> parse_prefix(std::string_view text);

inline bool is_valid_port(uint64_t port) { return port >= 1 && port <= 65535; }

}  // namespace fedgw::net
