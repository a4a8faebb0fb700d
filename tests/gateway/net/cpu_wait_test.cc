// net::cpu_wait_meter and the schedstat reading behind it (gateway/net/cpu_wait.h).
#include "gateway/net/cpu_wait.h"
#include "tests/gateway/net/core_hogs.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace fedgw::net {
namespace {

using namespace std::chrono_literals;
using clock = cpu_wait_meter::clock;

TEST(ParseSchedstat, ReadsTheTimeOnACpuAndTheTimeWaitingForOne) {
  auto t = parse_schedstat("1234567 890123 45\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->ran_ns, 1234567u);
  EXPECT_EQ(t->waited_ns, 890123u);
  ASSERT_TRUE(parse_schedstat("0 0 0"));
  EXPECT_EQ(parse_schedstat("5 18446744073709551 7")->waited_ns, 18446744073709551u);
}

TEST(ParseSchedstat, RefusesWhatIsNotASchedstatLine) {
  EXPECT_FALSE(parse_schedstat(""));
  EXPECT_FALSE(parse_schedstat("1234"));
  EXPECT_FALSE(parse_schedstat("1234 "));
  EXPECT_FALSE(parse_schedstat(" 1 2 3"));
  EXPECT_FALSE(parse_schedstat("1 -2 3"));
  EXPECT_FALSE(parse_schedstat("1 2x 3"));
  EXPECT_FALSE(parse_schedstat("1 99999999999999999999999 3"));  // more than 64 bits
}

TEST(ThreadCpuTimes, NeverGoBack) {
  auto first = thread_cpu_times();
  if (!first) GTEST_SKIP() << "this kernel keeps no schedstat";
  auto until = clock::now() + 5ms;
  while (clock::now() < until) {
  }
  auto second = thread_cpu_times();
  ASSERT_TRUE(second);
  EXPECT_GE(second->waited_ns, first->waited_ns);
  EXPECT_GT(second->ran_ns, first->ran_ns);
}

// More runnable threads than cores: a thread that spins among them waits for a CPU much of the time it wants one.
TEST(ThreadCpuTimes, TheWaitGrowsWhileOtherThreadsTakeEveryCore) {
  if (!thread_cpu_times()) GTEST_SKIP() << "this kernel keeps no schedstat";
  cpu_times before, after;
  {
    test::core_hogs hogs(10s);
    before = *thread_cpu_times();
    auto until = clock::now() + 300ms;
    while (clock::now() < until) {
    }
    after = *thread_cpu_times();
  }
  uint64_t waited = after.waited_ns - before.waited_ns;
  uint64_t runnable = after.ran_ns - before.ran_ns + waited;
  EXPECT_GT(waited * 10, runnable) << "waited " << waited << " of " << runnable << " ns runnable among the spinners";
}

cpu_times at(uint64_t ran_ms, uint64_t waited_ms) { return {ran_ms * 1'000'000, waited_ms * 1'000'000}; }

TEST(CpuWaitMeter, TheFirstSampleAndTooShortWindowsGiveNoVerdict) {
  cpu_wait_meter meter;  // windows of 100 ms wall time and 20 ms runnable
  auto t0 = clock::now();
  EXPECT_TRUE(meter.due(t0));
  EXPECT_FALSE(meter.sample(t0, at(10, 1)));
  EXPECT_FALSE(meter.due(t0 + 99ms));
  EXPECT_FALSE(meter.sample(t0 + 99ms, at(50, 60)));  // waited most of the time, but under 100 ms of window
  EXPECT_FALSE(meter.busy());
  EXPECT_TRUE(meter.due(t0 + 100ms));
  EXPECT_TRUE(meter.sample(t0 + 100ms, at(70, 21)));  // 20 of 80 ms runnable: 25 %
  EXPECT_TRUE(meter.busy());
}

TEST(CpuWaitMeter, TimeAsleepCountsForNothing) {
  cpu_wait_meter meter;
  auto t = clock::now();
  meter.sample(t, at(0, 0));
  EXPECT_TRUE(meter.sample(t + 100ms, at(60, 30)));  // 30 of 90 ms
  EXPECT_TRUE(meter.busy());
  // 1 s later, of which it slept 980 ms: ran 15 ms, waited 5 ms: a quarter of its runnable time
  EXPECT_TRUE(meter.sample(t + 1100ms, at(75, 35)));
  EXPECT_TRUE(meter.busy());
  // too little runnable time for a verdict, however long the window
  EXPECT_FALSE(meter.sample(t + 5s, at(85, 35)));
  EXPECT_TRUE(meter.sample(t + 6s, at(120, 35)));  // 45 ms ran, none waited
  EXPECT_FALSE(meter.busy());
}

TEST(CpuWaitMeter, BusyAboveATenthFreeBelowThreePercentUnchangedBetween) {
  cpu_wait_meter meter;
  auto t = clock::now();
  cpu_times times;
  meter.sample(t, times);
  auto window = [&](double share) {  // 100 ms runnable, `share` of it waiting
    t += 100ms;
    times.waited_ns += static_cast<uint64_t>(share * 100'000'000);
    times.ran_ns += static_cast<uint64_t>((1 - share) * 100'000'000);
    EXPECT_TRUE(meter.sample(t, times));
    return meter.busy();
  };
  EXPECT_FALSE(window(0.09));
  EXPECT_TRUE(window(0.11));
  EXPECT_TRUE(window(0.05));  // between the two: stays busy
  EXPECT_FALSE(window(0.02));
  EXPECT_FALSE(window(0.05));  // stays free
  EXPECT_TRUE(window(0.5));
}

TEST(CpuWaitMeter, ACounterThatGoesBackStartsANewWindow) {
  cpu_wait_meter meter;
  auto t = clock::now();
  meter.sample(t, at(100, 50));
  EXPECT_TRUE(meter.sample(t + 100ms, at(160, 90)));  // 40 of 100
  EXPECT_TRUE(meter.busy());
  EXPECT_FALSE(meter.sample(t + 200ms, at(1, 0)));  // another thread's counters, or a reset: no verdict
  EXPECT_TRUE(meter.busy());
  EXPECT_TRUE(meter.sample(t + 300ms, at(100, 0)));  // 0 %
  EXPECT_FALSE(meter.busy());
}

TEST(CpuWaitMeter, OptionsSetTheWindowAndTheThresholds) {
  cpu_wait_meter meter({.every = 5ms, .min_runnable = 1ms, .busy_above = 0.5, .free_below = 0.2});
  auto t = clock::now();
  meter.sample(t, at(0, 0));
  EXPECT_TRUE(meter.sample(t + 5ms, at(3, 2)));  // 40 %: not busy yet
  EXPECT_FALSE(meter.busy());
  EXPECT_TRUE(meter.sample(t + 10ms, at(5, 5)));  // 60 %
  EXPECT_TRUE(meter.busy());
}

}  // namespace
}  // namespace fedgw::net
