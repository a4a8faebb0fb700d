#include "gateway/dns/wire.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fedgw::dns {
namespace {

// Builds DNS responses byte by byte.
struct builder {
  std::vector<unsigned char> b;
  void u8(unsigned v) { b.push_back(static_cast<unsigned char>(v)); }
  void u16(unsigned v) { u8(v >> 8); u8(v & 0xff); }
  void u32(uint32_t v) { u16(v >> 16); u16(v & 0xffff); }
  void name(const std::string& n) {
    size_t start = 0;
    while (start < n.size()) {
      auto dot = n.find('.', start);
      if (dot == std::string::npos) dot = n.size();
      u8(static_cast<unsigned>(dot - start));
      for (size_t i = start; i < dot; ++i) u8(static_cast<unsigned char>(n[i]));
      start = dot + 1;
    }
    u8(0);
  }
  void pointer(unsigned offset) { u16(0xc000 | offset); }
  void header(unsigned rcode, unsigned an, unsigned ns) {
    u16(0x1234);
    u16(0x8180 | rcode);
    u16(1);
    u16(an);
    u16(ns);
    u16(0);
  }
  void question(const std::string& n, unsigned type) {
    name(n);
    u16(type);
    u16(1);
  }
  // Resource record header with the owner as a pointer to the question name (offset 12).
  void rr(unsigned type, uint32_t ttl, unsigned rdlength) {
    pointer(12);
    u16(type);
    u16(1);
    u32(ttl);
    u16(rdlength);
  }
  answer parse(rr_type t) const { return parse_response(b.data(), b.size(), t); }
};

size_t name_length(const std::string& n) { return n.size() + 2; }

TEST(Wire, SrvRecordsWithTtlsPrioritiesWeightsPorts) {
  builder m;
  m.header(0, 2, 0);
  m.question("_sips._tcp.peer.test", 33);
  m.rr(33, 300, static_cast<unsigned>(6 + name_length("sip1.peer.test")));
  m.u16(10), m.u16(60), m.u16(5061), m.name("SIP1.peer.test");
  m.rr(33, 120, static_cast<unsigned>(6 + name_length("sip2.peer.test")));
  m.u16(20), m.u16(0), m.u16(5062), m.name("sip2.peer.test");
  auto a = m.parse(rr_type::srv);
  ASSERT_EQ(a.result, outcome::ok) << a.detail;
  ASSERT_EQ(a.srv.size(), 2u);
  EXPECT_EQ(a.srv[0].target, "sip1.peer.test");  // lower-cased
  EXPECT_EQ(a.srv[0].priority, 10);
  EXPECT_EQ(a.srv[0].weight, 60);
  EXPECT_EQ(a.srv[0].port, 5061);
  EXPECT_EQ(a.srv[0].ttl, 300u);
  EXPECT_EQ(a.srv[1].port, 5062);
  EXPECT_EQ(a.ttl, 120u);  // the smallest
}

TEST(Wire, SrvTargetDotMeansNoService) {
  builder m;
  m.header(0, 1, 0);
  m.question("_sipfederationtls._tcp.none.test", 33);
  m.rr(33, 60, 7);
  m.u16(0), m.u16(0), m.u16(0), m.u8(0);
  auto a = m.parse(rr_type::srv);
  EXPECT_EQ(a.result, outcome::no_service);
  EXPECT_EQ(a.ttl, 60u);
}

TEST(Wire, AddressesFollowingACnameTakeTheSmallestTtl) {
  builder m;
  m.header(0, 3, 0);
  m.question("alias.test", 28);
  m.rr(5, 30, static_cast<unsigned>(name_length("real.test")));
  m.name("real.test");
  for (int i = 1; i <= 2; ++i) {
    m.rr(28, 600, 16);
    for (int j = 0; j < 15; ++j) m.u8(0);
    m.u8(static_cast<unsigned>(i));
  }
  auto a = m.parse(rr_type::aaaa);
  ASSERT_EQ(a.result, outcome::ok) << a.detail;
  ASSERT_EQ(a.addresses.size(), 2u);
  EXPECT_EQ(a.addresses[0].ip, "::1");
  EXPECT_TRUE(a.addresses[0].ipv6);
  EXPECT_EQ(a.addresses[1].ip, "::2");
  EXPECT_EQ(a.ttl, 30u);
}

void soa(builder& m, uint32_t ttl, uint32_t minimum) {
  std::string mname = "ns.test", rname = "hostmaster.test";
  m.pointer(12);
  m.u16(6);
  m.u16(1);
  m.u32(ttl);
  m.u16(static_cast<unsigned>(name_length(mname) + name_length(rname) + 20));
  m.name(mname);
  m.name(rname);
  m.u32(1), m.u32(1200), m.u32(180), m.u32(1209600), m.u32(minimum);
}

TEST(Wire, NxdomainWithSoaGivesRfc2308Ttl) {
  builder m;
  m.header(3, 0, 1);
  m.question("nx.auth.test", 33);
  soa(m, 900, 60);
  auto a = m.parse(rr_type::srv);
  EXPECT_EQ(a.result, outcome::nxdomain);
  EXPECT_TRUE(a.has_soa);
  EXPECT_EQ(a.ttl, 60u);  // min(SOA TTL, MINIMUM)

  builder n;
  n.header(0, 0, 1);
  n.question("a.auth.test", 28);
  soa(n, 5, 60);
  auto b = n.parse(rr_type::aaaa);
  EXPECT_EQ(b.result, outcome::nodata);
  EXPECT_EQ(b.ttl, 5u);
}

TEST(Wire, NegativeWithoutSoa) {
  builder m;
  m.header(0, 0, 0);
  m.question("host.test", 33);
  auto a = m.parse(rr_type::srv);
  EXPECT_EQ(a.result, outcome::nodata);
  EXPECT_FALSE(a.has_soa);
}

TEST(Wire, ServerFailuresAndGarbage) {
  builder m;
  m.header(2, 0, 0);
  m.question("x.test", 1);
  EXPECT_EQ(m.parse(rr_type::a).result, outcome::server_failure);
  EXPECT_EQ(m.parse(rr_type::a).detail, "SERVFAIL");

  builder t;  // a record running past the end
  t.header(0, 1, 0);
  t.question("x.test", 1);
  t.rr(1, 10, 4);
  t.u8(10);
  auto bad = t.parse(rr_type::a);
  EXPECT_EQ(bad.result, outcome::bad_answer);
  EXPECT_FALSE(bad.detail.empty());

  builder w;  // A record of the wrong length
  w.header(0, 1, 0);
  w.question("x.test", 1);
  w.rr(1, 10, 3);
  w.u8(1), w.u8(2), w.u8(3);
  EXPECT_EQ(w.parse(rr_type::a).result, outcome::bad_answer);

  unsigned char tiny[5] = {};
  EXPECT_EQ(parse_response(tiny, sizeof tiny, rr_type::a).result, outcome::bad_answer);
  EXPECT_EQ(parse_response(nullptr, 0, rr_type::a).result, outcome::bad_answer);

  builder loop;  // a compression pointer to itself
  loop.header(0, 1, 0);
  loop.question("x.test", 1);
  loop.pointer(static_cast<unsigned>(loop.b.size()));
  EXPECT_EQ(loop.parse(rr_type::a).result, outcome::bad_answer);
}

}  // namespace
}  // namespace fedgw::dns
