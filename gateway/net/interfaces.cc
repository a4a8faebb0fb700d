#include "gateway/net/interfaces.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>

namespace fedgw::net {

std::vector<interface_info> list_interfaces() {
  std::vector<interface_info> result;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return result;
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    auto found = std::find_if(result.begin(), result.end(),
                              [&](const interface_info& i) { return i.name == it->ifa_name; });
    if (found == result.end()) {
      result.push_back({it->ifa_name, {}, false, false});
      found = std::prev(result.end());
    }
    found->up = (it->ifa_flags & IFF_UP) != 0;
    found->loopback = (it->ifa_flags & IFF_LOOPBACK) != 0;
    if (it->ifa_addr == nullptr) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (it->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(it->ifa_addr)->sin_addr, text, sizeof text);
    } else if (it->ifa_addr->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(it->ifa_addr)->sin6_addr, text, sizeof text);
    } else {
      continue;
    }
    found->addresses.emplace_back(text);
  }
  freeifaddrs(list);
  return result;
}

bool is_local_address(const std::string& ip) {
  if (ip == "0.0.0.0" || ip == "::") return true;
  for (const auto& i : list_interfaces())
    for (const auto& a : i.addresses)
      if (a == ip) return true;
  // 127.0.0.0/8 is all local on Linux even though lo shows only 127.0.0.1.
  return ip.rfind("127.", 0) == 0;
}

}  // namespace fedgw::net
