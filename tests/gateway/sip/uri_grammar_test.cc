// URI, host, parameter and header-value grammar tests.
#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "gateway/sip/grammar.h"
#include "gateway/sip/headers.h"
#include "gateway/sip/uri.h"

namespace fedgw::sip {
namespace {

TEST(Uri, SipFull) {
  auto u = parse_uri("sip:alice:secret@example.com:5070;transport=tcp;lr?subject=hi&x=y");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->scheme, Scheme::kSip);
  EXPECT_EQ(u->user, "alice");
  EXPECT_TRUE(u->has_password);
  EXPECT_EQ(u->password, "secret");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->host_type, HostType::kHostname);
  EXPECT_EQ(u->port, 5070);
  EXPECT_EQ(u->transport(), "tcp");
  EXPECT_TRUE(u->lr());
  EXPECT_EQ(u->header("subject"), "hi");
  EXPECT_EQ(u->header("X"), "y");
  EXPECT_FALSE(u->header("nope").has_value());
  EXPECT_EQ(u->params.size(), 2u);
}

TEST(Uri, SipsAndCaseInsensitiveScheme) {
  auto u = parse_uri("SIPS:bob@Example.ORG");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, Scheme::kSips);
  EXPECT_TRUE(u->is_sip());
  EXPECT_EQ(u->port, 0);
  EXPECT_FALSE(u->has_port());
}

TEST(Uri, HostOnlyAndIPv4) {
  auto u = parse_uri("sip:192.0.2.1:5060");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host_type, HostType::kIPv4);
  EXPECT_TRUE(u->user.empty());
  EXPECT_EQ(u->port, 5060);
}

TEST(Uri, PortRange) {
  EXPECT_TRUE(parse_uri("sip:a.com:1").ok());
  EXPECT_TRUE(parse_uri("sip:a.com:65535").ok());
  for (const char* bad : {"sip:a.com:0", "sip:a.com:65536", "sip:a.com:", "sip:a.com:12ab",
                          "sip:a.com:999999"}) {
    auto u = parse_uri(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.error().kind, ErrorKind::kMalformedUri) << bad;
  }
}

TEST(Uri, BadHosts) {
  for (const char* bad : {"sip:alice@", "sip:", "sip:1.2.3.256", "sip:1.2.3", "sip:-a.com",
                          "sip:a-.com", "sip:a..com", "sip:exa mple.com", "sip:a_b.com",
                          "sip:alice@[::1", "sip:123.example.1"}) {
    EXPECT_FALSE(parse_uri(bad).ok()) << bad;
  }
  EXPECT_TRUE(parse_uri("sip:example.com.").ok());
  EXPECT_TRUE(parse_uri("sip:1.example.com").ok());
}

// RFC 5118 IPv6 references.
TEST(Uri, IPv6ReferencesRfc5118) {
  struct Case {
    const char* uri;
    bool ok;
  } cases[] = {
      {"sip:[2001:db8::10]", true},
      {"sip:[2001:db8::10]:5070", true},
      {"sip:[2001:db8::10:5070]", true},  // §4.3: a valid (different) address
      {"sip:alice@[2001:db8::9:1];transport=tcp", true},
      {"sip:[2001:db8::192.0.2.1]", true},        // §4.4 IPv4 mixed form
      {"sip:[::ffff:192.0.2.128]", true},
      {"sip:[::1]", true},
      {"sip:[::]", true},
      {"sip:[2001:0db8:0000:0000:0000:0000:0000:0001]", true},
      {"sip:[2001:db8:::192.0.2.1]", false},      // §4.4 invalid
      {"sip:[2001:db8::10::1]", false},           // two "::"
      {"sip:[2001:db8:0:0:0:0:0:0:1]", false},    // nine groups
      {"sip:[2001:db8:0:0:0:0:0:1]", true},       // eight groups
      {"sip:[2001:db8::12345]", false},           // group too long
      {"sip:[2001:db8::g]", false},
      {"sip:[::ffff:1.2.3.256]", false},
      {"sip:[1.2.3.4]", false},
      {"sip:[2001:db8:]", false},
      {"sip:[:2001:db8::1]", false},
      {"sip:2001:db8::10", false},                // unbracketed
      {"sip:[]", false},
  };
  for (const auto& c : cases) {
    auto u = parse_uri(c.uri);
    EXPECT_EQ(u.ok(), c.ok) << c.uri;
    if (u.ok()) {
      EXPECT_EQ(u->host_type, HostType::kIPv6) << c.uri;
      EXPECT_EQ(u->host.front(), '[');
    }
  }
  auto u = parse_uri("sip:[2001:db8::10]:5070");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "[2001:db8::10]");
  EXPECT_EQ(u->host_unbracketed(), "2001:db8::10");
  EXPECT_EQ(u->port, 5070);
}

TEST(Uri, PercentEscapes) {
  auto u = parse_uri("sip:al%69ce%20x@example.com;p%61ram=v%41l");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->user, "al%69ce%20x");
  EXPECT_EQ(u->user_decoded(), "alice x");
  EXPECT_EQ(u->param_decoded("p%61ram"), "vAl");  // names are matched as written
  EXPECT_EQ(u->params.raw(), "p%61ram=v%41l");
  auto u2 = parse_uri("sip:bob@example.com;tag=a%2Cb");
  ASSERT_TRUE(u2.ok());
  EXPECT_EQ(u2->param_decoded("tag"), "a,b");
  for (const char* bad : {"sip:al%6@example.com", "sip:al%zz@example.com", "sip:a%@b.com",
                          "sip:b.com;x=%4", "sip:b.com;x=%GG", "sip:b.com?h=%1", "urn:bad%2"}) {
    auto r = parse_uri(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kMalformedUri) << bad;
  }
  EXPECT_EQ(percent_decode("%41%62c"), "Abc");
  EXPECT_FALSE(percent_decode("%4").has_value());
}

TEST(Uri, UserUnreservedChars) {
  auto u = parse_uri("sip:+1-212-555;phone-context=x?y@gw.example.com;user=phone");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->user, "+1-212-555;phone-context=x?y");
  EXPECT_EQ(u->param("user"), "phone");
}

TEST(Uri, BadParamsAndHeaders) {
  for (const char* bad : {"sip:a.com;", "sip:a.com;=x", "sip:a.com;x=", "sip:a.com;x y",
                          "sip:a.com?", "sip:a.com?novalue", "sip:a.com?=v", "sip:a.com;a;;b"}) {
    EXPECT_FALSE(parse_uri(bad).ok()) << bad;
  }
}

TEST(Uri, Tel) {
  auto u = parse_uri("tel:+1-201-555-0123;ext=12");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, Scheme::kTel);
  EXPECT_EQ(u->user, "+1-201-555-0123");
  EXPECT_EQ(u->param("ext"), "12");
  auto local = parse_uri("tel:7042;phone-context=example.com");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->param("phone-context"), "example.com");
  for (const char* bad : {"tel:", "tel:+", "tel:+1x2", "tel:+12;", "tel:--"})
    EXPECT_FALSE(parse_uri(bad).ok()) << bad;
}

TEST(Uri, OpaqueSchemes) {
  for (const char* ok : {"http://www.example.com/a?b=c", "urn:service:sos", "im:alice@example.com",
                         "pres:alice@example.com", "mailto:a@b.c"}) {
    auto u = parse_uri(ok);
    ASSERT_TRUE(u.ok()) << ok;
    EXPECT_EQ(u->scheme, Scheme::kOther);
    EXPECT_FALSE(u->opaque.empty());
  }
  EXPECT_EQ(parse_uri("urn:service:sos")->scheme_text, "urn");
  for (const char* bad : {"nocolon", ":x", "1ab:x", "ht tp:x", "urn:", "urn:a b", "urn:<x>"})
    EXPECT_FALSE(parse_uri(bad).ok()) << bad;
}

TEST(HeaderNames, CompactForms) {
  struct {
    const char* c;
    HeaderId id;
  } cases[] = {{"i", HeaderId::kCallId},   {"m", HeaderId::kContact},
               {"e", HeaderId::kContentEncoding}, {"l", HeaderId::kContentLength},
               {"c", HeaderId::kContentType},     {"f", HeaderId::kFrom},
               {"s", HeaderId::kSubject},         {"t", HeaderId::kTo},
               {"v", HeaderId::kVia},             {"k", HeaderId::kSupported},
               {"o", HeaderId::kEvent},           {"u", HeaderId::kAllowEvents},
               {"r", HeaderId::kReferTo},         {"b", HeaderId::kReferredBy},
               {"x", HeaderId::kSessionExpires},  {"y", HeaderId::kIdentity},
               {"d", HeaderId::kRequestDisposition}, {"a", HeaderId::kAcceptContact}};
  for (const auto& c : cases) {
    EXPECT_EQ(header_id(c.c), c.id) << c.c;
    std::string upper(1, static_cast<char>(c.c[0] - 32));
    EXPECT_EQ(header_id(upper), c.id) << upper;
    EXPECT_EQ(compact_form(c.id), c.c[0]);
  }
  EXPECT_EQ(header_id("call-id"), HeaderId::kCallId);
  EXPECT_EQ(header_id("VIA"), HeaderId::kVia);
  EXPECT_EQ(header_id("www-authenticate"), HeaderId::kWWWAuthenticate);
  EXPECT_EQ(header_id("X-Custom"), HeaderId::kOther);
  EXPECT_EQ(header_id("q"), HeaderId::kOther);
  // Case-insensitive for letters only; every other byte must match exactly.
  EXPECT_EQ(header_id("cALL-iD"), HeaderId::kCallId);
  EXPECT_EQ(header_id("Call_ID"), HeaderId::kOther);
  EXPECT_EQ(header_id("Call\rID"), HeaderId::kOther);
  EXPECT_EQ(header_id(std::string_view("Call\0ID", 7)), HeaderId::kOther);
  EXPECT_EQ(header_id("Call-I\x04"), HeaderId::kOther);  // 'D' ^ 0x40
  EXPECT_EQ(header_id("Vi\x01"), HeaderId::kOther);
  EXPECT_EQ(header_id("TO"), HeaderId::kTo);
  EXPECT_EQ(header_id("To "), HeaderId::kOther);
  EXPECT_EQ(header_id("P-ASSERTED-IDENTITY"), HeaderId::kPAssertedIdentity);
  EXPECT_EQ(header_id("p-asserted-identitz"), HeaderId::kOther);
  EXPECT_EQ(header_id("q-asserted-identity"), HeaderId::kOther);
  EXPECT_EQ(header_id("Content-Lengti"), HeaderId::kOther);
  EXPECT_EQ(header_id("Content-Type"), HeaderId::kContentType);
  EXPECT_EQ(header_id("Content-Typ"), HeaderId::kOther);
  EXPECT_EQ(header_id(""), HeaderId::kOther);
  EXPECT_EQ(header_id("\xc1"), HeaderId::kOther);
  // Every registry name, in any case, maps back to its id.
  for (size_t i = 1; i < static_cast<size_t>(HeaderId::kCount_); ++i) {
    HeaderId id = static_cast<HeaderId>(i);
    std::string n(canonical_name(id)), up = n, low = n;
    for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (char& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(header_id(n), id) << n;
    EXPECT_EQ(header_id(up), id) << up;
    EXPECT_EQ(header_id(low), id) << low;
    std::string last = n;
    last.back() = static_cast<char>(last.back() ^ 0x40);
    EXPECT_EQ(header_id(last), HeaderId::kOther) << last;
  }
  EXPECT_EQ(canonical_name(HeaderId::kCallId), "Call-ID");
  EXPECT_TRUE(is_list_header(HeaderId::kVia));
  EXPECT_FALSE(is_list_header(HeaderId::kWWWAuthenticate));
  EXPECT_FALSE(is_list_header(HeaderId::kDate));
  EXPECT_FALSE(is_list_header(HeaderId::kOther));
}

TEST(NameAddr, QuotedDisplayNameWithEscapes) {
  auto na = parse_name_addr(R"("Alice \"The\" Admin\\" <sip:alice@example.com;lr>;tag=abc;x="a;b")");
  ASSERT_TRUE(na.ok()) << na.error().message;
  EXPECT_TRUE(na->angle_brackets);
  EXPECT_EQ(na->display_name_decoded(), R"(Alice "The" Admin\)");
  EXPECT_EQ(na->uri_text, "sip:alice@example.com;lr");
  EXPECT_TRUE(na->uri.lr());  // URI param, inside <>
  EXPECT_EQ(na->tag(), "abc");
  EXPECT_EQ(na->param("x"), "\"a;b\"");
  EXPECT_EQ(unquote(*na->param("x")), "a;b");
}

TEST(NameAddr, TokenDisplayNameAndNoName) {
  auto na = parse_name_addr("Bob Smith <sips:bob@b.example.org>");
  ASSERT_TRUE(na.ok());
  EXPECT_EQ(na->display_name, "Bob Smith");
  EXPECT_EQ(na->uri.scheme, Scheme::kSips);
  auto na2 = parse_name_addr("<sip:bob@b.example.org>;tag=9");
  ASSERT_TRUE(na2.ok());
  EXPECT_TRUE(na2->display_name.empty());
  EXPECT_EQ(na2->tag(), "9");
}

TEST(NameAddr, AddrSpecParamsBelongToHeader) {
  auto na = parse_name_addr("sip:alice@example.com;tag=xyz;lr", "From");
  ASSERT_TRUE(na.ok());
  EXPECT_FALSE(na->angle_brackets);
  EXPECT_EQ(na->uri_text, "sip:alice@example.com");
  EXPECT_FALSE(na->uri.lr());
  EXPECT_TRUE(na->uri.params.empty());
  EXPECT_EQ(na->tag(), "xyz");
  EXPECT_TRUE(na->params.has("lr"));
}

TEST(NameAddr, Malformed) {
  for (const char* bad : {"", "\"unterminated <sip:a@b.com>", "<sip:a@b.com", "Bad\"Name <sip:a@b.com>",
                          "<>", "<sip:a@b.com>;", "<sip:a@b.com>;=x", "<sip:a@b.com>;t=",
                          "<sip:a@b.com> junk", "\"x\" sip:a@b.com", "<sip:a@1.2.3.999>",
                          "<sip:a@b.com>;x=\"open", "*"}) {
    auto r = parse_name_addr(bad, "To");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kMalformedHeader) << bad;
    EXPECT_EQ(r.error().header, "To");
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().reason, "Malformed To header");
  }
  EXPECT_TRUE(parse_name_addr("*", "Contact", true)->star);
}

TEST(NameAddr, OpaqueSchemeInHeader) {
  auto na = parse_name_addr("<urn:service:sos>");
  ASSERT_TRUE(na.ok());
  EXPECT_EQ(na->uri.scheme, Scheme::kOther);
}

TEST(QuotedString, Lengths) {
  EXPECT_EQ(quoted_string_length(R"("abc")"), 5u);
  EXPECT_EQ(quoted_string_length(R"("a\"c" rest)"), 6u);
  EXPECT_EQ(quoted_string_length(R"("a\\")"), 5u);
  EXPECT_EQ(quoted_string_length(R"("abc)"), 0u);
  EXPECT_EQ(quoted_string_length(R"("abc\")"), 0u);
  EXPECT_EQ(quoted_string_length("\"a\rb\""), 0u);
  EXPECT_EQ(unquote(R"("a\"b")"), "a\"b");
}

TEST(Via, FullParse) {
  auto v = parse_via(
      "SIP/2.0/TLS proxy.example.com:5061;branch=z9hG4bK74bf9;received=192.0.2.1;rport=5062;"
      "alias;maddr=224.2.0.1;ttl=16");
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->protocol_name, "SIP");
  EXPECT_EQ(v->protocol_version, "2.0");
  EXPECT_EQ(v->transport, "TLS");
  EXPECT_EQ(v->host, "proxy.example.com");
  EXPECT_EQ(v->port, 5061);
  EXPECT_EQ(v->branch(), "z9hG4bK74bf9");
  EXPECT_EQ(v->received(), "192.0.2.1");
  EXPECT_TRUE(v->has_rport());
  EXPECT_EQ(v->rport(), 5062);
  EXPECT_TRUE(v->alias());
  EXPECT_EQ(v->maddr(), "224.2.0.1");
  EXPECT_EQ(v->ttl(), 16);
}

TEST(Via, ValuelessRportIPv6AndSpacing) {
  auto v = parse_via("SIP / 2.0 / WSS [2001:db8::9:1] : 5070 ; rport ; branch = z9hG4bKx ; received=2001:db8::9:255");
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->transport, "WSS");
  EXPECT_EQ(v->host_type, HostType::kIPv6);
  EXPECT_EQ(v->port, 5070);
  EXPECT_TRUE(v->has_rport());
  EXPECT_FALSE(v->rport().has_value());
  EXPECT_EQ(v->branch(), "z9hG4bKx");
  EXPECT_FALSE(v->alias());
  EXPECT_FALSE(v->ttl().has_value());
  auto v2 = parse_via("SIP/2.0/SCTP host.example.com");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->transport, "SCTP");
  EXPECT_FALSE(v2->branch().has_value());
}

TEST(Via, Malformed) {
  for (const char* bad : {"", "SIP/2.0/UDP", "SIP/2.0 host.com", "SIP/2.0/UDPhost.com",
                          "SIP/2.0/UDP host.com:0", "SIP/2.0/UDP host.com:70000",
                          "SIP/2.0/UDP [2001:db8:::1]", "SIP/2.0/UDP 1.2.3.999",
                          "SIP/2.0/UDP h.com;branch", "SIP/2.0/UDP h.com;received=foo",
                          "SIP/2.0/UDP h.com;rport=0", "SIP/2.0/UDP h.com;ttl=256",
                          "SIP/2.0/UDP h.com;maddr=-x", "SIP/2.0/UDP h.com;;", "SIP/2.0/UDP h.com x",
                          "SIP//UDP h.com"}) {
    auto r = parse_via(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kMalformedHeader) << bad;
    EXPECT_EQ(r.error().reason, "Malformed Via header") << bad;
    EXPECT_EQ(r.error().message.rfind("Via: ", 0), 0u) << r.error().message;
  }
}

TEST(CSeq, ParseAndMalformed) {
  auto c = parse_cseq("4711 INVITE");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->number, 4711u);
  EXPECT_EQ(c->method, "INVITE");
  EXPECT_EQ(parse_cseq("2147483647 ACK")->number, 2147483647u);
  for (const char* bad : {"", "INVITE", "1", "1INVITE", "x 1", "2147483648 INVITE", "1 IN VITE",
                          "-1 ACK", "1 <BYE>"})
    EXPECT_FALSE(parse_cseq(bad).ok()) << bad;
}

TEST(Hosts, Helpers) {
  EXPECT_EQ(classify_host("example.com"), HostType::kHostname);
  EXPECT_EQ(classify_host("10.0.0.1"), HostType::kIPv4);
  EXPECT_EQ(classify_host("[::1]"), HostType::kIPv6);
  EXPECT_EQ(classify_host("[::1"), HostType::kNone);
  EXPECT_EQ(classify_host(""), HostType::kNone);
  EXPECT_TRUE(is_valid_ipv4("255.255.255.255"));
  EXPECT_FALSE(is_valid_ipv4("1.2.3.4.5"));
  EXPECT_FALSE(is_valid_ipv4("1.2.3."));
  EXPECT_TRUE(is_valid_ipv6("fe80::1"));
  EXPECT_FALSE(is_valid_ipv6("fe80::1%eth0"));
}

TEST(Hosts, Hostnames) {
  for (const char* ok : {"a", "example.com", "example.com.", "a-b.c-d.org", "x1.y2.z", "A.B.C",
                         "9a.example", "a.b9a"})
    EXPECT_TRUE(is_valid_hostname(ok)) << ok;
  for (const char* bad : {"", ".", "..", "a..b", ".a", "a.b..", "-a.com", "a-.com", "a.-b",
                          "a.b-", "a.9b", "123", "a.1", "a_b.com", "a b", "a.b:5060",
                          "ex\xc3\xa9.com", "a.com\r"})
    EXPECT_FALSE(is_valid_hostname(bad)) << bad;
  std::string label63(63, 'a'), label64(64, 'a');
  EXPECT_TRUE(is_valid_hostname(label63 + ".com"));
  EXPECT_FALSE(is_valid_hostname(label64 + ".com"));
  EXPECT_TRUE(is_valid_hostname("x." + label63));
  EXPECT_FALSE(is_valid_hostname("x." + label64));
  std::string long_name;
  while (long_name.size() < 260) long_name += "abcd.";
  long_name += "xyz";
  EXPECT_FALSE(is_valid_hostname(long_name));  // over 255 bytes
  EXPECT_TRUE(is_valid_hostname(long_name.substr(long_name.size() - 255)));
}

}  // namespace
}  // namespace fedgw::sip
