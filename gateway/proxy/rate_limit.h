// Per-partner rate limit: a token bucket refilled at `rate` tokens per second,
// holding at most one second's worth (bursts up to `rate`).
#pragma once

#include <algorithm>
#include <cstdint>

namespace fedgw::proxy {

struct token_bucket {
  double tokens = 0;
  int64_t at_ms = 0;  // 0: never used (starts full)

  bool take(double rate, int64_t now_ms) {
    if (at_ms == 0) tokens = rate;
    tokens = std::min(rate, tokens + static_cast<double>(now_ms - at_ms) * rate / 1000.0);
    at_ms = now_ms;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }
};

}  // namespace fedgw::proxy

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "gateway/proxy/log_throttle.h"

namespace fedgw::proxy {

// The inbound discovered-partner limit, shared by all of a partner's
// connections and keyed by its certificate identity (not by the From domain
// it writes). Bounded: buckets idle for a minute are dropped once the table
// holds `max_partners` (the gateway sizes it to limits.max_connections, one
// active partner per connection at most).
class partner_rate_limiter {
 public:
  using clock = std::chrono::steady_clock;
  enum class verdict { allowed, over_rate, table_full };
  explicit partner_rate_limiter(size_t max_partners = 4096) : max_partners_(max_partners) {}

  verdict take(const std::string& partner, double rate, clock::time_point now) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() + 1;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = buckets_.find(partner);
    if (it == buckets_.end()) {
      if (buckets_.size() >= max_partners_)
        for (auto b = buckets_.begin(); b != buckets_.end();)
          b = ms - b->second.at_ms > 60000 ? buckets_.erase(b) : std::next(b);
      if (buckets_.size() >= max_partners_) return verdict::table_full;  // full of active partners: refuse newcomers
      it = buckets_.emplace(partner, token_bucket{}).first;
    }
    return it->second.take(rate, ms) ? verdict::allowed : verdict::over_rate;
  }
  size_t capacity() const { return max_partners_; }
  // The status-log text of a refusal; `direction` is "from" (inbound) or "to" (outbound).
  std::string refusal_text(verdict v, const std::string& partner, uint32_t rate, const char* direction) const {
    if (v == verdict::over_rate)
      return partner + ": more than " + std::to_string(rate) + " requests/s " + direction +
             " a discovered partner; answering 503 (logged once a minute)";
    return partner + ": " + std::to_string(max_partners_) +
           " discovered partners were active within the last minute, the most the gateway tracks; "
           "answering 503 (list partners in partners.allowed to serve more; logged once a minute)";
  }
  bool should_log(const std::string& partner, clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    return logged_.allow(partner, now);
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return buckets_.size();
  }

 private:
  size_t max_partners_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, token_bucket> buckets_;
  log_throttle logged_;
};

}  // namespace fedgw::proxy
