#include "gateway/dns/selection.h"

#include <gtest/gtest.h>

#include <map>

namespace fedgw::dns {
namespace {

srv_record rec(uint16_t priority, uint16_t weight, std::string target, uint16_t port = 5061) {
  return srv_record{priority, weight, port, std::move(target), 300};
}

std::vector<std::string> targets(const std::vector<srv_record>& v) {
  std::vector<std::string> out;
  for (const auto& r : v) out.push_back(r.target);
  return out;
}

// Chi-square statistic of observed counts against expected probabilities.
double chi_square(const std::map<std::string, int>& observed, const std::map<std::string, double>& p, int n) {
  double chi = 0;
  for (const auto& [key, prob] : p) {
    double expected = prob * n;
    auto it = observed.find(key);
    double o = it == observed.end() ? 0 : it->second;
    chi += (o - expected) * (o - expected) / expected;
  }
  return chi;
}

TEST(SrvOrder, LowestPriorityFirstWhateverTheWeights) {
  auto random = make_random_source(1);
  for (int i = 0; i < 200; ++i) {
    auto out = order_srv({rec(30, 100, "c"), rec(10, 1, "a"), rec(20, 65535, "b")}, random);
    ASSERT_EQ(targets(out), (std::vector<std::string>{"a", "b", "c"}));
  }
}

TEST(SrvOrder, FollowsTheRfcDrawExactly) {
  // Running sums 10, 30: a draw of 10 picks the first, 11 the second.
  std::vector<uint32_t> draws{10, 0};
  size_t next = 0;
  std::vector<uint32_t> bounds;
  random_source scripted = [&](uint32_t bound) {
    bounds.push_back(bound);
    return draws[next++];
  };
  auto out = order_srv({rec(0, 10, "a"), rec(0, 20, "b")}, scripted);
  EXPECT_EQ(targets(out), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(bounds, (std::vector<uint32_t>{30, 20}));  // inclusive bound = sum of the remaining weights

  draws = {11, 0};
  next = 0;
  bounds.clear();
  out = order_srv({rec(0, 10, "a"), rec(0, 20, "b")}, scripted);
  EXPECT_EQ(targets(out), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(bounds, (std::vector<uint32_t>{30, 10}));
}

TEST(SrvOrder, ZeroWeightComesFirstInTheListAndWinsOnlyOnDrawZero) {
  std::vector<uint32_t> draws{0, 0};
  size_t next = 0;
  random_source scripted = [&](uint32_t) { return draws[next++]; };
  auto out = order_srv({rec(0, 10, "heavy"), rec(0, 0, "zero")}, scripted);
  EXPECT_EQ(targets(out), (std::vector<std::string>{"zero", "heavy"}));
  draws = {1, 0};
  next = 0;
  out = order_srv({rec(0, 10, "heavy"), rec(0, 0, "zero")}, scripted);
  EXPECT_EQ(targets(out), (std::vector<std::string>{"heavy", "zero"}));
}

TEST(SrvOrder, WeightedDistributionOfTheFirstPick) {
  // Weights 60/30/10 with draws 0..100: P(first) = 61/101, 30/101, 10/101.
  auto random = make_random_source(42);
  const int n = 6000;
  std::map<std::string, int> first;
  std::map<std::string, int> second_after_a;
  int after_a = 0;
  for (int i = 0; i < n; ++i) {
    auto out = order_srv({rec(5, 60, "a"), rec(5, 30, "b"), rec(5, 10, "c")}, random);
    ASSERT_EQ(out.size(), 3u);
    ++first[out[0].target];
    if (out[0].target == "a") {
      ++after_a;
      ++second_after_a[out[1].target];
    }
  }
  // df = 2: 13.82 is the 0.1% critical value.
  double chi = chi_square(first, {{"a", 61.0 / 101}, {"b", 30.0 / 101}, {"c", 10.0 / 101}}, n);
  EXPECT_LT(chi, 13.82) << "a=" << first["a"] << " b=" << first["b"] << " c=" << first["c"];
  // Once a is taken: weights 30/10, draws 0..40: P(b) = 31/41 (df = 1: 10.83).
  double chi2 = chi_square(second_after_a, {{"b", 31.0 / 41}, {"c", 10.0 / 41}}, after_a);
  EXPECT_LT(chi2, 10.83);
  // And a uniform choice would fail the test above: the statistic has power.
  std::map<std::string, int> uniform{{"a", n / 3}, {"b", n / 3}, {"c", n / 3}};
  EXPECT_GT(chi_square(uniform, {{"a", 61.0 / 101}, {"b", 30.0 / 101}, {"c", 10.0 / 101}}, n), 100);
}

TEST(SrvOrder, ZeroWeightGetsASmallChance) {
  auto random = make_random_source(7);
  const int n = 11000;
  std::map<std::string, int> first;
  for (int i = 0; i < n; ++i) ++first[order_srv({rec(0, 10, "w"), rec(0, 0, "z")}, random)[0].target];
  // z is picked only on a draw of 0 out of 0..10.
  EXPECT_LT(chi_square(first, {{"z", 1.0 / 11}, {"w", 10.0 / 11}}, n), 10.83) << first["z"];
  EXPECT_GT(first["z"], 0);
}

TEST(SrvOrder, AllZeroWeightsKeepDnsOrderAndDotIsDropped) {
  auto random = make_random_source(3);
  auto out = order_srv({rec(1, 0, "x"), rec(1, 0, "y"), rec(1, 0, "."), rec(0, 0, "w")}, random);
  EXPECT_EQ(targets(out), (std::vector<std::string>{"w", "x", "y"}));
}

TEST(AddressOrder, InterleavesIpv6FirstKeepingDnsOrder) {
  std::vector<address_record> v4{{"10.0.0.1", false, 1}, {"10.0.0.2", false, 1}, {"10.0.0.3", false, 1}};
  std::vector<address_record> v6{{"::1", true, 1}};
  auto out = order_addresses(v4, v6);
  std::vector<std::string> ips;
  for (auto& a : out) ips.push_back(a.ip);
  EXPECT_EQ(ips, (std::vector<std::string>{"::1", "10.0.0.1", "10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(order_addresses(v4, {}).size(), 3u);
  EXPECT_EQ(order_addresses({}, v6).front().ip, "::1");
}

TEST(AddressOrder, UnreachableAddressesGoLastFlagged) {
  std::vector<address_record> in{{"::1", true, 1}, {"10.0.0.1", false, 1}, {"10.0.0.2", false, 1}};
  auto out = flag_unreachable(in, [](const std::string& ip) { return ip == "::1"; });
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].ip, "10.0.0.1");
  EXPECT_FALSE(out[0].unreachable);
  EXPECT_EQ(out[2].ip, "::1");
  EXPECT_TRUE(out[2].unreachable);

  std::vector<target> ts(3);
  ts[0].host = "dead";
  ts[0].addresses = {{"1.1.1.1", false, true}};
  ts[1].host = "half";
  ts[1].addresses = {{"2.2.2.2", false, false}, {"3.3.3.3", false, true}};
  ts[2].host = "ok";
  ts[2].addresses = {{"4.4.4.4", false, false}};
  unreachable_targets_last(ts);
  EXPECT_EQ(ts[0].host, "half");
  EXPECT_EQ(ts[1].host, "ok");
  EXPECT_EQ(ts[2].host, "dead");
}

}  // namespace
}  // namespace fedgw::dns
