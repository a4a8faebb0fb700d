// The partner connection of each dialog's latest request: found for the same
// dialog and domain only, refreshed by use, expired when idle, bounded.
#include "gateway/proxy/dialog_flows.h"

#include <gtest/gtest.h>

namespace fedgw::proxy {
namespace {

using namespace std::chrono_literals;
using flows = dialog_flows<int>;

TEST(DialogFlows, LatestConnectionOfTheDialogWins) {
  flows f(10, 60s);
  auto t0 = flows::clock::time_point{};
  f.remember("call-1", "b.test", 1, t0);
  EXPECT_EQ(f.find("call-1", "b.test", t0), 1);
  // The partner's next request of the dialog came on another connection (e.g. a second Kamailio connection).
  f.remember("call-1", "b.test", 2, t0 + 1s);
  EXPECT_EQ(f.find("call-1", "b.test", t0 + 2s), 2);
  EXPECT_EQ(f.size(), 1u);
}

TEST(DialogFlows, OnlyForTheSameDomain) {
  flows f(10, 60s);
  auto t0 = flows::clock::time_point{};
  f.remember("call-1", "b.test", 1, t0);
  EXPECT_FALSE(f.find("call-1", "c.test", t0));
  EXPECT_FALSE(f.find("call-2", "b.test", t0));
  // Another partner reusing the Call-ID does not redirect b.test's dialog.
  f.remember("call-1", "evil.test", 9, t0);
  EXPECT_EQ(f.find("call-1", "b.test", t0), 1);
}

TEST(DialogFlows, IdleEntriesExpireAndUseRefreshes) {
  flows f(10, 60s);
  auto t0 = flows::clock::time_point{};
  f.remember("call-1", "b.test", 1, t0);
  EXPECT_EQ(f.find("call-1", "b.test", t0 + 59s), 1);   // refreshed here
  EXPECT_EQ(f.find("call-1", "b.test", t0 + 118s), 1);  // 59 s after the last use
  EXPECT_FALSE(f.find("call-1", "b.test", t0 + 178s));  // 60 s idle
  EXPECT_EQ(f.size(), 0u);
}

TEST(DialogFlows, BoundedExpiredEntriesMakeRoom) {
  flows f(2, 60s);
  auto t0 = flows::clock::time_point{};
  f.remember("a", "b.test", 1, t0);
  f.remember("b", "b.test", 1, t0 + 30s);
  f.remember("c", "b.test", 1, t0 + 31s);  // full of live entries: not kept
  EXPECT_FALSE(f.find("c", "b.test", t0 + 31s));
  EXPECT_EQ(f.size(), 2u);
  f.remember("d", "b.test", 1, t0 + 61s);  // "a" expired: room made
  EXPECT_EQ(f.find("d", "b.test", t0 + 61s), 1);
  EXPECT_FALSE(f.find("a", "b.test", t0 + 61s));
  EXPECT_LE(f.size(), 2u);
}

TEST(DialogFlows, ConnectionGoneForgetsItsDialogs) {
  flows f(10, 60s);
  auto t0 = flows::clock::time_point{};
  f.remember("call-1", "b.test", 1, t0);
  f.remember("call-2", "b.test", 2, t0);
  f.forget_if([](int c) { return c == 1; });
  EXPECT_FALSE(f.find("call-1", "b.test", t0));
  EXPECT_EQ(f.find("call-2", "b.test", t0), 2);
}

}  // namespace
}  // namespace fedgw::proxy
