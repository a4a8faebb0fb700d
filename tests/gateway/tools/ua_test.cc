// Unit tests of fedua's building blocks (gateway/tools/ua.h): targets, PIDF,
// SDP, request building, dialogs and route sets (RFC 3261 §12).
#include "gateway/tools/ua.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/sip/framer.h"
#include "gateway/sip/message.h"
#include "gateway/sip/response.h"

namespace fedgw::tools {
namespace {

sip::ParseOptions stream_options() {
  sip::ParseOptions o;
  o.stream = true;
  return o;
}

sip::Message parse(const std::string& text) {
  auto m = sip::parse_message(text, stream_options());
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message) << "\n" << text;
  return m.ok() ? std::move(m.value()) : sip::Message();
}

TEST(Target, Normalizes) {
  EXPECT_EQ(normalize_target("bob@b.test", false), "sip:bob@b.test");
  EXPECT_EQ(normalize_target("sip:bob@b.test", false), "sip:bob@b.test");
  EXPECT_EQ(normalize_target("sips:bob@b.test;transport=tls", false), "sips:bob@b.test;transport=tls");
  EXPECT_EQ(normalize_target("b.test", true), "sip:b.test");
  EXPECT_EQ(normalize_target("bob@[::1]", false), "sip:bob@[::1]");
}

TEST(Target, RejectsBadUris) {
  EXPECT_FALSE(normalize_target("", false));
  EXPECT_FALSE(normalize_target("b.test", false));  // no user, not allowed here
  EXPECT_FALSE(normalize_target("bob@", false));
  EXPECT_FALSE(normalize_target("bob@bad host", false));
  EXPECT_FALSE(normalize_target("tel:+123", false));
  EXPECT_FALSE(normalize_target("sip:", false));
  EXPECT_FALSE(normalize_target("<sip:bob@b.test>", false));
  EXPECT_FALSE(normalize_target("bob@b..test", false));
}

TEST(Pidf, RoundTrip) {
  std::string doc = make_pidf("sip:bob@b.test", "open", "In a <meeting> & \"busy\"");
  EXPECT_EQ(doc.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?><presence xmlns="
                      "\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:bob@b.test\"><tuple id=\"t1\">"
                      "<status><basic>open</basic></status>",
                      0),
            0u);
  auto p = parse_pidf(doc);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->basic, "open");
  EXPECT_EQ(p->note, "In a <meeting> & \"busy\"");
  EXPECT_EQ(p->entity, "sip:bob@b.test");
  EXPECT_EQ(describe(*p), "basic=open note=\"In a <meeting> & \"busy\"\"");
}

TEST(Pidf, ParsesPrefixedAndSpacedDocuments) {
  auto p = parse_pidf(
      "<?xml version='1.0'?>\n<p:presence xmlns:p='urn:ietf:params:xml:ns:pidf' "
      "entity='pres:carol@c.test'>\n <p:tuple id='x'>\n  <p:status>\n   <p:basic> closed "
      "</p:basic>\n  </p:status>\n </p:tuple>\n <p:note xml:lang='en'>Gone &amp; away</p:note>\n"
      "</p:presence>");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->basic, "closed");
  EXPECT_EQ(p->note, "Gone & away");
  EXPECT_EQ(p->entity, "pres:carol@c.test");
  EXPECT_FALSE(parse_pidf("<presence><tuple/></presence>"));
  EXPECT_FALSE(parse_pidf(""));
}

TEST(Sdp, ImOfferAndAnswer) {
  std::string offer = make_im_sdp("127.0.0.1", "sip:alice@a.test");
  EXPECT_NE(offer.find("c=IN IP4 127.0.0.1\r\n"), std::string::npos);
  EXPECT_NE(offer.find("m=message 5060 sip sip:alice@a.test\r\n"), std::string::npos);
  std::string answer = make_im_answer(offer + "m=audio 4000 RTP/AVP 0 8\r\n", "::1",
                                      "sip:bob@b.test");
  EXPECT_NE(answer.find("c=IN IP6 ::1\r\n"), std::string::npos);
  EXPECT_NE(answer.find("m=message 5060 sip sip:bob@b.test\r\n"), std::string::npos);
  EXPECT_NE(answer.find("m=audio 0 RTP/AVP 0 8\r\n"), std::string::npos);
}

TEST(Request, BuildsAValidRequest) {
  OutRequest r;
  r.method = "MESSAGE";
  r.request_uri = "sip:bob@b.test";
  r.routes = {"<sip:gw.a.test;lr>"};
  r.from = "\"Alice\" <sip:alice@a.test>;tag=abc";
  r.to = "<sip:bob@b.test>";
  r.call_id = "c1@127.0.0.1";
  r.cseq = 7;
  r.contact_user = "alice";
  r.headers = {{"Subject", "hi"}};
  r.content_type = "text/plain";
  r.body = "hello";
  std::string wire = build_request(r, "127.0.0.1:5062", "z9hG4bKxyz");
  sip::Message m = parse(wire);
  EXPECT_EQ(m.method(), "MESSAGE");
  EXPECT_EQ(m.top_via().branch(), "z9hG4bKxyz");
  EXPECT_TRUE(m.top_via().has_rport());
  EXPECT_EQ(m.top_via().transport, "TCP");
  EXPECT_EQ(m.max_forwards(), 70u);
  EXPECT_EQ(m.cseq().number, 7u);
  EXPECT_EQ(m.cseq().method, "MESSAGE");
  EXPECT_EQ(m.from_tag(), "abc");
  EXPECT_EQ(m.get("Contact"), "<sip:alice@127.0.0.1:5062;transport=tcp>");
  EXPECT_EQ(m.get("Route"), "<sip:gw.a.test;lr>");
  EXPECT_EQ(m.get("User-Agent"), "fedua");
  EXPECT_EQ(m.get("Subject"), "hi");
  EXPECT_EQ(m.body(), "hello");
}

TEST(Dialog, UacRouteSetIsReversedRecordRoute) {
  OutRequest inv;
  inv.method = "INVITE";
  inv.request_uri = "sip:bob@b.test";
  inv.from = "<sip:alice@a.test>;tag=a1";
  inv.to = "<sip:bob@b.test>";
  inv.call_id = "call-1";
  inv.cseq = 1;
  sip::Message ok = parse(
      "SIP/2.0 200 OK\r\n"
      "Via: SIP/2.0/TCP 127.0.0.1:5062;branch=z9hG4bK1\r\n"
      "Record-Route: <sip:p2.b.test;lr>, <sip:p1.a.test;lr;transport=tcp>\r\n"
      "From: <sip:alice@a.test>;tag=a1\r\n"
      "To: \"Bob\" <sip:bob@b.test>;tag=b1\r\n"
      "Call-ID: call-1\r\nCSeq: 1 INVITE\r\n"
      "Contact: <sip:bob@10.0.0.2:5070;transport=tcp>\r\n"
      "Content-Length: 0\r\n\r\n");
  auto d = dialog_as_uac(inv, ok);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->remote_tag, "b1");
  EXPECT_EQ(d->local_tag, "a1");
  EXPECT_EQ(d->remote_target, "sip:bob@10.0.0.2:5070;transport=tcp");
  ASSERT_EQ(d->route_set.size(), 2u);
  EXPECT_EQ(d->route_set[0], "<sip:p1.a.test;lr;transport=tcp>");
  EXPECT_EQ(d->route_set[1], "<sip:p2.b.test;lr>");
  OutRequest ack = d->request("ACK", 1);
  EXPECT_EQ(ack.cseq, 1u);
  OutRequest bye = d->request("BYE");
  EXPECT_EQ(bye.cseq, 2u);
  EXPECT_EQ(bye.request_uri, "sip:bob@10.0.0.2:5070;transport=tcp");
  EXPECT_EQ(bye.routes, d->route_set);
  EXPECT_EQ(bye.from, "<sip:alice@a.test>;tag=a1");
  EXPECT_EQ(bye.to, "\"Bob\" <sip:bob@b.test>;tag=b1");
  EXPECT_EQ(d->remote_aor(), "sip:bob@b.test");
  parse(build_request(bye, "127.0.0.1:5062", "z9hG4bK2"));
}

TEST(Dialog, UasRouteSetKeepsOrderAndStrictRouting) {
  sip::Message sub = parse(
      "SUBSCRIBE sip:bob@b.test SIP/2.0\r\n"
      "Via: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1\r\n"
      "Record-Route: <sip:p1.b.test>\r\n"
      "Record-Route: <sip:p2.a.test;lr>\r\n"
      "From: <sip:alice@a.test>;tag=a1\r\n"
      "To: <sip:bob@b.test>\r\n"
      "Call-ID: sub-1\r\nCSeq: 5 SUBSCRIBE\r\nMax-Forwards: 70\r\n"
      "Contact: <sip:alice@10.0.0.1;transport=tcp>\r\n"
      "Event: presence\r\nContent-Length: 0\r\n\r\n");
  auto d = dialog_as_uas(sub, "b1");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->local_uri, "<sip:bob@b.test>");
  EXPECT_EQ(d->remote_uri, "<sip:alice@a.test>");
  ASSERT_EQ(d->route_set.size(), 2u);
  EXPECT_EQ(d->route_set[0], "<sip:p1.b.test>");
  // First route without ;lr: strict routing, remote target last.
  OutRequest n = d->request("NOTIFY");
  EXPECT_EQ(n.cseq, 1u);
  EXPECT_EQ(n.request_uri, "sip:p1.b.test");
  ASSERT_EQ(n.routes.size(), 2u);
  EXPECT_EQ(n.routes[0], "<sip:p2.a.test;lr>");
  EXPECT_EQ(n.routes[1], "<sip:alice@10.0.0.1;transport=tcp>");
  EXPECT_EQ(n.from, "<sip:bob@b.test>;tag=b1");
  EXPECT_EQ(n.to, "<sip:alice@a.test>;tag=a1");
}

TEST(Reply, SummaryAndFailureText) {
  sip::Message r = parse(
      "SIP/2.0 404 Not Found\r\n"
      "Via: SIP/2.0/TCP 127.0.0.1:5062;branch=z9hG4bK1\r\n"
      "From: <sip:alice@a.test>;tag=a1\r\nTo: <sip:bob@x.test>;tag=g\r\n"
      "Call-ID: c\r\nCSeq: 1 MESSAGE\r\n"
      "Warning: 399 gw.a.test \"no federation DNS record for x.test\"\r\n"
      "Content-Length: 0\r\n\r\n");
  Reply rep;
  rep.message = &r;
  rep.code = 404;
  rep.reason = "Not Found";
  rep.ms = 12.345;
  EXPECT_EQ(rep.summary(), "404 Not Found (12.35 ms)");
  EXPECT_EQ(rep.failure_text(10), "404 Not Found - no federation DNS record for x.test");
  Reply t;
  t.failure = "timeout";
  EXPECT_EQ(t.failure_text(2), "no final response within 2.0 s");
}

TEST(ArrivalSchedule, EvenPacingIsOneRequestEveryPeriod) {
  ArrivalSchedule s(5000, ArrivalSchedule::Kind::kEven);
  EXPECT_EQ(s.due(), 0.0);
  for (int i = 1; i <= 60000; ++i) {
    s.advance();
    ASSERT_DOUBLE_EQ(s.due(), i / 5000.0) << i;
  }
}

// The gaps of a Poisson process are exponential: mean and standard deviation 1/rate, and
// P(gap < t) = 1 - exp(-rate t). The seed is fixed, so these bounds are checked on one
// known sequence (they hold with a wide margin for it); they fail for even pacing.
TEST(ArrivalSchedule, PoissonGapsAreExponentialWithTheRatesMean) {
  const double rate = 5000, mean = 1 / rate;
  ArrivalSchedule s(rate, ArrivalSchedule::Kind::kPoisson);
  EXPECT_EQ(s.due(), 0.0);
  const int n = 200000;
  double sum = 0, sum_sq = 0, last = 0;
  int below_half_mean = 0, above_twice_mean = 0;
  for (int i = 0; i < n; ++i) {
    s.advance();
    double gap = s.due() - last;
    last = s.due();
    ASSERT_GT(gap, 0) << i;
    sum += gap;
    sum_sq += gap * gap;
    below_half_mean += gap < mean / 2;
    above_twice_mean += gap > 2 * mean;
  }
  double m = sum / n, sd = std::sqrt(sum_sq / n - m * m);
  EXPECT_NEAR(m / mean, 1.0, 0.01);
  EXPECT_NEAR(sd / mean, 1.0, 0.02);
  EXPECT_NEAR(below_half_mean / double(n), 1 - std::exp(-0.5), 0.005);
  EXPECT_NEAR(above_twice_mean / double(n), std::exp(-2.0), 0.005);
}

TEST(ArrivalSchedule, PoissonScheduleRepeatsForASeed) {
  ArrivalSchedule a(1000, ArrivalSchedule::Kind::kPoisson), b(1000, ArrivalSchedule::Kind::kPoisson);
  ArrivalSchedule other(1000, ArrivalSchedule::Kind::kPoisson, 2);
  int differs = 0;
  for (int i = 0; i < 100; ++i) {
    a.advance();
    b.advance();
    other.advance();
    ASSERT_EQ(a.due(), b.due()) << i;
    differs += a.due() != other.due();
  }
  EXPECT_EQ(differs, 100);
}

TEST(Text, OneLine) { EXPECT_EQ(one_line("a\r\nb\\c\td"), "a\\r\\nb\\\\c\\td"); }

// ---- UserAgent against a scripted gateway on loopback ----------------------

// The gateway side of one loopback TCP connection, driven by the test.
class Gateway : public sip::StreamFramer::Callbacks {
 public:
  Gateway() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listen_fd_, 4), 0);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Gateway() override {
    close_conn();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  void accept_one() { fd_ = ::accept(listen_fd_, nullptr, nullptr); }
  void send(std::string_view data) {
    ASSERT_EQ(::send(fd_, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  }
  void close_conn() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Reads until `n` messages (and pongs) have arrived or 2 s passed.
  bool read(size_t n_messages, size_t n_pongs = 0) {
    for (int i = 0; i < 200 && (messages.size() < n_messages || pongs < n_pongs); ++i) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      char buf[8192];
      ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
      if (r <= 0) return false;
      framer_.set_awaiting_pong(true);
      framer_.feed(std::string_view(buf, static_cast<size_t>(r)), *this);
    }
    return messages.size() >= n_messages && pongs >= n_pongs;
  }
  void on_message(sip::Message&& m) override { messages.push_back(std::move(m)); }
  void on_message_error(const sip::Error& e, std::string_view) override {
    ADD_FAILURE() << "gateway got an invalid message: " << e.message;
  }
  void on_pong() override { ++pongs; }
  void on_stream_error(const sip::Error& e) override { ADD_FAILURE() << e.message; }

  std::vector<sip::Message> messages;
  size_t pongs = 0;

 private:
  int listen_fd_ = -1;
  int fd_ = -1;
  uint16_t port_ = 0;
  sip::StreamFramer framer_;
};

class UserAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UserAgent::Options o;
    o.user = "alice";
    o.domain = "a.test";
    ua_ = std::make_unique<UserAgent>(o);
    ASSERT_EQ(ua_->connect("127.0.0.1", gw_.port(), 1000), "");
    gw_.accept_one();
  }
  void pump(double seconds, const std::function<bool()>& done = [] { return false; }) {
    ua_->run_until(done, Clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000)));
  }
  static std::string wire(const sip::Message& request, int code, const char* reason,
                          std::string_view to_tag = "t1") {
    auto r = sip::make_response(request, code, reason, to_tag);
    EXPECT_TRUE(r.ok());
    return r->serialize();
  }

  Gateway gw_;
  std::unique_ptr<UserAgent> ua_;
};

TEST_F(UserAgentTest, MatchesFinalResponseByBranchAndMethod) {
  OutRequest r = ua_->new_request("MESSAGE", "sip:bob@b.test");
  r.content_type = "text/plain";
  r.body = "hi";
  int calls = 0;
  int code = 0;
  std::string branch = ua_->send_request(r, [&](const Reply& rep) {
    ++calls;
    code = rep.code;
    EXPECT_TRUE(rep.message);
  }, 5);
  ASSERT_TRUE(gw_.read(1));
  const sip::Message& req = gw_.messages[0];
  EXPECT_EQ(req.top_via().branch(), branch);
  EXPECT_EQ(req.top_via().host, ua_->local_ip());
  EXPECT_EQ(req.top_via().port, ua_->local_port());
  EXPECT_EQ(req.get("Contact"),
            "<sip:alice@" + ua_->sent_by() + ";transport=tcp>");
  std::string ok = wire(req, 200, "OK");
  std::string wrong_method = ok;
  wrong_method.replace(wrong_method.find("CSeq: 1 MESSAGE"), 15, "CSeq: 1 INVITE");
  std::string other_branch = ok;
  other_branch.replace(other_branch.find(branch), branch.size(), "z9hG4bKother");
  gw_.send(wire(req, 100, "Trying") + "\r\n\r\n" + wrong_method + other_branch);
  pump(0.1);
  EXPECT_EQ(calls, 0);      // 100, stray and mismatched responses are ignored
  ASSERT_TRUE(gw_.read(1, 1));  // the ping was answered with a pong
  gw_.send(ok);
  pump(2, [&] { return calls > 0; });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(code, 200);
  EXPECT_EQ(ua_->pending_transactions(), 0u);
}

TEST_F(UserAgentTest, AcksNon2xxFinalResponseToInvite) {
  OutRequest inv = ua_->new_request("INVITE", "sip:bob@b.test");
  inv.routes = {"<sip:gw.a.test;lr>"};
  int code = 0;
  std::string branch = ua_->send_request(inv, [&](const Reply& rep) { code = rep.code; }, 5);
  ASSERT_TRUE(gw_.read(1));
  gw_.send(wire(gw_.messages[0], 486, "Busy Here", "busy1"));
  pump(2, [&] { return code != 0; });
  EXPECT_EQ(code, 486);
  ASSERT_TRUE(gw_.read(2));
  const sip::Message& ack = gw_.messages[1];
  EXPECT_EQ(ack.method(), "ACK");
  EXPECT_EQ(ack.request_uri(), "sip:bob@b.test");
  EXPECT_EQ(ack.top_via().branch(), branch);
  EXPECT_EQ(ack.cseq().number, 1u);
  EXPECT_EQ(ack.cseq().method, "ACK");
  EXPECT_EQ(ack.to_tag(), "busy1");
  EXPECT_EQ(ack.get("Route"), "<sip:gw.a.test;lr>");
}

TEST_F(UserAgentTest, TimesOutAndFailsOnClose) {
  std::vector<std::string> failures;
  auto fn = [&](const Reply& rep) {
    EXPECT_FALSE(rep.message);
    failures.push_back(rep.failure);
  };
  ua_->send_request(ua_->new_request("OPTIONS", "sip:b.test"), fn, 0.1);
  pump(2, [&] { return failures.size() == 1; });
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0], "timeout");
  ua_->send_request(ua_->new_request("OPTIONS", "sip:b.test"), fn, 5);
  ASSERT_TRUE(gw_.read(2));  // read before closing: FIN, not RST
  gw_.close_conn();
  pump(2, [&] { return failures.size() == 2; });
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[1], "connection closed by the gateway");
  EXPECT_TRUE(ua_->closed());
}

// fedua load refills its window with one write: held requests reach the gateway only on release.
TEST_F(UserAgentTest, HeldWritesGoOutTogetherOnRelease) {
  int replies = 0;
  ua_->hold_writes(true);
  for (int i = 0; i < 3; ++i)
    ua_->send_request(ua_->new_request("OPTIONS", "sip:b.test"), [&](const Reply&) { ++replies; }, 5);
  EXPECT_FALSE(gw_.read(1));  // nothing sent while held
  EXPECT_TRUE(gw_.messages.empty());
  ua_->hold_writes(false);
  ASSERT_TRUE(gw_.read(3));
  for (const auto& m : gw_.messages) gw_.send(wire(m, 200, "OK"));
  pump(2, [&] { return replies == 3; });
  EXPECT_EQ(replies, 3);
}

// fedua load paces its requests with run_until(deadline): a wait rounded up to whole milliseconds sent a
// 5,000/s load in bursts of 5-6 requests every 1.1-1.2 ms. The median of many 200 us waits says which it
// does without depending on one wake-up's timing (rounded up, every wait takes at least 1 ms).
TEST_F(UserAgentTest, WaitsForADeadlineUnderAMillisecondWithoutRoundingItUp) {
  std::vector<double> waited_us;
  for (int i = 0; i < 101; ++i) {
    auto start = Clock::now();
    EXPECT_FALSE(ua_->run_until([] { return false; }, start + std::chrono::microseconds(200)));
    waited_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(waited_us.begin(), waited_us.end());
  EXPECT_GE(waited_us.front(), 200.0);  // never before the deadline
  EXPECT_LT(waited_us[waited_us.size() / 2], 800.0) << "median wait for a 200 us deadline";
}

TEST_F(UserAgentTest, DeliversInboundRequestsAndAnswersWithBody) {
  std::string req =
      "INVITE sip:alice@a.test SIP/2.0\r\n"
      "Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKgw1\r\n"
      "Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKfar\r\n"
      "Record-Route: <sip:127.0.0.1:5060;transport=tcp;lr>\r\n"
      "Record-Route: <sip:192.0.2.1:5061;transport=tls;lr>\r\n"
      "Max-Forwards: 69\r\n"
      "From: <sip:bob@b.test>;tag=b1\r\nTo: <sip:alice@a.test>\r\n"
      "Call-ID: in-1\r\nCSeq: 3 INVITE\r\n"
      "Contact: <sip:bob@192.0.2.1;transport=tls>\r\nContent-Length: 0\r\n\r\n";
  int seen = 0;
  ua_->set_request_handler([&](sip::Message&& m) {
    ++seen;
    ua_->respond(m, 200, "OK", {{"Contact", "<sip:alice@127.0.0.1>"}}, "application/sdp",
                 "v=0\r\n", "mytag");
  });
  gw_.send(req);
  pump(2, [&] { return seen > 0; });
  ASSERT_TRUE(gw_.read(1));
  const sip::Message& ok = gw_.messages[0];
  EXPECT_EQ(ok.status_code(), 200);
  EXPECT_EQ(ok.vias().size(), 2u);
  EXPECT_EQ(ok.to_tag(), "mytag");
  EXPECT_EQ(ok.get("Content-Type"), "application/sdp");
  EXPECT_EQ(ok.content_length(), 5u);
  EXPECT_EQ(ok.body(), "v=0\r\n");
  EXPECT_EQ(ok.get("Contact"), "<sip:alice@127.0.0.1>");
  // RFC 3261 §12.1.1: the dialog-creating 2xx copies Record-Route, in order.
  auto rr = ok.record_routes();
  ASSERT_TRUE(rr.ok());
  ASSERT_EQ(rr->size(), 2u);
  EXPECT_EQ((*rr)[0].uri_text, "sip:127.0.0.1:5060;transport=tcp;lr");
  EXPECT_EQ((*rr)[1].uri_text, "sip:192.0.2.1:5061;transport=tls;lr");
}

}  // namespace
}  // namespace fedgw::tools
