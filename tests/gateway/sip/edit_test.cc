// Proxy edits (spliced serialization) and response helpers.
#include <gtest/gtest.h>

#include "gateway/sip/response.h"
#include "sip_test_util.h"

namespace fedgw::sip {
namespace {

using test::base_headers;
using test::make_request;
using test::simple_request;

Message parse_ok(const std::string& text) {
  auto r = parse_message(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message) << "\n" << text;
  return r.ok() ? std::move(r).value() : Message();
}

Message reparse(const Message& m) {
  std::string s = m.serialize();
  auto r = parse_message(s);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message) << "\n" << s;
  return r.ok() ? std::move(r).value() : Message();
}

const std::string kOddRequest =
    "INVITE sip:bob@b.example.org SIP/2.0\r\n"
    "v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1 , SIP/2.0/UDP  b.example.com;branch=z9hG4bK2\r\n"
    "VIA:SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n"
    "Route: <sip:p1.example.org;lr>,<sip:p2.example.org;lr>\r\n"
    "Route: <sip:p3.example.org;lr>\r\n"
    "Max-Forwards:   7\r\n"
    "f:<sip:a@a.example.com>;tag=1\r\n"
    "t: <sip:bob@b.example.org>\r\n"
    "i: cid\r\n"
    "CSeq: 3 INVITE\r\n"
    "X-Weird :  spaced   \r\n"
    "l: 3\r\n\r\nabc";

TEST(Edit, PrependViaIsNewTopLine) {
  Message m = parse_ok(kOddRequest);
  ASSERT_TRUE(m.prepend_via("SIP/2.0/TLS gw.example.net:5061;branch=z9hG4bKgw").ok());
  std::string s = m.serialize();
  std::string first = "INVITE sip:bob@b.example.org SIP/2.0\r\n";
  EXPECT_EQ(s, first + "Via: SIP/2.0/TLS gw.example.net:5061;branch=z9hG4bKgw\r\n" +
                   kOddRequest.substr(first.size()));
  Message again = reparse(m);
  EXPECT_EQ(again.top_via().host, "gw.example.net");
  EXPECT_EQ(again.count(HeaderId::kVia), 4u);
  EXPECT_FALSE(m.prepend_via("garbage").ok());
  EXPECT_FALSE(m.prepend_via("SIP/2.0/UDP h.com\r\nX-Injected: 1").ok());
}

TEST(Edit, PrependThenPopRestoresOriginalBytes) {
  Message m = parse_ok(kOddRequest);
  ASSERT_TRUE(m.prepend_via("SIP/2.0/TLS gw.example.net;branch=z9hG4bKgw").ok());
  ASSERT_TRUE(m.remove_top_via());
  EXPECT_TRUE(m.modified());
  EXPECT_EQ(m.serialize(), kOddRequest);
}

TEST(Edit, RemoveTopViaOnlyFirstValueOfLine) {
  Message m = parse_ok(kOddRequest);
  ASSERT_TRUE(m.remove_top_via());
  std::string expected = kOddRequest;
  expected.replace(expected.find("SIP/2.0/UDP a.example.com;branch=z9hG4bK1 , "),
                   std::string("SIP/2.0/UDP a.example.com;branch=z9hG4bK1 , ").size(), "");
  EXPECT_EQ(m.serialize(), expected);
  EXPECT_EQ(m.top_via().host, "b.example.com");
  ASSERT_TRUE(m.remove_top_via());
  EXPECT_EQ(m.top_via().host, "c.example.com");
  EXPECT_EQ(m.serialize().find("v: "), std::string::npos);  // line gone
  Message again = reparse(m);
  EXPECT_EQ(again.count(HeaderId::kVia), 1u);
  ASSERT_TRUE(m.remove_top_via());
  EXPECT_FALSE(m.remove_top_via());
}

TEST(Edit, RemoveTopRoute) {
  Message m = parse_ok(kOddRequest);
  ASSERT_TRUE(m.remove_top_route());
  std::string s = m.serialize();
  EXPECT_NE(s.find("Route: <sip:p2.example.org;lr>\r\nRoute: <sip:p3.example.org;lr>\r\n"),
            std::string::npos)
      << s;
  Message again = reparse(m);
  auto routes = again.routes();
  ASSERT_TRUE(routes.ok());
  ASSERT_EQ(routes->size(), 2u);
  EXPECT_EQ((*routes)[0].uri.host, "p2.example.org");
  EXPECT_TRUE((*routes)[0].uri.lr());
  ASSERT_TRUE(m.remove_top_route());
  ASSERT_TRUE(m.remove_top_route());
  EXPECT_FALSE(m.remove_top_route());
  EXPECT_EQ(m.serialize().find("Route"), std::string::npos);
}

TEST(Edit, PrependRecordRoute) {
  Message m = parse_ok(simple_request("x"));
  ASSERT_TRUE(m.prepend_record_route("<sip:gw.example.net;lr>").ok());
  std::string s = m.serialize();
  EXPECT_EQ(s.find("Record-Route: <sip:gw.example.net;lr>\r\n"), s.find("\r\n") + 2);
  auto h = base_headers();
  h.push_back("Record-Route: <sip:old.example.net;lr>");
  Message m2 = parse_ok(make_request(h));
  ASSERT_TRUE(m2.prepend_record_route("<sip:new.example.net;lr>").ok());
  Message again = reparse(m2);
  auto rr = again.record_routes();
  ASSERT_TRUE(rr.ok());
  ASSERT_EQ(rr->size(), 2u);
  EXPECT_EQ((*rr)[0].uri.host, "new.example.net");
  EXPECT_EQ((*rr)[1].uri.host, "old.example.net");
  EXPECT_FALSE(m2.prepend_record_route("<sip:bad").ok());
}

TEST(Edit, MaxForwards) {
  Message m = parse_ok(kOddRequest);
  EXPECT_EQ(m.decrement_max_forwards(), 6u);
  EXPECT_NE(m.serialize().find("\r\nMax-Forwards: 6\r\n"), std::string::npos);
  EXPECT_EQ(reparse(m).max_forwards(), 6u);
  m.set_max_forwards(0);
  EXPECT_EQ(m.max_forwards(), 0u);
  EXPECT_FALSE(m.decrement_max_forwards().has_value());
  Status st = check_max_forwards(m);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kTooManyHops);
  EXPECT_EQ(st.error().status, 483);
  EXPECT_EQ(st.error().reason, "Too Many Hops");
  EXPECT_TRUE(check_max_forwards(parse_ok(kOddRequest)).ok());
  // Absent: inserted as "Max-Forwards: 70" below the Via lines.
  auto h = base_headers();
  h.erase(h.begin() + 1);
  Message m2 = parse_ok(make_request(h));
  EXPECT_TRUE(check_max_forwards(m2).ok());
  EXPECT_EQ(m2.decrement_max_forwards(), 70u);
  std::string s = m2.serialize();
  EXPECT_NE(s.find("branch=z9hG4bK1\r\nMax-Forwards: 70\r\n"), std::string::npos) << s;
  EXPECT_EQ(reparse(m2).max_forwards(), 70u);
}

TEST(Edit, SetRequestUri) {
  Message m = parse_ok(kOddRequest);
  ASSERT_TRUE(m.set_request_uri("sip:bob@192.0.2.7:5070;transport=tcp").ok());
  EXPECT_EQ(m.request_uri(), "sip:bob@192.0.2.7:5070;transport=tcp");
  EXPECT_EQ(m.method(), "INVITE");
  std::string s = m.serialize();
  EXPECT_EQ(s.substr(0, s.find("\r\n")), "INVITE sip:bob@192.0.2.7:5070;transport=tcp SIP/2.0");
  EXPECT_EQ(s.substr(s.find("\r\n")), kOddRequest.substr(kOddRequest.find("\r\n")));
  EXPECT_EQ(reparse(m).parse_request_uri()->port, 5070);
  EXPECT_FALSE(m.set_request_uri("sip:bad uri").ok());
  EXPECT_FALSE(m.set_request_uri("sip:x@1.2.3.999").ok());
  EXPECT_FALSE(m.set_request_uri("sip:a@b.c SIP/2.0\r\nX: y").ok());
}

TEST(Edit, AddAndRemoveHeaders) {
  Message m = parse_ok(kOddRequest);
  ASSERT_TRUE(m.add_header("X-Gateway", "fedgw; id=1").ok());
  std::string s = m.serialize();
  EXPECT_NE(s.find("l: 3\r\nX-Gateway: fedgw; id=1\r\n\r\nabc"), std::string::npos) << s;
  EXPECT_EQ(reparse(m).get("x-gateway"), "fedgw; id=1");
  EXPECT_EQ(m.add_header("X-Bad", "a\r\nInjected: 1").error().kind, ErrorKind::kInvalidArgument);
  EXPECT_FALSE(m.add_header("Bad Name", "x").ok());
  EXPECT_FALSE(m.add_header("From", "<sip:x@y.com>").ok());  // single instance
  EXPECT_FALSE(m.add_header("Content-Length", "5").ok());
  EXPECT_FALSE(m.add_header("Via", "not a via").ok());
  EXPECT_TRUE(m.add_header("Supported", "path").ok());
  EXPECT_EQ(m.remove_header("x-weird"), 1u);
  EXPECT_EQ(m.remove_header("Content-Length"), 0u);
  Message again = reparse(m);
  EXPECT_FALSE(again.has("X-Weird"));
  EXPECT_EQ(again.get("Supported"), "path");
}

TEST(Edit, ProxyPipelineKeepsUntouchedLinesByteExact) {
  Message m = parse_ok(kOddRequest);
  ASSERT_TRUE(m.prepend_via("SIP/2.0/TLS gw.example.net;branch=z9hG4bKgw").ok());
  ASSERT_TRUE(m.remove_top_route());
  ASSERT_TRUE(m.prepend_record_route("<sip:gw.example.net;lr>").ok());
  ASSERT_TRUE(m.decrement_max_forwards().has_value());
  std::string s = m.serialize();
  EXPECT_EQ(s.size(), m.serialized_size());
  for (const char* untouched :
       {"VIA:SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n", "f:<sip:a@a.example.com>;tag=1\r\n",
        "X-Weird :  spaced   \r\n", "i: cid\r\n", "\r\n\r\nabc"})
    EXPECT_NE(s.find(untouched), std::string::npos) << untouched;
  Message again = reparse(m);
  EXPECT_EQ(again.top_via().branch(), "z9hG4bKgw");
  EXPECT_EQ(again.max_forwards(), 6u);
  EXPECT_EQ(again.body(), "abc");
  EXPECT_EQ(again.count(HeaderId::kRoute), 2u);
  EXPECT_EQ(again.count(HeaderId::kRecordRoute), 1u);
}

TEST(Edit, FoldedViaLineRemoval) {
  std::string text =
      "MESSAGE sip:b@x.org SIP/2.0\r\n"
      "Via: SIP/2.0/UDP a.com;branch=z9hG4bK1,\r\n SIP/2.0/UDP b.com;branch=z9hG4bK2\r\n"
      "From: <sip:a@b.com>;tag=1\r\nTo: <sip:b@x.org>\r\nCall-ID: 1\r\nCSeq: 1 MESSAGE\r\n"
      "Content-Length: 0\r\n\r\n";
  Message m = parse_ok(text);
  ASSERT_TRUE(m.remove_top_via());
  EXPECT_NE(m.serialize().find("Via: SIP/2.0/UDP b.com;branch=z9hG4bK2\r\n"), std::string::npos);
  EXPECT_EQ(reparse(m).top_via().host, "b.com");
}

TEST(Response, MakeResponseCopiesHeadersAndAddsTag) {
  auto h = base_headers();
  h.insert(h.begin() + 1, "v: SIP/2.0/UDP second.example.com;branch=z9hG4bK2;received=192.0.2.1");
  h.push_back("Contact: <sip:alice@192.0.2.1>");
  Message req = parse_ok(make_request(h, "body"));
  auto r = make_response(req, 403, "Forbidden", "gwtag");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->is_response());
  EXPECT_EQ(r->status_code(), 403);
  EXPECT_EQ(r->reason(), "Forbidden");
  EXPECT_EQ(r->count(HeaderId::kVia), 2u);
  EXPECT_EQ(r->vias()[1].received(), "192.0.2.1");
  EXPECT_EQ(r->to_tag(), "gwtag");
  EXPECT_EQ(r->from_tag(), "1928");
  EXPECT_EQ(r->call_id(), req.call_id());
  EXPECT_EQ(r->cseq().number, 1u);
  EXPECT_EQ(r->cseq().method, "MESSAGE");
  EXPECT_EQ(r->content_length(), 0u);
  EXPECT_TRUE(r->body().empty());
  EXPECT_FALSE(r->has("Contact"));
  std::string s = r->serialize();
  EXPECT_EQ(s.rfind("SIP/2.0 403 Forbidden\r\n", 0), 0u);
  EXPECT_NE(s.find("Via: SIP/2.0/TLS a.example.com:5061;branch=z9hG4bK1\r\nv: SIP/2.0/UDP second"),
            std::string::npos);
  // Generated tag; none for 100; kept when present.
  auto r2 = make_response(req, 408, "Request Timeout");
  ASSERT_TRUE(r2.ok());
  ASSERT_TRUE(r2->to_tag().has_value());
  EXPECT_EQ(r2->to_tag()->size(), 16u);
  auto r3 = make_response(req, 100, "Trying");
  ASSERT_TRUE(r3.ok());
  EXPECT_FALSE(r3->to_tag().has_value());
  h[4] = "To: <sip:bob@example.org>;tag=existing";
  auto r4 = make_response(parse_ok(make_request(h)), 503, "Service Unavailable", "ignored");
  ASSERT_TRUE(r4.ok());
  EXPECT_EQ(r4->to_tag(), "existing");
  EXPECT_FALSE(make_response(req, 99, "x").ok());
  EXPECT_EQ(make_response(req, 200, "bad\r\nreason")->reason(), "bad  reason");  // sanitized
  EXPECT_FALSE(make_response(*r, 200, "OK").ok());  // not a request
}

TEST(Response, ErrorResponsesForParseErrors) {
  Message req = parse_ok(simple_request());
  Error e = make_error(ErrorKind::kMalformedHeader, "Via: missing branch", "Via");
  auto r = make_error_response(req, e);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status_code(), 400);
  EXPECT_EQ(r->reason(), "Malformed Via header");
  auto r483 = make_error_response(req, make_error(ErrorKind::kTooManyHops, "x"));
  ASSERT_TRUE(r483.ok());
  EXPECT_EQ(r483->status_code(), 483);
  EXPECT_FALSE(make_error_response(req, make_error(ErrorKind::kInvalidArgument, "x")).ok());
}

TEST(Response, BadExtension420) {
  auto h = base_headers();
  h.push_back("Proxy-Require: sec-agree, foo");
  h.push_back("Proxy-Require: FOO, bar");
  h.push_back("Require: 100rel");
  Message req = parse_ok(make_request(h));
  std::vector<std::string_view> supported = {"sec-agree", "path"};
  EXPECT_EQ(unsupported_option_tags(req, HeaderId::kProxyRequire, supported),
            (std::vector<std::string>{"foo", "bar"}));
  Status st = check_option_tags(req, HeaderId::kProxyRequire, supported);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().status, 420);
  EXPECT_EQ(st.error().kind, ErrorKind::kBadExtension);
  EXPECT_EQ(st.error().message, "Proxy-Require: unsupported option tags: foo, bar");
  auto r = make_bad_extension_response(req, HeaderId::kProxyRequire, supported);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status_code(), 420);
  EXPECT_EQ(r->get_all("Unsupported"), (std::vector<std::string_view>{"foo", "bar"}));
  EXPECT_TRUE(check_option_tags(req, HeaderId::kRequire, {"100rel"}).ok());
  EXPECT_TRUE(check_option_tags(parse_ok(simple_request()), HeaderId::kProxyRequire, {}).ok());
}

}  // namespace
}  // namespace fedgw::sip
