// Tables keyed by what peers choose are bounded: the log throttle and the
// partner rate limiter.
#include <gtest/gtest.h>

#include "gateway/proxy/log_throttle.h"
#include "gateway/proxy/rate_limit.h"

namespace fedgw::proxy {
namespace {

using namespace std::chrono_literals;
const auto t0 = std::chrono::steady_clock::time_point{} + 1000s;

TEST(LogThrottle, OncePerKeyAndPeriod) {
  log_throttle t(60s, 100);
  EXPECT_TRUE(t.allow("b.test", t0));
  EXPECT_FALSE(t.allow("b.test", t0 + 59s));
  EXPECT_TRUE(t.allow("c.test", t0 + 1s));
  EXPECT_TRUE(t.allow("b.test", t0 + 60s));
}

// Review E12: 200 requests with 200 From domains gave 202 log entries.
TEST(LogThrottle, ManyNewKeysShareOneOverflowSlot) {
  log_throttle t(60s, 10);
  int allowed = 0;
  for (int i = 0; i < 200; ++i) allowed += t.allow("d" + std::to_string(i) + ".test", t0 + std::chrono::milliseconds(i));
  EXPECT_EQ(allowed, 11);  // ten keys, then the overflow slot once
  EXPECT_LE(t.size(), 11u);
  // A period later old keys are pruned and new ones fit again.
  EXPECT_TRUE(t.allow("late.test", t0 + 120s));
  EXPECT_LE(t.size(), 11u);
}

TEST(PartnerRateLimiter, KeyedByPartnerAcrossConnections) {
  using verdict = partner_rate_limiter::verdict;
  partner_rate_limiter limiter;
  int ok = 0;
  for (int i = 0; i < 30; ++i) ok += limiter.take("b.test", 20, t0) == verdict::allowed;
  EXPECT_EQ(ok, 20);
  EXPECT_EQ(limiter.take("b.test", 20, t0), verdict::over_rate);
  EXPECT_EQ(limiter.take("c.test", 20, t0), verdict::allowed);  // another partner has its own bucket
  EXPECT_EQ(limiter.take("b.test", 20, t0 + 100ms), verdict::allowed);  // refilled at 20/s
}

TEST(PartnerRateLimiter, BoundedAndPrunedOfIdlePartners) {
  using verdict = partner_rate_limiter::verdict;
  partner_rate_limiter limiter(3);
  EXPECT_EQ(limiter.capacity(), 3u);
  EXPECT_EQ(limiter.take("a", 5, t0), verdict::allowed);
  EXPECT_EQ(limiter.take("b", 5, t0), verdict::allowed);
  EXPECT_EQ(limiter.take("c", 5, t0), verdict::allowed);
  // Full of active partners: newcomers are refused, and told apart from a partner over its rate.
  EXPECT_EQ(limiter.take("d", 5, t0 + 1s), verdict::table_full);
  EXPECT_EQ(limiter.take("d", 5, t0 + 62s), verdict::allowed) << "idle partners are pruned";
  EXPECT_LE(limiter.size(), 3u);
}

}  // namespace
}  // namespace fedgw::proxy
