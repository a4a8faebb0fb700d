// The proxy core's plain helpers: how many shards a gateway runs and which one takes a request.
#include "actors/proxy_core.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace fedgw {
namespace {

TEST(ProxyCoreShards, OnePerTwoWorkersAndAtLeastOne) {
  EXPECT_EQ(proxy_core_shards(0), 1u);
  EXPECT_EQ(proxy_core_shards(1), 1u);
  EXPECT_EQ(proxy_core_shards(2), 1u);
  EXPECT_EQ(proxy_core_shards(3), 2u);
  EXPECT_EQ(proxy_core_shards(4), 2u);
  EXPECT_EQ(proxy_core_shards(8), 4u);
  EXPECT_EQ(proxy_core_shards(64), 32u);
}

TEST(DialogFlowsPerShard, HundredThousandPerWorkerWhateverTheShards) {
  EXPECT_EQ(dialog_flows_per_shard(0), 100000u);
  EXPECT_EQ(dialog_flows_per_shard(1), 100000u);
  EXPECT_EQ(dialog_flows_per_shard(2), 200000u);  // one shard for both workers
  EXPECT_EQ(dialog_flows_per_shard(3), 150000u);
  EXPECT_EQ(dialog_flows_per_shard(8), 200000u);
  for (size_t workers = 1; workers <= 64; ++workers) {
    size_t total = dialog_flows_per_shard(workers) * proxy_core_shards(workers);
    EXPECT_GE(total, 100000 * workers) << workers;
    EXPECT_LT(total, 100000 * workers + proxy_core_shards(workers)) << workers;  // rounded up, no more
  }
}

TEST(ShardForCall, StableAndInRange) {
  EXPECT_EQ(shard_for_call("any", 0), 0u);
  EXPECT_EQ(shard_for_call("any", 1), 0u);
  std::set<size_t> used;
  for (int i = 0; i < 1000; ++i) {
    auto call_id = "call-" + std::to_string(i) + "@a.test";
    auto shard = shard_for_call(call_id, 4);
    ASSERT_LT(shard, 4u);
    EXPECT_EQ(shard_for_call(call_id, 4), shard) << call_id;  // every request of a call on the same shard
    used.insert(shard);
  }
  EXPECT_EQ(used.size(), 4u);  // the calls spread over all shards
}

}  // namespace
}  // namespace fedgw
