// "Log this once per key and period": status-log entries about refusals and
// limits must not flood the 30-entry message window. Keys may come from peers
// (domains, addresses), so the table is bounded: past `max_keys` entries, the
// ones older than a period are dropped, and if all are fresh, the new key
// shares one overflow slot.
#pragma once

#include <chrono>
#include <string>
#include <unordered_map>

namespace fedgw::proxy {

class log_throttle {
 public:
  using clock = std::chrono::steady_clock;

  explicit log_throttle(std::chrono::seconds period = std::chrono::seconds(60), size_t max_keys = 1024)
    : period_(period), max_keys_(max_keys) {}

  // True when an entry for `key` should be written now.
  bool allow(const std::string& key, clock::time_point now) {
    auto it = last_.find(key);
    if (it == last_.end()) {
      if (last_.size() >= max_keys_) prune(now);
      if (last_.size() >= max_keys_) it = last_.try_emplace(std::string(overflow_key), clock::time_point{}).first;
      else it = last_.emplace(key, clock::time_point{}).first;
    }
    if (it->second != clock::time_point{} && now - it->second < period_) return false;
    it->second = now;
    return true;
  }

  size_t size() const { return last_.size(); }

 private:
  static constexpr const char* overflow_key = "\n(overflow)";

  void prune(clock::time_point now) {
    for (auto it = last_.begin(); it != last_.end();)
      it = now - it->second >= period_ ? last_.erase(it) : std::next(it);
  }

  std::chrono::seconds period_;
  size_t max_keys_;
  std::unordered_map<std::string, clock::time_point> last_;
};

}  // namespace fedgw::proxy
