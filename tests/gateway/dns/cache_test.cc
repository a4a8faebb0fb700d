#include "gateway/dns/cache.h"

#include <gtest/gtest.h>

namespace fedgw::dns {
namespace {

using std::chrono::seconds;

answer positive(uint32_t ttl) {
  answer a;
  a.result = outcome::ok;
  a.addresses = {{"10.0.0.1", false, ttl}};
  a.ttl = ttl;
  return a;
}

answer negative(outcome r, bool soa, uint32_t ttl) {
  answer a;
  a.result = r;
  a.has_soa = soa;
  a.ttl = ttl;
  return a;
}

TEST(AnswerCache, KeepsAnAnswerForItsTtlAndCountsItDown) {
  answer_cache cache;
  auto t0 = clock::now();
  cache.put("Sip.Example.COM.", rr_type::a, positive(5), t0);
  auto hit = cache.find("sip.example.com", rr_type::a, t0 + seconds(3));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->ttl, 2u);
  EXPECT_EQ(hit->addresses.at(0).ttl, 2u);
  EXPECT_FALSE(cache.find("sip.example.com", rr_type::aaaa, t0));  // type is part of the key
  EXPECT_FALSE(cache.find("sip.example.com", rr_type::a, t0 + seconds(5)));
}

TEST(AnswerCache, CeilingCapsLongTtls) {
  cache_options o;
  o.max_ttl_s = 10;
  answer_cache cache(o);
  auto t0 = clock::now();
  cache.put("x.test", rr_type::a, positive(86400), t0);
  EXPECT_TRUE(cache.find("x.test", rr_type::a, t0 + seconds(9)));
  EXPECT_FALSE(cache.find("x.test", rr_type::a, t0 + seconds(10)));
}

TEST(AnswerCache, NegativeTtlFromSoaOrDefault) {
  cache_options o;
  o.negative_default_s = 30;
  o.failure_ttl_s = 5;
  EXPECT_EQ(cache_ttl(negative(outcome::nxdomain, true, 7), o), 7u);
  EXPECT_EQ(cache_ttl(negative(outcome::nodata, true, 900), o), 900u);
  EXPECT_EQ(cache_ttl(negative(outcome::nxdomain, false, 0), o), 30u);
  EXPECT_EQ(cache_ttl(negative(outcome::timeout, false, 0), o), 5u);
  EXPECT_EQ(cache_ttl(negative(outcome::error, false, 0), o), 0u);  // a bad name is not cached
  o.max_ttl_s = 3;
  EXPECT_EQ(cache_ttl(negative(outcome::nodata, true, 900), o), 3u);
}

TEST(AnswerCache, ZeroCeilingCachesNothing) {
  cache_options o;
  o.max_ttl_s = 0;
  answer_cache cache(o);
  auto t0 = clock::now();
  cache.put("x.test", rr_type::a, positive(300), t0);
  cache.put("y.test", rr_type::a, negative(outcome::nxdomain, false, 0), t0);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.find("x.test", rr_type::a, t0));
}

TEST(AnswerCache, EvictsWhenFull) {
  cache_options o;
  o.max_entries = 3;
  answer_cache cache(o);
  auto t0 = clock::now();
  cache.put("short.test", rr_type::a, positive(1), t0);
  cache.put("b.test", rr_type::a, positive(100), t0);
  cache.put("c.test", rr_type::a, positive(100), t0);
  cache.put("d.test", rr_type::a, positive(100), t0);  // evicts the soonest to expire
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.find("short.test", rr_type::a, t0));
  EXPECT_TRUE(cache.find("d.test", rr_type::a, t0));
  cache.put("e.test", rr_type::a, positive(100), t0 + seconds(200));  // all expired: swept
  EXPECT_EQ(cache.size(), 1u);
}

TEST(UnreachableList, EntriesExpireOnTheirOwn) {
  unreachable_list list;
  auto t0 = clock::now();
  list.mark("10.0.0.1", 5061, t0 + seconds(2));
  list.mark("10.0.0.2", 5061, t0 + seconds(10));
  EXPECT_TRUE(list.contains("10.0.0.1", 5061, t0 + seconds(1)));
  EXPECT_FALSE(list.contains("10.0.0.1", 5062, t0));  // per port
  EXPECT_FALSE(list.contains("10.0.0.1", 5061, t0 + seconds(2)));
  EXPECT_TRUE(list.contains("10.0.0.2", 5061, t0 + seconds(2)));
  EXPECT_EQ(list.expire(t0 + seconds(3)), 1u);
  list.clear("10.0.0.2", 5061);
  EXPECT_EQ(list.size(), 0u);
}

}  // namespace
}  // namespace fedgw::dns
