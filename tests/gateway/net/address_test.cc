#include "gateway/net/address.h"

#include <gtest/gtest.h>

namespace fedgw::net {
namespace {

TEST(Address, IpLiterals) {
  EXPECT_TRUE(is_ipv4("127.0.0.1"));
  EXPECT_FALSE(is_ipv4("127.0.0.256"));
  EXPECT_FALSE(is_ipv4("127.1"));
  EXPECT_TRUE(is_ipv6("::1"));
  EXPECT_TRUE(is_ipv6("2001:db8::10:5070"));
  EXPECT_FALSE(is_ipv6("[::1]"));
  EXPECT_FALSE(is_ip(""));
}

TEST(Address, HostNames) {
  EXPECT_TRUE(is_hostname("a.test"));
  EXPECT_TRUE(is_hostname("sip-1.example.com."));
  EXPECT_FALSE(is_hostname("-a.test"));
  EXPECT_FALSE(is_hostname("a-.test"));
  EXPECT_FALSE(is_hostname("a..test"));
  EXPECT_FALSE(is_hostname("a b"));
  EXPECT_FALSE(is_hostname("_sips._tcp.a.test"));
  EXPECT_TRUE(is_srv_owner_name("_sips._tcp.a.test"));
  EXPECT_FALSE(is_hostname(std::string(64, 'a') + ".test"));
}

TEST(Address, Endpoints) {
  auto e = parse_endpoint("127.0.0.1:5353");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ip, "127.0.0.1");
  EXPECT_EQ(e->port, 5353);
  auto v6 = parse_endpoint("[::1]:53");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->ip, "::1");
  EXPECT_EQ(v6->to_string(), "[::1]:53");
  EXPECT_FALSE(parse_endpoint("127.0.0.1"));
  EXPECT_FALSE(parse_endpoint("127.0.0.1:0"));
  EXPECT_FALSE(parse_endpoint("127.0.0.1:65536"));
  EXPECT_FALSE(parse_endpoint("::1:53"));
  EXPECT_FALSE(parse_endpoint("[::1]53"));
  EXPECT_FALSE(parse_endpoint("host:53"));
}

}  // namespace
}  // namespace fedgw::net

namespace fedgw::net {
namespace {

TEST(Prefix, MatchesAddressesInTheBlockOnly) {
  auto p = parse_prefix("10.1.0.0/16");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->contains("10.1.200.3"));
  EXPECT_FALSE(p->contains("10.2.0.1"));
  EXPECT_FALSE(p->contains("::ffff:10.1.0.1"));  // another family
  auto one = parse_prefix("::1");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->contains("::1"));
  EXPECT_FALSE(one->contains("::2"));
  auto odd = parse_prefix("192.168.1.128/25");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains("192.168.1.200"));
  EXPECT_FALSE(odd->contains("192.168.1.100"));
  EXPECT_FALSE(parse_prefix("10.0.0.0/33"));
  EXPECT_FALSE(parse_prefix("10.0.0.0/"));
  EXPECT_FALSE(parse_prefix("host.example/8"));
}

}  // namespace
}  // namespace fedgw::net
