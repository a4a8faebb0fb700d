// The machine's network interfaces, to choose bind addresses from.
#pragma once

#include <string>
#include <vector>

namespace fedgw::net {

struct interface_info {
  std::string name;
  std::vector<std::string> addresses;  // IPv4 and IPv6, textual
  bool up = false;
  bool loopback = false;
};

std::vector<interface_info> list_interfaces();

// True when `ip` is assigned to one of this machine's interfaces (or is a wildcard).
bool is_local_address(const std::string& ip);

}  // namespace fedgw::net
