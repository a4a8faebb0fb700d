// The outbound target walk: every address of every target in order, failures collected.
#include "gateway/proxy/dialer.h"

#include <gtest/gtest.h>

namespace fedgw::proxy {
namespace {

dns::resolution two_targets() {
  dns::resolution r;
  r.domain = "b.test";
  r.status = dns::resolve_status::ok;
  dns::target first;
  first.host = "gw1.b.test";
  first.port = 5061;
  first.addresses = {{"2001:db8::1", true, false}, {"192.0.2.1", false, false}};
  dns::target second;
  second.host = "gw2.b.test";
  second.port = 5071;
  second.proto = dns::transport::tcp;
  second.addresses = {{"192.0.2.2", false, false}};
  dns::target empty;  // a target without addresses is skipped
  empty.host = "gw3.b.test";
  r.targets = {first, empty, second};
  return r;
}

TEST(OutboundDialer, WalksEveryAddressOfEveryTargetInOrder) {
  outbound_dialer d(two_targets());
  std::vector<std::string> seen;
  while (auto a = d.next()) {
    seen.push_back(a->host + " " + a->where.to_string() + (a->proto == dns::transport::tls ? " TLS" : " TCP"));
    d.failed(a->where.to_string() + ": refused");
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"gw1.b.test [2001:db8::1]:5061 TLS", "gw1.b.test 192.0.2.1:5061 TLS",
                                            "gw2.b.test 192.0.2.2:5071 TCP"}));
  EXPECT_FALSE(d.next()) << "every address was tried";
  EXPECT_EQ(d.give_up_text(),
            "no target of b.test reachable: [2001:db8::1]:5061: refused; 192.0.2.1:5061: refused; "
            "192.0.2.2:5071: refused");
}

TEST(OutboundDialer, CurrentIsTheLastAttempt) {
  outbound_dialer d(two_targets());
  EXPECT_FALSE(d.current());
  d.next();
  ASSERT_TRUE(d.current());
  EXPECT_EQ(d.current()->where.ip, "2001:db8::1");
}

TEST(OutboundDialer, NoAddressAtAll) {
  dns::resolution r;
  r.domain = "c.test";
  outbound_dialer d(r);
  EXPECT_FALSE(d.next());
  EXPECT_EQ(d.give_up_text(), "no target of c.test reachable: no address");
}

// A route-set node with a port: its host's addresses on that port, over TLS (no SRV).
TEST(NodeResolution, AddressesOfTheNodeOnItsPort) {
  dns::host_lookup l;
  l.host = "edge1.b.test";
  l.result = dns::outcome::ok;
  l.addresses = {{"192.0.2.7", false, 300}, {"2001:db8::7", true, 300}};
  auto r = node_resolution("edge1.b.test:5071", 5071, l);
  ASSERT_TRUE(r.ok());
  outbound_dialer d(r);
  auto first = d.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->where.to_string(), "192.0.2.7:5071");
  EXPECT_EQ(first->host, "edge1.b.test");
  EXPECT_EQ(first->proto, dns::transport::tls);
  EXPECT_EQ(d.next()->where.to_string(), "[2001:db8::7]:5071");
  EXPECT_FALSE(d.next());
  d.failed("refused");
  EXPECT_EQ(d.give_up_text(), "no target of route-set node edge1.b.test:5071 reachable: refused");
}

TEST(NodeResolution, NoAddressIsAnErrorThatNamesTheNode) {
  dns::host_lookup l;
  l.host = "gone.b.test";
  l.result = dns::outcome::nxdomain;
  auto r = node_resolution("gone.b.test:5061", 5061, l);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.sip_status(), 503);
  EXPECT_EQ(r.error, "DNS: route-set node gone.b.test:5061: no address (NXDOMAIN)");
  l.result = dns::outcome::timeout;
  EXPECT_EQ(node_resolution("gone.b.test:5061", 5061, l).status, dns::resolve_status::dns_failure);
}

}  // namespace
}  // namespace fedgw::proxy
