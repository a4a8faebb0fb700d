// Stream framer: chunking independence, keep-alives, framing errors.
#include <gtest/gtest.h>

#include "gateway/sip/framer.h"
#include "sip_test_util.h"

namespace fedgw::sip {
namespace {

using test::base_headers;
using test::make_request;
using test::Recorder;
using test::simple_request;

std::vector<std::string> feed_chunks(const std::string& stream, const std::vector<size_t>& cuts,
                                     ParseOptions o = {}) {
  StreamFramer f(o);
  Recorder rec;
  size_t prev = 0;
  for (size_t c : cuts) {
    f.feed(std::string_view(stream).substr(prev, c - prev), rec);
    prev = c;
  }
  f.feed(std::string_view(stream).substr(prev), rec);
  return rec.events;
}

std::string mixed_stream() {
  std::string bad_via = make_request(
      {"Via: SIP/2.0/UDP", "From: <sip:a@b.com>;tag=1", "To: <sip:b@b.com>", "Call-ID: 9",
       "CSeq: 1 MESSAGE"},
      "xyz");
  return std::string("\r\n\r\n") + simple_request("first body") + "\r\n" +
         simple_request("") + bad_via + "\r\n\r\n" + "\r\n\r\n" +
         make_request(base_headers(), std::string(300, 'z')) + "\r\n" +
         simple_request("last\r\n\r\nwith crlfs");
}

TEST(Framer, WholeStreamEvents) {
  auto events = feed_chunks(mixed_stream(), {});
  ASSERT_EQ(events.size(), 10u);
  EXPECT_EQ(events[0], "ping");
  EXPECT_EQ(events[1], "msg:" + simple_request("first body"));
  EXPECT_EQ(events[2], "pong");
  EXPECT_EQ(events[3], "msg:" + simple_request(""));
  EXPECT_EQ(events[4].rfind("bad:Malformed Via header:", 0), 0u);
  EXPECT_EQ(events[5], "ping");
  EXPECT_EQ(events[6], "ping");
  EXPECT_EQ(events[7].substr(0, 4), "msg:");
  EXPECT_EQ(events[8], "pong");
  EXPECT_EQ(events[9], "msg:" + simple_request("last\r\n\r\nwith crlfs"));
}

TEST(Framer, SplitAtEveryByteGivesSameEvents) {
  const std::string stream = mixed_stream();
  const auto expected = feed_chunks(stream, {});
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    ASSERT_EQ(feed_chunks(stream, {cut}), expected) << "split at " << cut;
  }
  // Three chunks at a spread of positions.
  for (size_t a = 1; a < stream.size(); a += 37)
    for (size_t b = a; b < stream.size(); b += 53)
      ASSERT_EQ(feed_chunks(stream, {a, b}), expected) << a << "," << b;
  // Byte by byte.
  std::vector<size_t> all;
  for (size_t i = 1; i < stream.size(); ++i) all.push_back(i);
  EXPECT_EQ(feed_chunks(stream, all), expected);
}

TEST(Framer, MessagesParsedWithAccessors) {
  StreamFramer f;
  Recorder rec;
  std::string two = simple_request("a") + simple_request("bb");
  EXPECT_TRUE(f.feed(two, rec));
  ASSERT_EQ(rec.messages.size(), 2u);
  EXPECT_EQ(rec.messages[1].body(), "bb");
  EXPECT_EQ(rec.messages[0].call_id(), "abc123@a.example.com");
  EXPECT_EQ(f.buffered_bytes(), 0u);
}

TEST(Framer, LoneCrlfWaitsForNextByteUnlessAwaitingPong) {
  StreamFramer f;
  Recorder rec;
  f.feed("\r\n", rec);
  EXPECT_TRUE(rec.events.empty());
  EXPECT_TRUE(f.keepalive_pending());
  f.feed("\r\n", rec);
  EXPECT_EQ(rec.events, (std::vector<std::string>{"ping"}));
  StreamFramer g;
  Recorder rec2;
  g.set_awaiting_pong(true);
  g.feed("\r\n", rec2);
  EXPECT_EQ(rec2.events, (std::vector<std::string>{"pong"}));
  EXPECT_FALSE(g.keepalive_pending());
}

struct StreamErrorCase {
  std::string name;
  std::string data;
  ErrorKind kind;
  int status;
};

TEST(Framer, FatalFramingErrorsCloseTheConnection) {
  auto with_cl = [](const std::string& cl) {
    auto h = base_headers();
    h.push_back("Content-Length: " + cl);
    return make_request(h, "", "MESSAGE sip:b@x.org SIP/2.0", false);
  };
  auto dup = base_headers();
  dup.push_back("Content-Length: 0");
  dup.push_back("l: 0");
  std::vector<StreamErrorCase> cases = {
      {"missing", make_request(base_headers(), "", "MESSAGE sip:b@x.org SIP/2.0", false),
       ErrorKind::kMissingContentLength, 400},
      {"non-numeric", with_cl("abc"), ErrorKind::kBadContentLength, 400},
      {"negative", with_cl("-1"), ErrorKind::kBadContentLength, 400},
      {"overflow", with_cl("123456789012345678901234567890"), ErrorKind::kBadContentLength, 400},
      {"duplicate", make_request(dup, "", "MESSAGE sip:b@x.org SIP/2.0", false),
       ErrorKind::kConflictingContentLength, 400},
      {"body too large", with_cl("70000"), ErrorKind::kBodyTooLarge, 413},
      {"garbage", "hello\r\n\r\n", ErrorKind::kMissingContentLength, 400},
      {"bare CR keepalive", "\r\r\n", ErrorKind::kInvalidStreamData, 400},
      {"bare LF line", "MESSAGE sip:b@x.org SIP/2.0\nVia: x\r\n\r\n", ErrorKind::kMalformedStartLine, 400},
  };
  for (const auto& c : cases) {
    StreamFramer f;
    Recorder rec;
    EXPECT_FALSE(f.feed(c.data + simple_request("after"), rec)) << c.name;
    ASSERT_EQ(rec.errors.size(), 1u) << c.name;
    EXPECT_EQ(rec.errors[0].kind, c.kind) << c.name << ": " << rec.errors[0].message;
    EXPECT_EQ(rec.errors[0].status, c.status) << c.name;
    EXPECT_TRUE(rec.errors[0].close_connection) << c.name;
    EXPECT_TRUE(rec.messages.empty()) << c.name;
    EXPECT_TRUE(f.closed());
    // A complete header section that was refused stays readable for the reply.
    if (c.data.rfind("MESSAGE", 0) == 0 && c.kind != ErrorKind::kMalformedStartLine) {
      EXPECT_EQ(f.failed_head().substr(0, 27), "MESSAGE sip:b@x.org SIP/2.0") << c.name;
    } else if (c.kind == ErrorKind::kInvalidStreamData) {
      EXPECT_TRUE(f.failed_head().empty()) << c.name;
    }
    // Dead stream: nothing more comes out.
    EXPECT_FALSE(f.feed(simple_request("x"), rec));
    EXPECT_EQ(rec.events.size(), 1u);
  }
}

TEST(Framer, HeaderSectionTooLargeIsBounded) {
  ParseOptions o;
  o.limits.max_header_bytes = 1024;
  StreamFramer f(o);
  Recorder rec;
  std::string junk = "MESSAGE sip:b@x.org SIP/2.0\r\nX-Pad: ";
  bool alive = true;
  for (int i = 0; i < 200 && alive; ++i) {
    alive = f.feed(std::string(100, 'a'), rec);
    EXPECT_LE(f.buffered_bytes(), o.limits.max_header_bytes);
  }
  EXPECT_FALSE(alive);
  ASSERT_EQ(rec.errors.size(), 1u);
  EXPECT_EQ(rec.errors[0].kind, ErrorKind::kHeaderSectionTooLarge);
  EXPECT_TRUE(rec.errors[0].close_connection);
  // Same in one big chunk.
  StreamFramer g(o);
  Recorder rec2;
  EXPECT_FALSE(g.feed(junk + std::string(5000, 'a'), rec2));
  EXPECT_EQ(rec2.errors.at(0).kind, ErrorKind::kHeaderSectionTooLarge);
}

TEST(Framer, BodyBufferingBoundedByContentLength) {
  ParseOptions o;
  o.limits.max_body_bytes = 100;
  StreamFramer f(o);
  Recorder rec;
  std::string msg = simple_request(std::string(100, 'b'));
  for (char c : msg) {
    f.feed(std::string_view(&c, 1), rec);
    EXPECT_LE(f.buffered_bytes(), msg.size());
  }
  ASSERT_EQ(rec.messages.size(), 1u);
  EXPECT_EQ(rec.messages[0].body().size(), 100u);
}

TEST(Framer, InvalidMessageKeepsStreamOpen) {
  auto h = base_headers("INVITE");  // CSeq says INVITE, request is MESSAGE
  std::string bad = make_request(h, "body");
  StreamFramer f;
  Recorder rec;
  EXPECT_TRUE(f.feed(bad + simple_request("ok"), rec));
  ASSERT_EQ(rec.errors.size(), 1u);
  EXPECT_EQ(rec.errors[0].kind, ErrorKind::kCSeqMethodMismatch);
  EXPECT_FALSE(rec.errors[0].close_connection);
  EXPECT_EQ(rec.events[0], "bad:CSeq Method Mismatch:" + bad);
  ASSERT_EQ(rec.messages.size(), 1u);
  EXPECT_EQ(rec.messages[0].body(), "ok");
}

TEST(Framer, VersionAndSchemeErrorsAreMessageLevel) {
  StreamFramer f;
  Recorder rec;
  EXPECT_TRUE(f.feed(make_request(base_headers(), "", "MESSAGE sip:b@x.org SIP/3.0") +
                         make_request(base_headers(), "", "MESSAGE urn:x SIP/2.0"),
                     rec));
  ASSERT_EQ(rec.errors.size(), 2u);
  EXPECT_EQ(rec.errors[0].status, 505);
  EXPECT_EQ(rec.errors[1].status, 416);
}

}  // namespace
}  // namespace fedgw::sip
