// Routing and policy: policy on every request, signed Route parameters, the
// internal From check, RFC 3325 identity headers, random instances.
#include "gateway/proxy/routing.h"

#include <gtest/gtest.h>

#include "tests/gateway/proxy/gateway_config.h"
#include "tests/gateway/proxy/proxy_test_util.h"

namespace fedgw::proxy {
namespace {

using testing::request_text;

using testing::gateway_a;

const std::vector<std::string> b_identity{"b.test"};
const std::vector<std::string> blocked_identity{"blocked.test"};

class Routing : public ::testing::Test {
 protected:
  settings s = settings::from_config(gateway_a(), instance_keys::random());

  // A request from partner `from_domain` to alice@a.test carrying `route`.
  sip::Message from_partner(const std::string& from_domain, const std::string& route = "",
                            const std::string& method = "MESSAGE") {
    request_text r;
    r.method = method;
    r.uri = "sip:alice@a.test";
    r.from = "<sip:bob@" + from_domain + ">;tag=pt1";
    r.to = "<sip:alice@a.test>;tag=at1";
    if (!route.empty()) r.extra = "Route: " + route + "\r\n";
    return r.message();
  }
};

TEST_F(Routing, ViaAndRecordRouteUsePublicHostNotTheWildcardBind) {
  EXPECT_EQ(s.external.host, "gw.a.test");
  auto invite = from_partner("b.test", "", "INVITE");
  auto rr = record_route_value(s, side::external, "b.test", invite);
  EXPECT_EQ(rr.find("<sip:gw.a.test:5061;transport=tls;lr;fgw=ext;fgwd=b.test;fgwm="), 0u) << rr;
  // alias (RFC 5923): the partner may reuse the connection for requests to this sent-by.
  EXPECT_EQ(via_value(s.external, "z9hG4bK-x"), "SIP/2.0/TLS gw.a.test:5061;branch=z9hG4bK-x;alias");
}

// Review E2: a blocked partner got 200 by adding Route: <sip:GW;lr;fgw=int>.
TEST_F(Routing, ForgedRouteFromAPartnerIsRefused) {
  auto m = from_partner("b.test", "<sip:gw.a.test:5061;lr;fgw=int>");
  auto d = route_request(m, side::external, b_identity, s);
  EXPECT_EQ(d.status, 403);
  EXPECT_NE(d.reason.find("no valid signature"), std::string::npos) << d.reason;
  EXPECT_TRUE(d.policy_refusal);
  EXPECT_EQ(d.rule, policy_rule::route_signature);
}

TEST_F(Routing, BlockedPartnerIsRefusedEvenWithAValidRoute) {
  auto initial = from_partner("blocked.test", "", "SUBSCRIBE");
  auto route = record_route_value(s, side::internal, "", initial);
  auto in_dialog = from_partner("blocked.test", route, "NOTIFY");
  auto d = route_request(in_dialog, side::external, blocked_identity, s);
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.reason, "Forbidden - federation with blocked.test is blocked");
  EXPECT_EQ(d.rule, policy_rule::partner_list);
}

TEST_F(Routing, SignedRouteWorksInBothDirectionsOfTheDialog) {
  // Record-routed on the partner's SUBSCRIBE (From tag pt1) ...
  auto subscribe = from_partner("b.test", "", "SUBSCRIBE");
  auto internal_facing = record_route_value(s, side::internal, "", subscribe);
  auto external_facing = record_route_value(s, side::external, "b.test", subscribe);
  // ... the partner's later request carries pt1 as From tag,
  auto again = from_partner("b.test", external_facing + "," + internal_facing, "SUBSCRIBE");
  auto d = route_request(again, side::external, b_identity, s);
  EXPECT_EQ(d.status, 0) << d.reason;
  EXPECT_EQ(d.to, side::internal);
  EXPECT_EQ(d.routes_to_pop, 2u);
  // ... and the UC server's NOTIFY carries it as To tag.
  request_text notify;
  notify.method = "NOTIFY";
  notify.uri = "sip:bob@10.9.9.9:5061";
  notify.from = "<sip:alice@a.test>;tag=at1";
  notify.to = "<sip:bob@b.test>;tag=pt1";
  notify.extra = "Route: " + internal_facing + "\r\nRoute: " + external_facing + "\r\n";
  auto n = notify.message();
  auto dn = route_request(n, side::internal, {}, s);
  EXPECT_EQ(dn.status, 0) << dn.reason;
  EXPECT_EQ(dn.to, side::external);
  EXPECT_EQ(dn.domain, "b.test");
}

// Issue 10 §6: an in-dialog request follows the route set: the partner node
// that record-routed the dialog is the next hop, not the partner domain's DNS.
TEST_F(Routing, InDialogRequestGoesToThePartnersRecordRoutedNode) {
  auto subscribe = from_partner("b.test", "", "SUBSCRIBE");
  auto internal_facing = record_route_value(s, side::internal, "", subscribe);
  auto external_facing = record_route_value(s, side::external, "b.test", subscribe);
  request_text notify;
  notify.method = "NOTIFY";
  notify.uri = "sip:bob@10.9.9.9:5061";
  notify.from = "<sip:alice@a.test>;tag=at1";
  notify.to = "<sip:bob@b.test>;tag=pt1";
  auto with_partner_route = [&](const std::string& partner) {
    notify.extra = "Route: " + internal_facing + "\r\nRoute: " + external_facing + "\r\n" +
                   (partner.empty() ? "" : "Route: " + partner + "\r\n");
    return route_request(notify.message(), side::internal, {}, s);
  };
  auto d = with_partner_route("<sip:Edge1.B.test:5071;transport=tls;lr>");
  EXPECT_EQ(d.status, 0) << d.reason;
  EXPECT_EQ(d.to, side::external);
  EXPECT_EQ(d.domain, "b.test");  // the certificate must still name the partner domain
  EXPECT_EQ(d.node, "edge1.b.test:5071");
  EXPECT_EQ(d.routes_to_pop, 2u);  // the partner's own Route stays for it to pop
  EXPECT_EQ(with_partner_route("<sip:127.0.5.1;lr>").node, "127.0.5.1");
  EXPECT_EQ(with_partner_route("<sip:[2001:DB8::1]:5061;lr>").node, "[2001:db8::1]:5061");
  // No partner Route: the domain's DNS records decide.
  EXPECT_EQ(with_partner_route("").node, "");
  // A strict router (no lr) or a non-SIP URI is not followed.
  EXPECT_EQ(with_partner_route("<sip:edge1.b.test:5061>").node, "");
  EXPECT_EQ(with_partner_route("<tel:+15551234>").node, "");
  // A partner Route naming this gateway would loop: not followed.
  EXPECT_EQ(with_partner_route("<sip:gw.a.test:5061;lr>").node, "");
}

TEST_F(Routing, InitialAndInboundRequestsHaveNoNode) {
  auto d = route_request(from_partner("b.test", "", "SUBSCRIBE"), side::external, b_identity, s);
  EXPECT_EQ(d.status, 0) << d.reason;
  EXPECT_EQ(d.node, "");
  request_text r;
  r.uri = "sip:bob@b.test";
  r.extra = "Route: <sip:edge1.b.test:5061;lr>\r\n";  // not behind a Route of ours: the domain decides
  auto out = route_request(r.message(), side::internal, {}, s);
  EXPECT_EQ(out.status, 0) << out.reason;
  EXPECT_EQ(out.node, "");
}

// SIP_PROXY mode decides the next hop (the proxy), not the policy: a request to a partner is routed the
// same way (its domain still checked against the partner lists), and so is one from a partner.
TEST_F(Routing, ProxyModeKeepsThePolicy) {
  auto config = gateway_a();
  config.set_mode(config::SIP_PROXY);
  config.mutable_partners()->add_blocked("blocked.test");
  auto proxied = settings::from_config(config, instance_keys::random());
  EXPECT_TRUE(proxied.via_proxy);
  EXPECT_FALSE(s.via_proxy);
  request_text r;
  r.uri = "sip:bob@b.test";
  auto out = route_request(r.message(), side::internal, {}, proxied);
  EXPECT_EQ(out.status, 0) << out.reason;
  EXPECT_EQ(out.to, side::external);
  EXPECT_EQ(out.domain, "b.test");
  r.uri = "sip:bob@blocked.test";
  EXPECT_EQ(route_request(r.message(), side::internal, {}, proxied).status, 403);
  auto in = route_request(from_partner("b.test"), side::external, b_identity, proxied);
  EXPECT_EQ(in.status, 0) << in.reason;
  EXPECT_EQ(in.to, side::internal);
}

// The nodes an inbound request shows it came from (RFC 5923 reuse): top
// Record-Route, and the top Via's sent-by only with alias.
TEST_F(Routing, SendingNodesAreTopRecordRouteAndAliasedVia) {
  request_text r;
  r.method = "SUBSCRIBE";
  r.from = "<sip:bob@b.test>;tag=pt1";
  r.vias = "Via: SIP/2.0/TLS Edge1.b.test:5061;branch=z9hG4bK-p1;alias\r\n";
  r.extra = "Record-Route: <sip:10.0.0.7:5061;transport=tls;lr>, <sip:inner.b.test;lr>\r\n";
  EXPECT_EQ(sending_nodes(r.message()), (std::vector<std::string>{"10.0.0.7:5061", "edge1.b.test:5061"}));
  r.vias = "Via: SIP/2.0/TLS edge1.b.test;branch=z9hG4bK-p1\r\n";  // no alias
  EXPECT_EQ(sending_nodes(r.message()), (std::vector<std::string>{"10.0.0.7:5061"}));
  r.extra = "";
  r.vias = "Via: SIP/2.0/TLS edge1.b.test;branch=z9hG4bK-p1;alias\r\n";  // port defaults to 5061
  EXPECT_EQ(sending_nodes(r.message()), (std::vector<std::string>{"edge1.b.test:5061"}));
}

// Review E3: an internal request with fgw=ext;fgwd=blocked.test reached a blocked domain.
TEST_F(Routing, InternalRequestCannotRetargetTheRouteDomain) {
  request_text r;
  r.uri = "sip:x@10.1.1.1:5061";
  r.extra = "Route: <sip:127.0.0.1:5060;lr;fgw=int>\r\nRoute: <sip:gw.a.test:5061;lr;fgw=ext;fgwd=blocked.test>\r\n";
  auto d = route_request(r.message(), side::internal, {}, s);
  EXPECT_EQ(d.status, 403);
  EXPECT_NE(d.reason.find("no valid signature"), std::string::npos) << d.reason;
}

TEST_F(Routing, SignedRouteToABlockedDomainIsStillRefused) {
  request_text initial;  // alice invites someone at blocked.test (before it was blocked)
  initial.method = "INVITE";
  auto m = initial.message();
  auto toward = record_route_value(s, side::external, "blocked.test", m);
  request_text bye;
  bye.method = "BYE";
  bye.uri = "sip:x@10.1.1.1:5061";
  bye.extra = "Route: " + toward + "\r\n";
  auto d = route_request(bye.message(), side::internal, {}, s);
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.reason, "Forbidden - federation with blocked.test is blocked");
}

// proxy_fuzz finding: a dialog without From tag (RFC 2543) got a Record-Route that never verified.
TEST_F(Routing, RouteOfADialogWithoutFromTagVerifies) {
  request_text r;
  r.method = "SUBSCRIBE";
  r.uri = "sip:alice@a.test";
  r.from = "<sip:bob@b.test>";
  r.to = "<sip:alice@a.test>";
  auto initial = r.message();
  auto route = record_route_value(s, side::internal, "", initial);
  r.extra = "Route: " + route + "\r\n";
  auto again = r.message();
  auto d = route_request(again, side::external, b_identity, s);
  EXPECT_EQ(d.status, 0) << d.reason;
  EXPECT_EQ(d.routes_to_pop, 1u);
}

TEST_F(Routing, RouteOfAnEarlierRunIsRefusedAsStale) {
  auto earlier = settings::from_config(gateway_a(), instance_keys::random());
  auto subscribe = from_partner("b.test", "", "SUBSCRIBE");
  auto old_route = record_route_value(earlier, side::internal, "", subscribe);
  auto m = from_partner("b.test", old_route, "SUBSCRIBE");
  EXPECT_EQ(route_request(m, side::external, b_identity, s).status, 403);
}

// Review E4: the internal side could send with any From domain.
TEST_F(Routing, InternalFromMustBeAServedDomain) {
  request_text r;
  r.from = "<sip:ceo@other.example>;tag=x";
  auto d = route_request(r.message(), side::internal, {}, s);
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.reason, "Forbidden - From domain other.example is not served by this gateway");
  EXPECT_EQ(d.rule, policy_rule::from_domain);
  request_text ok;
  EXPECT_EQ(route_request(ok.message(), side::internal, {}, s).status, 0);
}

TEST_F(Routing, CheckOriginAppliesToLocalOptionsAndCancel) {
  auto options = from_partner("blocked.test", "", "OPTIONS");
  EXPECT_EQ(check_origin(options, side::external, blocked_identity, s).status, 403);
  auto cancel = from_partner("b.test", "", "CANCEL");
  auto spoofed = check_origin(cancel, side::external, {"c.test"}, s);
  EXPECT_EQ(spoofed.status, 403);
  EXPECT_EQ(spoofed.rule, policy_rule::from_domain);
  EXPECT_EQ(check_origin(cancel, side::external, b_identity, s).status, 0);
}

TEST_F(Routing, IdentityHeadersAreStrippedUnlessThePartnerIsTrusted) {
  auto m = from_partner("b.test");
  EXPECT_TRUE(route_request(m, side::external, b_identity, s).strip_identity);
  auto t = from_partner("trusted.test");
  auto d = route_request(t, side::external, {"trusted.test"}, s);
  EXPECT_EQ(d.status, 0) << d.reason;
  EXPECT_FALSE(d.strip_identity);
}

TEST_F(Routing, RelayBetweenInternalUsersThroughAnOwnRouteIsRefused) {
  request_text first;
  first.method = "INVITE";
  auto m = first.message();
  auto internal_route = record_route_value(s, side::internal, "", m);
  request_text r;
  r.extra = "Route: " + internal_route + "\r\nRoute: " + internal_route + "\r\n";
  auto d = route_request(r.message(), side::internal, {}, s);
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.rule, policy_rule::relay);
}

// Review E6: two gateways that both run as PID 1 answered every request 482.
TEST_F(Routing, InstancesAreRandomSoTwoGatewaysNeverSeeEachOtherAsALoop) {
  auto other = settings::from_config(gateway_a(), instance_keys::random());
  EXPECT_NE(s.keys.instance, other.keys.instance);
  EXPECT_EQ(s.keys.instance.size(), 16u);
  request_text r;
  r.vias = "Via: SIP/2.0/TLS gw.b.test:5061;branch=" + make_branch(other, 0, 1, 42) + "\r\n" + r.vias;
  auto m = r.message();
  EXPECT_FALSE(is_looped(m, s));
  EXPECT_TRUE(is_looped(m, other));
}

TEST_F(Routing, BranchesCarryRandomBits) {
  auto a = make_branch(s, 1, 7, 0x1234);
  auto b = make_branch(s, 1, 7, 0x9876);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("z9hG4bK-fgw" + s.keys.instance + ".1.7.", 0), 0u) << a;
}

}  // namespace
}  // namespace fedgw::proxy
