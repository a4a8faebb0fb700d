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
