// Message parsing: start lines, headers, validation, limits, round trips.
#include <gtest/gtest.h>

#include "gateway/sip/message.h"
#include "sip_test_util.h"

namespace fedgw::sip {
namespace {

using test::base_headers;
using test::make_request;
using test::simple_request;

Error parse_error(const std::string& text, const ParseOptions& o = {}) {
  auto r = parse_message(text, o);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? Error{} : r.error();
}

TEST(Parse, SimpleRequest) {
  std::string text = simple_request("hello");
  auto r = parse_message(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Message& m = *r;
  EXPECT_TRUE(m.is_request());
  EXPECT_EQ(m.method(), "MESSAGE");
  EXPECT_EQ(m.request_uri(), "sip:bob@example.org");
  EXPECT_EQ(m.version(), "SIP/2.0");
  EXPECT_EQ(m.parse_request_uri()->user, "bob");
  EXPECT_EQ(m.header_count(), 7u);
  EXPECT_EQ(m.call_id(), "abc123@a.example.com");
  EXPECT_EQ(m.cseq().number, 1u);
  EXPECT_EQ(m.cseq().method, "MESSAGE");
  EXPECT_EQ(m.max_forwards(), 70u);
  EXPECT_EQ(m.content_length(), 5u);
  EXPECT_EQ(m.body(), "hello");
  EXPECT_EQ(m.from_tag(), "1928");
  EXPECT_FALSE(m.to_tag().has_value());
  EXPECT_EQ(m.from().display_name_decoded(), "Alice");
  EXPECT_EQ(m.top_via().branch(), "z9hG4bK1");
  EXPECT_EQ(m.top_via().transport, "TLS");
  EXPECT_EQ(m.raw(), text);
  EXPECT_EQ(m.serialize(), text);
  EXPECT_FALSE(m.modified());
}

TEST(Parse, Response) {
  std::string text =
      "SIP/2.0 200 OK Fine\r\n"
      "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1;received=192.0.2.1\r\n"
      "From: <sip:alice@example.com>;tag=1\r\n"
      "To: <sip:bob@example.org>;tag=2\r\n"
      "Call-ID: x@y\r\n"
      "CSeq: 5 INVITE\r\n"
      "Content-Length: 0\r\n\r\n";
  auto r = parse_message(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->is_response());
  EXPECT_EQ(r->status_code(), 200);
  EXPECT_EQ(r->reason(), "OK Fine");
  EXPECT_EQ(r->to_tag(), "2");
  EXPECT_EQ(r->cseq().method, "INVITE");  // no method match for responses
  EXPECT_EQ(r->serialize(), text);
  // Empty reason phrase is allowed.
  std::string t2 = text;
  t2.replace(0, t2.find("\r\n"), "SIP/2.0 180 ");
  auto r2 = parse_message(t2);
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(r2->reason(), "");
}

TEST(Parse, CompactFormsFoundByCanonicalName) {
  std::string text =
      "OPTIONS sip:b.example.org SIP/2.0\r\n"
      "v: SIP/2.0/TCP a.example.com;branch=z9hG4bK9\r\n"
      "f: <sip:a@example.com>;tag=7\r\n"
      "t: sip:b@example.org\r\n"
      "i: cid-1\r\n"
      "CSeq: 2 OPTIONS\r\n"
      "m: <sip:a@192.0.2.4>\r\n"
      "k: path, gruu\r\n"
      "s: a subject, with comma\r\n"
      "o: presence\r\n"
      "u: presence, dialog\r\n"
      "c: text/plain\r\n"
      "e: gzip\r\n"
      "r: <sip:c@example.org>\r\n"
      "b: <sip:d@example.org>\r\n"
      "x: 1800;refresher=uac\r\n"
      "y: abc.def\r\n"
      "d: proxy, recurse\r\n"
      "a: *;audio\r\n"
      "l: 0\r\n\r\n";
  auto r = parse_message(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Message& m = *r;
  EXPECT_EQ(m.call_id(), "cid-1");
  EXPECT_EQ(m.get("Call-ID"), "cid-1");
  EXPECT_EQ(m.get("call-id"), "cid-1");
  EXPECT_EQ(m.get("i"), "cid-1");
  EXPECT_EQ(m.get(HeaderId::kContact), "<sip:a@192.0.2.4>");
  EXPECT_EQ(m.get_all("Supported"), (std::vector<std::string_view>{"path", "gruu"}));
  EXPECT_EQ(m.get("Subject"), "a subject, with comma");
  EXPECT_EQ(m.get("Event"), "presence");
  EXPECT_EQ(m.get_all("Allow-Events").size(), 2u);
  EXPECT_EQ(m.get("Content-Type"), "text/plain");
  EXPECT_EQ(m.get("Content-Encoding"), "gzip");
  EXPECT_EQ(m.get("Refer-To"), "<sip:c@example.org>");
  EXPECT_EQ(m.get("Referred-By"), "<sip:d@example.org>");
  EXPECT_EQ(m.get("Session-Expires"), "1800;refresher=uac");
  EXPECT_EQ(m.get("Identity"), "abc.def");
  EXPECT_EQ(m.get_all("Request-Disposition").size(), 2u);
  EXPECT_EQ(m.get("Accept-Contact"), "*;audio");
  EXPECT_EQ(m.content_length(), 0u);
  EXPECT_EQ(m.to().uri_text, "sip:b@example.org");
  EXPECT_EQ(m.header(0).name, "v");
  EXPECT_EQ(m.header(0).id, HeaderId::kVia);
  EXPECT_EQ(m.serialize(), text);
}

TEST(Parse, MultiValueSplitAndNonSplit) {
  auto headers = base_headers();
  headers[0] =
      "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2";
  headers.push_back("Via: SIP/2.0/UDP c.example.com;branch=z9hG4bK3");
  headers.push_back("Route: <sip:p1.example.com;lr>, \"Odd, Name\" <sip:a,b@p2.example.com;lr>");
  headers.push_back("Contact: \"Bob, Jr\" <sip:bob@192.0.2.4>;q=0.5, <sip:bob@192.0.2.5>");
  headers.push_back("Allow: INVITE, ACK,CANCEL ,BYE");
  headers.push_back("Require: 100rel");
  headers.push_back("Proxy-Require: foo, bar");
  headers.push_back("Unsupported: baz");
  headers.push_back("Accept: text/plain, application/sdp");
  headers.push_back("Accept-Encoding: gzip, identity");
  headers.push_back("Accept-Language: en, fr;q=0.5");
  headers.push_back("Record-Route: <sip:rr1.example.com;lr>, <sip:rr2.example.com;lr>");
  headers.push_back(
      "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc\", qop=\"auth,auth-int\"");
  headers.push_back("Authorization: Digest username=\"a\", realm=\"b\", uri=\"sip:b\"");
  headers.push_back("Date: Sat, 13 Nov 2010 23:29:00 GMT");
  headers.push_back("X-Custom: a, b, c");
  auto r = parse_message(make_request(headers));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Message& m = *r;
  EXPECT_EQ(m.count(HeaderId::kVia), 3u);
  auto vias = m.vias();
  ASSERT_EQ(vias.size(), 3u);
  EXPECT_EQ(vias[1].host, "b.example.com");
  EXPECT_EQ(vias[2].branch(), "z9hG4bK3");
  auto routes = m.routes();
  ASSERT_TRUE(routes.ok());
  ASSERT_EQ(routes->size(), 2u);
  EXPECT_TRUE((*routes)[0].uri.lr());
  EXPECT_EQ((*routes)[1].display_name_decoded(), "Odd, Name");
  auto contacts = m.contacts();
  ASSERT_TRUE(contacts.ok());
  ASSERT_EQ(contacts->size(), 2u);
  EXPECT_EQ((*contacts)[0].param("q"), "0.5");
  EXPECT_EQ(m.get_all("Allow"), (std::vector<std::string_view>{"INVITE", "ACK", "CANCEL", "BYE"}));
  EXPECT_EQ(m.get_all("Proxy-Require").size(), 2u);
  EXPECT_EQ(m.get_all("Accept").size(), 2u);
  EXPECT_EQ(m.get_all("Accept-Encoding").size(), 2u);
  EXPECT_EQ(m.get_all("Accept-Language").size(), 2u);
  EXPECT_EQ(m.get_all("Unsupported").size(), 1u);
  EXPECT_EQ(m.record_routes()->size(), 2u);
  // Not lists: values with commas stay whole.
  EXPECT_EQ(m.get_all("WWW-Authenticate").size(), 1u);
  EXPECT_EQ(m.get_all("Authorization").size(), 1u);
  EXPECT_EQ(m.get("Date"), "Sat, 13 Nov 2010 23:29:00 GMT");
  EXPECT_EQ(m.get_all("x-custom"), (std::vector<std::string_view>{"a, b, c"}));
}

TEST(Parse, ContactStar) {
  auto h = base_headers("REGISTER");
  h.push_back("Contact: *");
  h.push_back("Expires: 0");
  auto r = parse_message(make_request(h, "", "REGISTER sip:example.org SIP/2.0"));
  ASSERT_TRUE(r.ok());
  auto c = r->contacts();
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 1u);
  EXPECT_TRUE((*c)[0].star);
  auto h2 = base_headers("REGISTER");
  h2.push_back("Contact: *, <sip:a@b.com>");
  auto r2 = parse_message(make_request(h2, "", "REGISTER sip:example.org SIP/2.0"));
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(r2->contacts().ok());
}

TEST(Parse, FoldingAndLws) {
  std::string text =
      "MESSAGE sip:bob@example.org SIP/2.0\r\n"
      "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1,\r\n"
      "  SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n"
      "Max-Forwards:70\r\n"
      "From  :   <sip:alice@example.com>;tag=1   \r\n"
      "To: <sip:bob@example.org>\r\n"
      "Subject: I know you're there,\r\n"
      "\tpick up the phone\r\n"
      "  and talk to me!\r\n"
      "Call-ID: abc\r\n"
      "CSeq:\r\n 1 MESSAGE\r\n"
      "Content-Length: 0\r\n\r\n";
  auto r = parse_message(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->get("Subject"), "I know you're there, pick up the phone and talk to me!");
  EXPECT_EQ(r->count(HeaderId::kVia), 2u);
  EXPECT_EQ(r->vias()[1].host, "b.example.com");
  EXPECT_EQ(r->max_forwards(), 70u);
  EXPECT_EQ(r->from_tag(), "1");
  EXPECT_EQ(r->cseq().number, 1u);
  EXPECT_EQ(r->serialize(), text);  // byte-exact with folds
}

TEST(Parse, LeadingCrlfSkippedAndTrailingBytesDiscarded) {
  std::string text = simple_request("hello");
  auto r = parse_message("\r\n\r\n" + text + "EXTRA");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->raw(), text);
  EXPECT_EQ(r->body(), "hello");
}

TEST(Parse, ContentLengthOptionalOnDatagrams) {
  auto r = parse_message(make_request(base_headers(), "the body", "MESSAGE sip:b@x.org SIP/2.0", false));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->body(), "the body");
  EXPECT_FALSE(r->content_length().has_value());
  ParseOptions stream;
  stream.stream = true;
  Error e = parse_error(make_request(base_headers(), "", "MESSAGE sip:b@x.org SIP/2.0", false), stream);
  EXPECT_EQ(e.kind, ErrorKind::kMissingContentLength);
}

TEST(Parse, TruncatedBody) {
  std::string text = simple_request("hello");
  Error e = parse_error(text.substr(0, text.size() - 2));
  EXPECT_EQ(e.kind, ErrorKind::kTruncatedBody);
  EXPECT_EQ(e.status, 400);
}

TEST(Parse, ContentLengthErrors) {
  struct {
    const char* value;
    ErrorKind kind;
    const char* msg;
  } cases[] = {
      {"abc", ErrorKind::kBadContentLength, "Content-Length: \"abc\" is not a number"},
      {"-5", ErrorKind::kBadContentLength, "Content-Length: \"-5\" is negative"},
      {"5, 5", ErrorKind::kBadContentLength, "Content-Length: \"5, 5\" is not a number"},
      {"", ErrorKind::kBadContentLength, "Content-Length: empty value"},
      {"99999999999999999999999", ErrorKind::kBadContentLength,
       "Content-Length: \"99999999999999999999999\" overflows"},
      {"65537", ErrorKind::kBodyTooLarge, nullptr},
  };
  for (const auto& c : cases) {
    auto h = base_headers();
    h.push_back(std::string("Content-Length: ") + c.value);
    Error e = parse_error(make_request(h, "", "MESSAGE sip:b@x.org SIP/2.0", false));
    EXPECT_EQ(e.kind, c.kind) << c.value;
    if (c.msg) {
      EXPECT_EQ(e.message, c.msg);
    }
    EXPECT_EQ(e.header, "Content-Length");
    EXPECT_FALSE(e.close_connection);  // datagram
  }
  auto h = base_headers();
  h.push_back("Content-Length: 0");
  h.push_back("l: 0");
  Error dup = parse_error(make_request(h, "", "MESSAGE sip:b@x.org SIP/2.0", false));
  EXPECT_EQ(dup.kind, ErrorKind::kConflictingContentLength);
  Error big = parse_error(make_request(base_headers(), std::string(70000, 'x')));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.reason, "Request Entity Too Large");
  // Leading zeros are fine.
  auto h2 = base_headers();
  h2.push_back("Content-Length: 0005");
  EXPECT_TRUE(parse_message(make_request(h2, "hello", "MESSAGE sip:b@x.org SIP/2.0", false) + "hello").ok());
}

TEST(Parse, StartLineErrors) {
  auto h = base_headers();
  Error e1 = parse_error(make_request(h, "", "MESSAGE sip:bob@example.org SIP/3.0"));
  EXPECT_EQ(e1.kind, ErrorKind::kVersionNotSupported);
  EXPECT_EQ(e1.status, 505);
  Error e2 = parse_error(make_request(h, "", "MESSAGE http://example.org SIP/2.0"));
  EXPECT_EQ(e2.kind, ErrorKind::kUnsupportedUriScheme);
  EXPECT_EQ(e2.status, 416);
  Error e3 = parse_error(make_request(h, "", "MESSAGE sip:bob@1.2.3.999 SIP/2.0"));
  EXPECT_EQ(e3.kind, ErrorKind::kMalformedUri);
  EXPECT_EQ(e3.status, 400);
  for (const char* bad : {"MESSAGE sip:bob@example.org", "MESSAGE  SIP/2.0", "MESS@GE sip:b@x.org SIP/2.0",
                          "MESSAGE sip:b@x.org HTTP/1.1", "GET / HTTP/1.1", "SIP/2.0 99 Low",
                          "SIP/2.0 700 High", "SIP/2.0 2000 OK", "SIP/2.0", "SIP/2.0 abc OK"}) {
    Error e = parse_error(make_request(h, "", bad));
    EXPECT_EQ(e.kind, ErrorKind::kMalformedStartLine) << bad;
    EXPECT_EQ(e.status, 400) << bad;
  }
  Error e4 = parse_error(make_request(h, "", "MESSAGE sip:b@x.org  SIP/2.0"));
  EXPECT_EQ(e4.kind, ErrorKind::kMalformedUri);
  Error e5 = parse_error(make_request(h, "", "SIP/1.0 200 OK"));
  EXPECT_EQ(e5.status, 505);
  // tel: and sips: Request-URIs are supported.
  auto h2 = base_headers();
  EXPECT_TRUE(parse_message(make_request(h2, "", "MESSAGE tel:+15551234 SIP/2.0")).ok());
  EXPECT_TRUE(parse_message(make_request(h2, "", "MESSAGE sips:b@x.org SIP/2.0")).ok());
}

TEST(Parse, MissingMandatoryHeaders) {
  const char* names[] = {"Via", "From", "To", "Call-ID", "CSeq"};
  for (size_t i = 0; i < 6; ++i) {
    if (i == 1) continue;  // Max-Forwards is optional
    auto h = base_headers();
    std::string removed = h[i].substr(0, h[i].find(':'));
    h.erase(h.begin() + i);
    Error e = parse_error(make_request(h));
    EXPECT_EQ(e.kind, ErrorKind::kMissingHeader) << removed;
    EXPECT_EQ(e.header, removed);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.reason, "Missing " + removed + " header");
  }
  (void)names;
  auto h = base_headers();
  h.erase(h.begin() + 1);
  auto r = parse_message(make_request(h));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->max_forwards().has_value());
}

TEST(Parse, MalformedHeaders) {
  struct {
    size_t index;
    const char* line;
    const char* header;
  } cases[] = {
      {0, "Via: SIP/2.0/UDP", "Via"},
      {0, "Via: SIP/2.0/UDP a.com;branch=z9hG4bK1, garbage", "Via"},
      {0, "Via: SIP/2.0/UDP [2001:db8:::1];branch=z9hG4bK1", "Via"},
      {1, "Max-Forwards: ten", "Max-Forwards"},
      {1, "Max-Forwards: -1", "Max-Forwards"},
      {2, "From: <sip:alice@example.com", "From"},
      {3, "To: \"Bob <sip:bob@example.org>", "To"},
      {4, "Call-ID: has space", "Call-ID"},
      {4, "Call-ID:", "Call-ID"},
      {5, "CSeq: one MESSAGE", "CSeq"},
  };
  for (const auto& c : cases) {
    auto h = base_headers();
    h[c.index] = c.line;
    Error e = parse_error(make_request(h));
    EXPECT_EQ(e.kind, ErrorKind::kMalformedHeader) << c.line;
    EXPECT_EQ(e.header, c.header) << c.line;
    EXPECT_EQ(e.reason, std::string("Malformed ") + c.header + " header") << c.line;
    EXPECT_EQ(e.status, 400);
  }
  auto h = base_headers();
  h.push_back("Route: <sip:p1.example.com;lr");
  EXPECT_EQ(parse_error(make_request(h)).header, "Route");
}

TEST(Parse, ViaBranchRequired) {
  auto h = base_headers();
  h[0] = "Via: SIP/2.0/UDP a.example.com";
  Error e = parse_error(make_request(h));
  EXPECT_EQ(e.message, "Via: missing branch");
  EXPECT_EQ(e.reason, "Malformed Via header");
  ParseOptions o;
  o.require_via_branch = false;
  EXPECT_TRUE(parse_message(make_request(h), o).ok());
}

TEST(Parse, CSeqMethodMismatch) {
  auto h = base_headers("INVITE");
  Error e = parse_error(make_request(h));
  EXPECT_EQ(e.kind, ErrorKind::kCSeqMethodMismatch);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.header, "CSeq");
}

TEST(Parse, DuplicateSingleHeaders) {
  auto h = base_headers();
  h.push_back("f: <sip:other@example.com>;tag=2");
  Error e = parse_error(make_request(h));
  EXPECT_EQ(e.kind, ErrorKind::kDuplicateHeader);
  EXPECT_EQ(e.header, "From");
}

TEST(Parse, LineStructureErrors) {
  std::string good = simple_request("");
  // Bare LF.
  std::string bare_lf = good;
  bare_lf.replace(bare_lf.find("\r\nMax-Forwards"), 2, "\n");
  EXPECT_EQ(parse_error(bare_lf).kind, ErrorKind::kMalformedHeader);
  // Bare CR inside a value.
  std::string bare_cr = good;
  bare_cr.insert(bare_cr.find("abc123") + 3, "\r");
  EXPECT_EQ(parse_error(bare_cr).kind, ErrorKind::kMalformedHeader);
  // No colon, bad name, continuation without header.
  for (const char* bad : {"NoColonHere", "Bad Name: x", ": novalue", "Bad@Name: x"}) {
    auto h = base_headers();
    h.push_back(bad);
    EXPECT_EQ(parse_error(make_request(h)).kind, ErrorKind::kMalformedHeader) << bad;
  }
  std::string cont = "MESSAGE sip:b@x.org SIP/2.0\r\n continuation\r\n" + good.substr(good.find("\r\n") + 2);
  EXPECT_EQ(parse_error(cont).kind, ErrorKind::kMalformedHeader);
  // No blank line.
  EXPECT_EQ(parse_error(good.substr(0, good.size() - 2)).kind, ErrorKind::kMalformedHeader);
  EXPECT_EQ(parse_error("").kind, ErrorKind::kMalformedStartLine);
  EXPECT_EQ(parse_error("\r\n\r\n").kind, ErrorKind::kMalformedStartLine);
}

// The line scanner finds CR and LF in one pass; error precedence must not
// depend on where in a 16-byte block a CR or LF falls.
TEST(Parse, LineStructureErrorPrecedence) {
  std::string good = simple_request("");
  const std::string bare_cr_msg = "bare CR inside a header line";
  // A bare CR is reported after the whole header section was scanned, so a
  // later bare LF wins.
  std::string both = good;
  both.insert(both.find("abc123") + 3, "\r");
  both.replace(both.find("\r\nCSeq"), 2, "\n");
  Error e = parse_error(both);
  EXPECT_EQ(e.message, "header line not terminated by CRLF (bare LF)");
  // ... and so does a malformed header line after it.
  auto h = base_headers();
  h[4] = "Call-ID: abc\r123@a.example.com";
  h.push_back("NoColonHere");
  e = parse_error(make_request(h));
  EXPECT_NE(e.message.find("without colon"), std::string::npos) << e.message;
  // CR CR LF, CR at the very end of the value, CR as the last byte before
  // the blank line, and a bare CR at every offset of a long value.
  for (const char* v : {"abc\r", "\rabc", "a\rb\rc"}) {
    auto hh = base_headers();
    hh.push_back(std::string("Subject: ") + v);
    EXPECT_EQ(parse_error(make_request(hh)).message, bare_cr_msg) << v;
  }
  for (size_t at = 0; at <= 40; ++at) {
    auto hh = base_headers();
    std::string value(40, 'x');
    value.insert(at, "\r");
    hh.push_back("Subject: " + value);
    EXPECT_EQ(parse_error(make_request(hh)).message, bare_cr_msg) << at;
  }
  // A CR right before the end of the searched region: unterminated.
  EXPECT_EQ(parse_error(good.substr(0, good.size() - 1)).kind, ErrorKind::kMalformedHeader);
  // Long folded lines with CRLFs at every block offset parse fine.
  for (size_t pad = 0; pad < 20; ++pad) {
    auto hh = base_headers();
    hh.push_back("Subject: a" + std::string(pad, 'y') + "\r\n  folded " + std::string(pad, 'z') + "b");
    auto r = parse_message(make_request(hh));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->get("Subject"), "a" + std::string(pad, 'y') + " folded " + std::string(pad, 'z') + "b");
  }
}

TEST(Parse, TopViaBranchFromFirstValueOnly) {
  auto h = base_headers();
  h[0] = "Via: SIP/2.0/UDP a.example.com;BRANCH=z9hG4bK1, SIP/2.0/UDP b.example.com";
  EXPECT_TRUE(parse_message(make_request(h)).ok());
  h[0] = "Via: SIP/2.0/UDP a.example.com;received=192.0.2.1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2";
  EXPECT_EQ(parse_error(make_request(h)).message, "Via: missing branch");
  h[0] = "Via: SIP/2.0/UDP a.example.com;branchx=1;xbranch=2";
  EXPECT_EQ(parse_error(make_request(h)).message, "Via: missing branch");
}

TEST(Limits, HeaderSectionTooLarge) {
  Limits l;
  l.max_header_bytes = 300;
  auto h = base_headers();
  h.push_back("X-Pad: " + std::string(250, 'p'));
  auto r = parse_datagram(make_request(h), l);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kHeaderSectionTooLarge);
  EXPECT_EQ(r.error().status, 400);
  auto h2 = base_headers();
  EXPECT_TRUE(parse_datagram(make_request(h2), l).ok());
}

TEST(Limits, HeaderLineTooLong) {
  Limits l;
  l.max_line_bytes = 100;
  auto h = base_headers();
  h.push_back("X-Long: " + std::string(100, 'x'));
  auto r = parse_datagram(make_request(h), l);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kHeaderLineTooLong);
  auto h2 = base_headers();
  h2.push_back("X-Long: " + std::string(80, 'x'));
  EXPECT_TRUE(parse_datagram(make_request(h2), l).ok());
  // Also applies to the start line.
  auto r3 = parse_datagram(make_request(base_headers(), "", "MESSAGE sip:" + std::string(100, 'a') + "@b.org SIP/2.0"), l);
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.error().kind, ErrorKind::kHeaderLineTooLong);
}

TEST(Limits, TooManyHeaders) {
  Limits l;
  l.max_header_count = 10;
  auto h = base_headers();  // 6 + Content-Length = 7
  h.push_back("X-A: 1");
  h.push_back("X-B: 1");
  h.push_back("X-C: 1");
  EXPECT_TRUE(parse_datagram(make_request(h), l).ok());  // exactly 10
  h.push_back("X-D: 1");
  auto r = parse_datagram(make_request(h), l);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kTooManyHeaders);
}

TEST(Limits, BodyTooLarge) {
  Limits l;
  l.max_body_bytes = 10;
  EXPECT_TRUE(parse_datagram(simple_request(std::string(10, 'b')), l).ok());
  auto r = parse_datagram(simple_request(std::string(11, 'b')), l);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kBodyTooLarge);
  EXPECT_EQ(r.error().status, 413);
  // Without Content-Length (datagram) too.
  auto r2 = parse_datagram(make_request(base_headers(), "", "MESSAGE sip:b@x.org SIP/2.0", false) +
                               std::string(11, 'b'),
                           l);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().kind, ErrorKind::kBodyTooLarge);
}

TEST(Limits, TooManyViaAndRouteValues) {
  Limits l;
  l.max_via_values = 3;
  l.max_route_values = 2;
  auto h = base_headers();
  h.push_back("Via: SIP/2.0/UDP b.com, SIP/2.0/UDP c.com");
  EXPECT_TRUE(parse_datagram(make_request(h), l).ok());
  h.push_back("v: SIP/2.0/UDP d.com");
  auto r = parse_datagram(make_request(h), l);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kTooManyValues);
  EXPECT_EQ(r.error().header, "Via");
  auto h2 = base_headers();
  h2.push_back("Route: <sip:a.com;lr>, <sip:b.com;lr>");
  EXPECT_TRUE(parse_datagram(make_request(h2), l).ok());
  h2.push_back("Record-Route: <sip:c.com;lr>");
  auto r2 = parse_datagram(make_request(h2), l);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().kind, ErrorKind::kTooManyValues);
}

TEST(RoundTrip, VariedMessagesAreByteExact) {
  std::vector<std::string> msgs = {
      simple_request("hi"),
      "INVITE sip:bob@b.example.org;transport=tcp SIP/2.0\r\n"
      "Via: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bKa;rport\r\n"
      "Route: <sip:p1.example.org;lr>\r\n"
      "Max-Forwards: 10\r\n"
      "To: Bob <sip:bob@b.example.org>\r\n"
      "From: \"A \\\"q\\\" B\" <sip:a@a.example.org>;tag=x\r\n"
      "Call-ID: 1@2\r\n"
      "CSeq: 314159 INVITE\r\n"
      "Contact: <sip:a@[2001:db8::1]>\r\n"
      "Content-Type: application/sdp\r\n"
      "Content-Length: 4\r\n\r\nv=0\n",
      "SIP/2.0 100 Trying\r\nv: SIP/2.0/UDP h.com;branch=z9hG4bK1\r\nf: <sip:a@b.c>;tag=1\r\n"
      "t: <sip:b@b.c>\r\ni: q\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n",
  };
  for (const auto& text : msgs) {
    auto r = parse_message(text);
    ASSERT_TRUE(r.ok()) << r.error().message << "\n" << text;
    EXPECT_EQ(r->serialize(), text);
    EXPECT_EQ(r->serialized_size(), text.size());
    auto again = parse_message(r->serialize());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->header_count(), r->header_count());
  }
}

TEST(Errors, KindNamesAndStatuses) {
  EXPECT_EQ(error_kind_name(ErrorKind::kBodyTooLarge), "BodyTooLarge");
  EXPECT_EQ(make_error(ErrorKind::kTooManyHops, "x").status, 483);
  EXPECT_EQ(make_error(ErrorKind::kBadExtension, "x").status, 420);
  EXPECT_EQ(make_error(ErrorKind::kUnsupportedUriScheme, "x").reason, "Unsupported URI Scheme");
  EXPECT_EQ(make_error(ErrorKind::kMalformedHeader, "x", "Via").reason, "Malformed Via header");
}

}  // namespace
}  // namespace fedgw::sip

namespace fedgw::sip {
namespace {

// top_via_branch() is top_via().branch() without the full Via parse: the same answer on every shape.
TEST(Parse, TopViaBranchAgreesWithTheFullViaParse) {
  const char* vias[] = {
      "Via: SIP/2.0/TCP a.example.com;branch=z9hG4bK1\r\n",
      "Via: SIP/2.0/TCP a.example.com:5060 ; received=192.0.2.1 ;BRANCH = z9hG4bKcase\r\n",
      "Via: SIP/2.0/TLS [2001:db8::1]:5061;x=\"a;branch=fake\";branch=z9hG4bKquoted\r\n",
      "Via: SIP/2.0/TCP a.example.com;branch=z9hG4bKfirst, SIP/2.0/TCP b.example.com;branch=z9hG4bKsecond\r\n",
      "Via: SIP/2.0/TCP a.example.com;rport\r\nVia: SIP/2.0/TCP b.example.com;branch=z9hG4bKlower\r\n",
      "v: SIP/2.0/TCP a.example.com;branch=z9hG4bKcompact;alias\r\n",
  };
  for (const char* via : vias) {
    std::string text = std::string("SIP/2.0 200 OK\r\n") + via +
                       "From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.org>;tag=2\r\n"
                       "Call-ID: x@y\r\nCSeq: 5 MESSAGE\r\nContent-Length: 0\r\n\r\n";
    auto r = parse_message(text);
    ASSERT_TRUE(r.ok()) << via << r.error().message;
    EXPECT_EQ(r->top_via_branch(), r->top_via().branch()) << via;
  }
  auto r = parse_message(std::string("SIP/2.0 200 OK\r\n") + vias[2] +
                         "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n\r\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->top_via_branch(), "z9hG4bKquoted");
  auto edited = *r;
  ASSERT_TRUE(edited.prepend_via("SIP/2.0/TLS gw.example.net;branch=z9hG4bKours").ok());
  EXPECT_EQ(edited.top_via_branch(), "z9hG4bKours");
  ASSERT_TRUE(edited.remove_top_via());
  EXPECT_EQ(edited.top_via_branch(), "z9hG4bKquoted");
}

}  // namespace
}  // namespace fedgw::sip
