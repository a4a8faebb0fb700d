#include "gateway/dns/selection.h"

#include <algorithm>
#include <memory>
#include <random>

namespace fedgw::dns {

random_source make_random_source(uint64_t seed) {
  if (seed == 0) seed = (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  auto engine = std::make_shared<std::mt19937_64>(seed);
  return [engine](uint32_t bound) {
    return std::uniform_int_distribution<uint32_t>(0, bound)(*engine);
  };
}

std::vector<srv_record> order_srv(std::vector<srv_record> records, const random_source& random) {
  records.erase(std::remove_if(records.begin(), records.end(),
                               [](const srv_record& r) { return r.target == "." || r.target.empty(); }),
                records.end());
  std::stable_sort(records.begin(), records.end(),
                   [](const srv_record& a, const srv_record& b) { return a.priority < b.priority; });
  std::vector<srv_record> out;
  out.reserve(records.size());
  auto begin = records.begin();
  while (begin != records.end()) {
    auto end = std::find_if(begin, records.end(),
                            [&](const srv_record& r) { return r.priority != begin->priority; });
    // Zero weights first, DNS order otherwise kept.
    std::stable_partition(begin, end, [](const srv_record& r) { return r.weight == 0; });
    std::vector<srv_record> group(std::make_move_iterator(begin), std::make_move_iterator(end));
    while (!group.empty()) {
      uint32_t sum = 0;
      for (const auto& r : group) sum += r.weight;  // <= 65535 * 65535 < 2^32
      uint32_t draw = random(sum);
      uint32_t running = 0;
      size_t pick = group.size() - 1;
      for (size_t i = 0; i < group.size(); ++i) {
        running += group[i].weight;
        if (running >= draw) {
          pick = i;
          break;
        }
      }
      out.push_back(std::move(group[pick]));
      group.erase(group.begin() + static_cast<std::ptrdiff_t>(pick));
    }
    begin = end;
  }
  return out;
}

std::vector<address_record> order_addresses(const std::vector<address_record>& v4,
                                            const std::vector<address_record>& v6) {
  std::vector<address_record> out;
  out.reserve(v4.size() + v6.size());
  for (size_t i = 0; i < std::max(v4.size(), v6.size()); ++i) {
    if (i < v6.size()) out.push_back(v6[i]);
    if (i < v4.size()) out.push_back(v4[i]);
  }
  return out;
}

std::vector<target_address> flag_unreachable(const std::vector<address_record>& ordered,
                                             const std::function<bool(const std::string& ip)>& unreachable) {
  std::vector<target_address> out;
  out.reserve(ordered.size());
  for (const auto& a : ordered) out.push_back(target_address{a.ip, a.ipv6, unreachable && unreachable(a.ip)});
  std::stable_partition(out.begin(), out.end(), [](const target_address& a) { return !a.unreachable; });
  return out;
}

void unreachable_targets_last(std::vector<target>& targets) {
  std::stable_partition(targets.begin(), targets.end(),
                        [](const target& t) { return !t.all_unreachable(); });
}

}  // namespace fedgw::dns
