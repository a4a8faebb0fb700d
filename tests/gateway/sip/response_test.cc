// Tests of the gateway's own responses: make_response() under the caller's
// limits and with hostile reason texts, and make_response_to_malformed() for
// requests the parser rejected (what is answered, what is copied, what gets
// silence), including a deterministic mutation run over both builders.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/sip/framer.h"
#include "gateway/sip/message.h"
#include "gateway/sip/response.h"
#include "sip_test_util.h"

namespace fedgw::sip {
namespace {

using test::base_headers;
using test::make_request;
using test::simple_request;

Message parse_ok(const std::string& text, const ParseOptions& o = {}) {
  auto r = parse_message(text, o);
  EXPECT_TRUE(r.ok()) << r.error().message << "\n" << text;
  return r.ok() ? std::move(r).value() : Message{};
}

// The parser's own verdict on `text` (the test fails if it parses).
Error parse_error(const std::string& text) {
  ParseOptions o;
  o.stream = true;
  auto r = parse_message(text, o);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? Error{} : r.error();
}

std::string status_line(std::string_view response) {
  return std::string(response.substr(0, response.find("\r\n")));
}

// The header lines of a raw response (no status line, no blank line).
std::vector<std::string> lines_of(std::string_view response) {
  std::vector<std::string> out;
  size_t pos = response.find("\r\n") + 2;
  for (int i = 0; i < 10000 && pos < response.size(); ++i) {
    size_t end = response.find("\r\n", pos);
    if (end == std::string_view::npos || end == pos) break;
    out.emplace_back(response.substr(pos, end - pos));
    pos = end + 2;
  }
  return out;
}

// Well framed: CR and LF only as CRLF, no NUL, one blank line at the end.
void expect_well_framed(std::string_view r) {
  for (size_t i = 0; i < r.size(); ++i) {
    ASSERT_NE(r[i], '\0') << r;
    if (r[i] == '\r') {
      ASSERT_TRUE(i + 1 < r.size() && r[i + 1] == '\n') << r;
    }
    if (r[i] == '\n') {
      ASSERT_TRUE(i > 0 && r[i - 1] == '\r') << r;
    }
  }
  ASSERT_EQ(r.find("\r\n\r\n"), r.size() - 4) << r;
}

// ---------------------------------------------------------------- make_response

TEST(MakeResponse, ControlCharactersInReasonBecomeSpaces) {
  Message req = parse_ok(simple_request());
  // A DNS or TLS text with CR, LF and NUL in it (e.g. a certificate name).
  std::string reason("Bad Gateway - tls: CN=evil\r\nVia: x\0end", 38);
  auto r = make_response(req, 502, reason);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status_code(), 502);
  EXPECT_EQ(r->reason(), "Bad Gateway - tls: CN=evil  Via: x end");
  EXPECT_EQ(r->count(HeaderId::kVia), 1u);  // nothing was injected
  expect_well_framed(r->serialize());
  auto tab = make_response(req, 503, "a\tb\x7f" "c");
  ASSERT_TRUE(tab.ok());
  EXPECT_EQ(tab->reason(), "a\tb c");
}

TEST(MakeResponse, HonoursTheCallersLargerLimits) {
  // 100 Via values and a 20 kB head: over the default limits (70 Vias,
  // 16 kB), accepted under the configured ones.
  Limits big;
  big.max_via_values = 200;
  big.max_header_bytes = 65536;
  big.max_header_count = 256;
  auto h = base_headers();
  for (int i = 0; i < 99; ++i)
    h.insert(h.begin() + 1, "Via: SIP/2.0/TCP hop" + std::to_string(i) + ".example.com;branch=z9hG4bK" +
                                std::string(150, 'x') + std::to_string(i));
  ParseOptions o;
  o.limits = big;
  Message req = parse_ok(make_request(h), o);
  ASSERT_EQ(req.count(HeaderId::kVia), 100u);
  ASSERT_GT(req.raw().size(), Limits{}.max_header_bytes);
  auto r = make_response(req, 408, "Request Timeout", {}, big);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->count(HeaderId::kVia), 100u);
  EXPECT_EQ(r->vias().front().host, "a.example.com");
  EXPECT_EQ(r->vias().back().host, "hop0.example.com");
  // Also with the default limits argument: the response is never lost.
  auto d = make_response(req, 408, "Request Timeout");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->count(HeaderId::kVia), 100u);
}

TEST(MakeResponse, OverlongReasonIsTrimmedToTheLimits) {
  Message req = parse_ok(simple_request());
  Limits small;
  small.max_line_bytes = 200;
  small.max_header_bytes = 400;
  std::string reason = "Service Unavailable - " + std::string(5000, 'r');
  auto r = make_response(req, 503, reason, {}, small);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_LE(r->start_line().size() + 2, small.max_line_bytes);
  EXPECT_LE(r->raw().size(), small.max_header_bytes);
  EXPECT_EQ(r->reason().substr(0, 22), "Service Unavailable - ");
  EXPECT_EQ(r->call_id(), req.call_id());
  // With the default limits, a 20 kB reason still yields a response.
  auto d = make_response(req, 503, std::string(20000, 'z'));
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_LE(d->start_line().size() + 2, Limits{}.max_line_bytes);
}

TEST(MakeResponse, TrimmingKeepsUtf8Whole) {
  Message req = parse_ok(simple_request());
  Limits small;
  small.max_line_bytes = 12 + 2 + 7;  // room for 7 reason bytes
  std::string reason;
  for (int i = 0; i < 10; ++i) reason += "\xc3\xa9";  // "é" x 10
  auto r = make_response(req, 500, reason, {}, small);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->reason(), "\xc3\xa9\xc3\xa9\xc3\xa9");  // 6 bytes, not a dangling lead byte
}

TEST(MakeResponse, StillRefusesProgrammingErrors) {
  Message req = parse_ok(simple_request());
  EXPECT_FALSE(make_response(req, 99, "x").ok());
  EXPECT_FALSE(make_response(req, 700, "x").ok());
  EXPECT_FALSE(make_response(req, 200, "OK", "bad tag").ok());
  auto r = make_response(req, 200, "OK");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(make_response(*r, 200, "OK").ok());
}

// ------------------------------------------------------ make_response_to_malformed

TEST(MalformedResponse, MissingToIsAnsweredWithWhatExists) {
  auto h = base_headers();
  h.erase(h.begin() + 3);  // To
  std::string text = make_request(h);
  Error e = parse_error(text);
  ASSERT_EQ(e.kind, ErrorKind::kMissingHeader);
  auto r = make_response_to_malformed(text, e);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(status_line(*r), "SIP/2.0 400 Bad Request - missing To header");
  EXPECT_EQ(lines_of(*r), (std::vector<std::string>{
                              "Via: SIP/2.0/TLS a.example.com:5061;branch=z9hG4bK1",
                              "From: \"Alice\" <sip:alice@example.com>;tag=1928",
                              "Call-ID: abc123@a.example.com", "CSeq: 1 MESSAGE",
                              "Content-Length: 0"}));
  expect_well_framed(*r);
}

TEST(MalformedResponse, OnlyStartLineAndViaStillGetAnAnswer) {
  std::string text = "OPTIONS sip:bob@example.org SIP/2.0\r\n"
                     "Via: SIP/2.0/TCP c.example.com;branch=z9hG4bKonly\r\n"
                     "Content-Length: 0\r\n\r\n";
  Error e = parse_error(text);
  auto r = make_response_to_malformed(text, e);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(status_line(*r).substr(0, 24), "SIP/2.0 400 Bad Request ");
  EXPECT_EQ(lines_of(*r), (std::vector<std::string>{
                              "Via: SIP/2.0/TCP c.example.com;branch=z9hG4bKonly",
                              "Content-Length: 0"}));
}

TEST(MalformedResponse, MalformedCSeqFoldedViasAndToTag) {
  std::string text =
      "INVITE sip:bob@example.org SIP/2.0\r\n"
      "v: SIP/2.0/TCP one.example.com\r\n"
      "   ;branch=z9hG4bKa1, SIP/2.0/UDP two.example.com;branch=z9hG4bKa2\r\n"
      "Max-Forwards: 70\r\n"
      "t: <sip:bob@example.org>\r\n"
      "f: <sip:alice@example.com>\r\n"
      " ;tag=99\r\n"
      "Via: SIP/2.0/UDP three.example.com;branch=z9hG4bKa3\r\n"
      "i: cid-1@example.com\r\n"
      "CSeq: abc INVITE\r\n"
      "Content-Length: 0\r\n\r\n";
  Error e = parse_error(text);
  ASSERT_EQ(e.kind, ErrorKind::kMalformedHeader);
  ASSERT_EQ(e.header, "CSeq");
  auto r = make_response_to_malformed(text, e, "gwtag");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(status_line(*r), "SIP/2.0 400 Bad Request - malformed " + e.message);
  EXPECT_EQ(lines_of(*r),
            (std::vector<std::string>{
                "Via: SIP/2.0/TCP one.example.com ;branch=z9hG4bKa1, SIP/2.0/UDP two.example.com;branch=z9hG4bKa2",
                "Via: SIP/2.0/UDP three.example.com;branch=z9hG4bKa3",
                "From: <sip:alice@example.com> ;tag=99", "To: <sip:bob@example.org>;tag=gwtag",
                "Call-ID: cid-1@example.com", "CSeq: abc INVITE", "Content-Length: 0"}));
  expect_well_framed(*r);
}

TEST(MalformedResponse, ExistingToTagIsKeptAndGeneratedOtherwise) {
  auto h = base_headers();
  h[5] = "CSeq: 1 OPTIONS";  // method mismatch: 400
  std::string text = make_request(h);
  auto r = make_response_to_malformed(text, parse_error(text));
  ASSERT_TRUE(r.has_value());
  auto lines = lines_of(*r);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[2].substr(0, 30), "To: <sip:bob@example.org>;tag=");
  EXPECT_EQ(lines[2].size(), 30u + 16u);
  h[3] = "To: <sip:bob@example.org>;tag=abc";
  text = make_request(h);
  r = make_response_to_malformed(text, parse_error(text));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(lines_of(*r)[2], "To: <sip:bob@example.org>;tag=abc");
}

TEST(MalformedResponse, BrokenViaParamsStillAnswered) {
  // RFC 4475 3.1.2.1 (badinv01): extra separators in Via; a 400 is owed.
  auto h = base_headers("INVITE");
  h[0] = "Via: SIP/2.0/UDP 192.0.2.15;;,;,,";
  std::string text = make_request(h, "", "INVITE sip:user@example.com SIP/2.0");
  auto r = make_response_to_malformed(text, parse_error(text));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(status_line(*r).substr(0, 24), "SIP/2.0 400 Bad Request ");
  EXPECT_EQ(lines_of(*r).front(), "Via: SIP/2.0/UDP 192.0.2.15;;,;,,");
}

TEST(MalformedResponse, PreciseStatusPerErrorKind) {
  auto h = base_headers("OPTIONS");
  std::string v7 = make_request(h, "", "OPTIONS sip:t.watson@example.org SIP/7.0");
  auto r = make_response_to_malformed(v7, parse_error(v7));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(status_line(*r),
            "SIP/2.0 505 Version Not Supported - SIP version \"SIP/7.0\" is not supported");
  std::string scheme = make_request(h, "", "OPTIONS nobodyknowsthisscheme:totallyopaquecontent SIP/2.0");
  r = make_response_to_malformed(scheme, parse_error(scheme));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(status_line(*r).substr(0, 39), "SIP/2.0 416 Unsupported URI Scheme - Re");
  auto r483 = make_response_to_malformed(simple_request(), make_error(ErrorKind::kTooManyHops, "Max-Forwards: 0"));
  ASSERT_TRUE(r483.has_value());
  EXPECT_EQ(status_line(*r483), "SIP/2.0 483 Too Many Hops - Max-Forwards: 0");
  auto r420 = make_response_to_malformed(simple_request(),
                                         make_error(ErrorKind::kBadExtension, "Proxy-Require: foo"));
  ASSERT_TRUE(r420.has_value());
  EXPECT_EQ(status_line(*r420), "SIP/2.0 420 Bad Extension - Proxy-Require: foo");
}

TEST(MalformedResponse, BodyOverTheLimitGets413FromTheFramersHead) {
  ParseOptions o;
  o.stream = true;
  o.limits.max_body_bytes = 10;
  StreamFramer framer(o);
  test::Recorder rec;
  std::string text = simple_request(std::string(100, 'b'));
  EXPECT_FALSE(framer.feed(text, rec));
  ASSERT_EQ(rec.errors.size(), 1u);
  ASSERT_EQ(rec.errors[0].status, 413);
  ASSERT_FALSE(framer.failed_head().empty());
  auto r = make_response_to_malformed(framer.failed_head(), rec.errors[0]);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(status_line(*r).substr(0, 37), "SIP/2.0 413 Request Entity Too Large ");
  EXPECT_EQ(lines_of(*r).front(), "Via: SIP/2.0/TLS a.example.com:5061;branch=z9hG4bK1");
}

TEST(MalformedResponse, SilenceForTheUnanswerable) {
  Error e = make_error(ErrorKind::kMalformedHeader, "x: y", "x");
  auto h = base_headers();
  const std::string headers = make_request(h).substr(make_request(h).find("\r\n") + 2);
  // A response.
  EXPECT_FALSE(make_response_to_malformed("SIP/2.0 200 OK\r\n" + headers, e));
  // Not a request line.
  EXPECT_FALSE(make_response_to_malformed("hello world\r\nVia: SIP/2.0/TCP a;branch=z9hG4bK1\r\n\r\n", e));
  EXPECT_FALSE(make_response_to_malformed("INVITE sip:a@b HTTP/1.1\r\n" + headers, e));
  // No Via; an unreadable top Via; a top Via with a NUL.
  auto no_via = h;
  no_via.erase(no_via.begin());
  EXPECT_FALSE(make_response_to_malformed(make_request(no_via), e));
  auto bad_via = h;
  bad_via[0] = "Via: this is no via";
  EXPECT_FALSE(make_response_to_malformed(make_request(bad_via), e));
  bad_via[0] = "Via: SIP/2.0/UDP ;branch=z9hG4bK1";  // no sent-by
  EXPECT_FALSE(make_response_to_malformed(make_request(bad_via), e));
  bad_via[0] = std::string("Via: SIP/2.0/TCP a.example.com;branch=z9hG4bK\0x", 46);
  EXPECT_FALSE(make_response_to_malformed(make_request(bad_via), e));
  // ACK is never answered; an error without a SIP status has no response.
  EXPECT_FALSE(make_response_to_malformed(make_request(base_headers("ACK"), "", "ACK sip:bob@example.org SIP/2.0"), e));
  EXPECT_FALSE(make_response_to_malformed(simple_request(), make_error(ErrorKind::kInvalidArgument, "x")));
  // No complete start line.
  EXPECT_FALSE(make_response_to_malformed("INVITE sip:a@b SIP/2.0", e));
  EXPECT_FALSE(make_response_to_malformed("", e));
  // The same request with a good Via is answered (so the cases above are
  // silent for the reason they name).
  EXPECT_TRUE(make_response_to_malformed(make_request(h), e));
}

TEST(MalformedResponse, LaterUnreadableLinesAreLeftOut) {
  auto h = base_headers();
  h.insert(h.begin() + 1, std::string("Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK\x01", 46));
  h[3] = std::string("From: <sip:a@b>\x7f;tag=1", 23);
  std::string text = make_request(h);
  auto r = make_response_to_malformed(text, parse_error(text));
  ASSERT_TRUE(r.has_value());
  auto lines = lines_of(*r);
  ASSERT_EQ(lines.size(), 5u) << *r;
  EXPECT_EQ(lines[0], "Via: SIP/2.0/TLS a.example.com:5061;branch=z9hG4bK1");
  EXPECT_EQ(lines[1].substr(0, 4), "To: ");
  expect_well_framed(*r);
}

// Deterministic mutations of valid requests, run through the parser and both
// builders: every answer is well framed, and a request that parses gets an
// answer that parses with its Vias, Call-ID, CSeq and From tag.
TEST(MalformedResponse, MutatedRequestsNeverBreakTheBuilders) {
  const std::vector<std::string> seeds = {
      simple_request(),
      make_request({"v: SIP/2.0/TCP a.example.com;branch=z9hG4bK1,\r\n SIP/2.0/UDP b;branch=z9hG4bK2",
                    "t: <sip:bob@example.org>", "f: <sip:alice@example.com>;tag=1", "i: x@y",
                    "CSeq: 7 INVITE", "Max-Forwards: 1"},
                   "v=0\r\n", "INVITE sip:bob@example.org;transport=tcp SIP/2.0"),
      make_request(base_headers("OPTIONS"), "", "OPTIONS sips:[2001:db8::1]:5061 SIP/2.0"),
  };
  uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&state] {  // xorshift64: same sequence on every run
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  static const char kBytes[] = {'\r', '\n', ' ', ':', ';', ',', '"', '<', '>', '\0', '\t', 'a', '=', '/'};
  size_t answered = 0, parsed = 0, silent = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string m = seeds[next() % seeds.size()];
    int edits = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < edits && !m.empty(); ++k) {
      size_t at = next() % m.size();
      switch (next() % 5) {
        case 0: m.erase(at, 1 + next() % 8); break;
        case 1: m.insert(at, 1, kBytes[next() % sizeof(kBytes)]); break;
        case 2: m[at] = static_cast<char>(next() & 0xff); break;
        case 3: m.insert(at, m.substr(next() % m.size(), next() % 40)); break;
        case 4: m.resize(at); break;
      }
    }
    std::string reason(static_cast<size_t>(next() % 300), 'r');
    for (char& c : reason) c = static_cast<char>(next() & 0xff);
    ParseOptions o;
    o.stream = (next() & 1) != 0;
    auto p = parse_message(m, o);
    if (p.ok()) {
      if (!p->is_request() || p->method() == "ACK") continue;
      ++parsed;
      Limits lim;
      lim.max_line_bytes = 64 + next() % 512;
      auto r = make_response(*p, 400 + static_cast<int>(next() % 200), reason, {}, lim);
      ASSERT_TRUE(r.ok()) << r.error().message << "\n" << m;
      ASSERT_EQ(r->count(HeaderId::kVia), p->count(HeaderId::kVia));
      expect_well_framed(r->serialize());
      auto raw = make_response_to_malformed(m, make_error(ErrorKind::kMalformedHeader, reason, "X"));
      ASSERT_TRUE(raw.has_value()) << m;
      expect_well_framed(*raw);
      auto back = parse_message(*raw);
      ASSERT_TRUE(back.ok()) << back.error().message << "\n" << *raw << "\nfrom\n" << m;
      EXPECT_EQ(back->count(HeaderId::kVia), p->count(HeaderId::kVia));
      EXPECT_EQ(back->call_id(), p->call_id());
      EXPECT_EQ(back->cseq().number, p->cseq().number);
      EXPECT_EQ(back->from_tag(), p->from_tag());
      continue;
    }
    auto raw = make_response_to_malformed(m, p.error());
    if (p.error().status < 100) {
      ASSERT_FALSE(raw.has_value());
      continue;
    }
    if (!raw) {
      ++silent;
      continue;
    }
    ++answered;
    expect_well_framed(*raw);
    ASSERT_EQ(raw->rfind("SIP/2.0 " + std::to_string(p.error().status) + " ", 0), 0u) << *raw;
    ASSERT_EQ(raw->substr(raw->size() - 21), "Content-Length: 0\r\n\r\n");
  }
  // The run exercised all three outcomes.
  EXPECT_GT(parsed, 100u);
  EXPECT_GT(answered, 1000u);
  EXPECT_GT(silent, 100u);
}

}  // namespace
}  // namespace fedgw::sip
