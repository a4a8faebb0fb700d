// The client-transaction table with an injected clock: timer B/F, timer C,
// RFC 6026 accepted state, 100 Trying, CANCEL rules and the non-2xx ACK.
#include "gateway/proxy/transactions.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/gateway/proxy/proxy_test_util.h"

namespace fedgw::proxy {
namespace {

using namespace std::chrono_literals;
using testing::request_text;
using testing::response_to;

struct recorded {
  std::vector<std::pair<int, std::string>> upstream;  // (origin, wire)
  std::vector<std::pair<int, int>> answers;           // (origin, code)
  std::vector<std::string> downstream;                // CANCEL / ACK wires
};

struct recorder : client_transactions<int>::callbacks {
  recorded r;
  void to_origin(const int& origin, int code, std::string wire) override {
    EXPECT_EQ(code, std::stoi(wire.substr(8, 3)));
    r.upstream.emplace_back(origin, std::move(wire));
  }
  void answer(const int& origin, const sip::Message&, int code, std::string) override {
    r.answers.emplace_back(origin, code);
  }
  void to_next_hop(const next_hop&, std::string wire) override { r.downstream.push_back(std::move(wire)); }
};

int status_of(const std::string& wire) { return std::stoi(wire.substr(8, 3)); }

class Transactions : public ::testing::Test {
 protected:
  Transactions() : table(timers(), out) {}
  static transaction_timers timers() {
    transaction_timers t;
    t.final_response = 3s;
    t.timer_c = 181s;
    t.linger = 32s;
    return t;
  }

  // A request from origin 1, as forwarded: our Via ("z9hG4bK-gw1") above the origin's.
  sip::Message forwarded(const std::string& method, const std::string& our_branch = "z9hG4bK-gw1") {
    request_text r;
    r.method = method;
    r.vias = "Via: SIP/2.0/TLS gw.a.test:5061;branch=" + our_branch + "\r\n" +
             "Via: SIP/2.0/TCP 10.0.0.5:5060;branch=z9hG4bK-uac1\r\n";
    return r.message();
  }
  void start(const std::string& method, const std::string& branch = "z9hG4bK-gw1") {
    table.start(branch, 1, "z9hG4bK-uac1", forwarded(method, branch), next_hop{side::external, "b.test", ""}, t0);
  }
  void respond(int code, const std::string& method, steady_clock::time_point at, const std::string& tag = "tt1") {
    auto m = response_to(forwarded(method), code, tag);
    table.on_response("z9hG4bK-gw1", m, at);
  }

  // The unanswered request of start() gets its 408 at t0 + 3s, not before, and ends.
  void expect_408_exactly_at_timer_f() {
    table.expire(t0 + 2999ms);
    EXPECT_TRUE(out.r.answers.empty());
    table.expire(t0 + 3s);
    ASSERT_EQ(out.r.answers.size(), 1u);
    EXPECT_EQ(out.r.answers[0], std::make_pair(1, 408));
    EXPECT_EQ(table.size(), 0u);
  }

  recorder out;
  client_transactions<int> table;
  steady_clock::time_point t0 = steady_clock::time_point{} + 1000s;
};

TEST_F(Transactions, NonInviteWithoutResponseGets408AtTimerF) {
  start("MESSAGE");
  expect_408_exactly_at_timer_f();
}

TEST_F(Transactions, FinalResponseGoesUpstreamWithoutOurViaAndEndsTheTransaction) {
  start("MESSAGE");
  respond(200, "MESSAGE", t0 + 10ms);
  ASSERT_EQ(out.r.upstream.size(), 1u);
  EXPECT_EQ(status_of(out.r.upstream[0].second), 200);
  EXPECT_EQ(out.r.upstream[0].second.find("gw.a.test"), std::string::npos) << out.r.upstream[0].second;
  EXPECT_NE(out.r.upstream[0].second.find("z9hG4bK-uac1"), std::string::npos);
  EXPECT_EQ(table.size(), 0u);
  table.expire(t0 + 1h);
  EXPECT_TRUE(out.r.answers.empty());
}

TEST_F(Transactions, HundredTryingIsNeverForwarded) {
  start("INVITE");
  respond(100, "INVITE", t0 + 1ms);
  EXPECT_TRUE(out.r.upstream.empty());
  respond(180, "INVITE", t0 + 2ms);
  ASSERT_EQ(out.r.upstream.size(), 1u);
  EXPECT_EQ(status_of(out.r.upstream[0].second), 180);
}

// The verified split outcome of d20ece9: 180 at once, 200 after 5 s with a 3 s
// transaction timeout gave the caller 408 while the callee answered 200.
TEST_F(Transactions, InviteAnsweredAfterTimerBWindowIsNotTimedOutOnceRinging) {
  start("INVITE");
  respond(180, "INVITE", t0 + 10ms);
  table.expire(t0 + 5s);
  EXPECT_TRUE(out.r.answers.empty());
  EXPECT_TRUE(out.r.downstream.empty());
  respond(200, "INVITE", t0 + 5s);
  ASSERT_EQ(out.r.upstream.size(), 2u);
  EXPECT_EQ(status_of(out.r.upstream[1].second), 200);
}

TEST_F(Transactions, InviteWithoutAnyResponseGets408AndItsAckIsAbsorbed) {
  start("INVITE");
  table.expire(t0 + 3s);
  ASSERT_EQ(out.r.answers.size(), 1u);
  EXPECT_EQ(out.r.answers[0].second, 408);
  EXPECT_TRUE(table.absorb_ack("z9hG4bK-uac1"));
  EXPECT_FALSE(table.absorb_ack("z9hG4bK-uac1"));
}

TEST_F(Transactions, TimerCIsResetByProvisionalsThenCancelsDownstream) {
  start("INVITE");
  respond(180, "INVITE", t0 + 1s);
  respond(183, "INVITE", t0 + 100s);  // resets timer C
  table.expire(t0 + 1s + 181s);
  EXPECT_TRUE(out.r.downstream.empty()) << "timer C must have been reset by the 183";
  table.expire(t0 + 100s + 181s);
  ASSERT_EQ(out.r.downstream.size(), 1u);
  EXPECT_EQ(out.r.downstream[0].rfind("CANCEL sip:bob@b.test SIP/2.0\r\n", 0), 0u) << out.r.downstream[0];
  EXPECT_NE(out.r.downstream[0].find("branch=z9hG4bK-gw1"), std::string::npos);
  EXPECT_TRUE(out.r.answers.empty());
  // The callee answers the CANCELled INVITE 487: ACKed here, forwarded upstream.
  respond(487, "INVITE", t0 + 282s);
  ASSERT_EQ(out.r.downstream.size(), 2u);
  EXPECT_EQ(out.r.downstream[1].rfind("ACK ", 0), 0u);
  EXPECT_EQ(status_of(out.r.upstream.back().second), 487);
  EXPECT_TRUE(table.absorb_ack("z9hG4bK-uac1"));
}

TEST_F(Transactions, TimerCWithoutAnyFinalAnswerGives408AfterTheCancel) {
  start("INVITE");
  respond(180, "INVITE", t0);
  table.expire(t0 + 181s);
  ASSERT_EQ(out.r.downstream.size(), 1u);
  table.expire(t0 + 181s + 2s);
  EXPECT_TRUE(out.r.answers.empty());
  table.expire(t0 + 181s + 3s);
  ASSERT_EQ(out.r.answers.size(), 1u);
  EXPECT_EQ(out.r.answers[0].second, 408);
  EXPECT_EQ(table.size(), 0u);
}

TEST_F(Transactions, RetransmittedAndForked2xxAreForwardedWhileAccepted) {
  start("INVITE");
  respond(200, "INVITE", t0 + 1s, "leg1");
  respond(200, "INVITE", t0 + 2s, "leg1");  // retransmission
  respond(200, "INVITE", t0 + 3s, "leg2");  // another fork
  respond(486, "INVITE", t0 + 4s, "leg3");  // not after a 2xx
  ASSERT_EQ(out.r.upstream.size(), 3u);
  for (const auto& u : out.r.upstream) EXPECT_EQ(status_of(u.second), 200);
  EXPECT_NE(out.r.upstream[2].second.find("tag=leg2"), std::string::npos);
  EXPECT_TRUE(out.r.downstream.empty()) << "2xx is ACKed end to end, not by the proxy";
  table.expire(t0 + 1s + 32s);
  EXPECT_EQ(table.size(), 0u);
  respond(200, "INVITE", t0 + 40s, "leg1");
  EXPECT_EQ(out.r.upstream.size(), 3u);
  EXPECT_TRUE(out.r.answers.empty());
}

TEST_F(Transactions, CancelBeforeAnyProvisionalWaitsForOne) {
  start("INVITE");
  EXPECT_EQ(table.on_cancel(1, "z9hG4bK-uac1", t0), client_transactions<int>::cancel_result::cancelled);
  EXPECT_TRUE(out.r.downstream.empty());
  respond(100, "INVITE", t0 + 10ms);
  ASSERT_EQ(out.r.downstream.size(), 1u);
  EXPECT_EQ(out.r.downstream[0].rfind("CANCEL ", 0), 0u);
}

TEST_F(Transactions, CancelIsMatchedByOriginConnectionToo) {
  start("INVITE");
  respond(180, "INVITE", t0);
  EXPECT_EQ(table.on_cancel(2, "z9hG4bK-uac1", t0), client_transactions<int>::cancel_result::unknown);
  EXPECT_EQ(table.on_cancel(1, "z9hG4bK-other", t0), client_transactions<int>::cancel_result::unknown);
  EXPECT_TRUE(out.r.downstream.empty());
  EXPECT_EQ(table.on_cancel(1, "z9hG4bK-uac1", t0), client_transactions<int>::cancel_result::cancelled);
  EXPECT_EQ(out.r.downstream.size(), 1u);
}

TEST_F(Transactions, CancelAfterTheFinalAnswerIsNotSentDownstream) {
  start("INVITE");
  respond(180, "INVITE", t0);
  respond(200, "INVITE", t0 + 1s);
  EXPECT_EQ(table.on_cancel(1, "z9hG4bK-uac1", t0), client_transactions<int>::cancel_result::already_final);
  EXPECT_TRUE(out.r.downstream.empty());
}

TEST_F(Transactions, CancelledInviteWithoutFinalAnswerIsGivenUpAfter64T1) {
  start("INVITE");
  respond(180, "INVITE", t0);
  table.on_cancel(1, "z9hG4bK-uac1", t0 + 1s);
  table.expire(t0 + 1s + 2999ms);
  EXPECT_TRUE(out.r.answers.empty());
  table.expire(t0 + 1s + 3s);
  ASSERT_EQ(out.r.answers.size(), 1u);
  EXPECT_EQ(out.r.answers[0].second, 408);
}

TEST_F(Transactions, ResponsesToOurCancelStayHere) {
  start("INVITE");
  respond(180, "INVITE", t0);
  table.on_cancel(1, "z9hG4bK-uac1", t0);
  auto cancel_ok = response_to(forwarded("CANCEL"), 200);
  EXPECT_TRUE(table.on_response("z9hG4bK-gw1", cancel_ok, t0 + 1s));
  EXPECT_EQ(out.r.upstream.size(), 1u) << "only the 180";
}

TEST_F(Transactions, NonTwoHundredInviteAnswerIsAckedDownstreamOnce) {
  start("INVITE");
  respond(486, "INVITE", t0 + 1s);
  respond(486, "INVITE", t0 + 2s);  // retransmission after the transaction ended: dropped
  ASSERT_EQ(out.r.downstream.size(), 1u);
  EXPECT_EQ(out.r.downstream[0].rfind("ACK sip:bob@b.test SIP/2.0\r\n", 0), 0u);
  EXPECT_NE(out.r.downstream[0].find("To: <sip:bob@b.test>;tag=tt1"), std::string::npos) << out.r.downstream[0];
  EXPECT_EQ(out.r.upstream.size(), 1u);
  EXPECT_TRUE(table.absorb_ack("z9hG4bK-uac1"));
}

TEST_F(Transactions, AbsorbedAcksExpire) {
  start("INVITE");
  respond(486, "INVITE", t0);
  EXPECT_EQ(table.absorbed_ack_count(), 1u);
  table.expire(t0 + 32s);
  EXPECT_EQ(table.absorbed_ack_count(), 0u);
  EXPECT_FALSE(table.absorb_ack("z9hG4bK-uac1"));
}

TEST_F(Transactions, DeliveryFailureAnswersOnceAndTimerDoesNotAnswerAgain) {
  start("MESSAGE");
  table.on_failure("z9hG4bK-gw1", 503, "Service Unavailable - x", t0);
  table.on_failure("z9hG4bK-gw1", 503, "Service Unavailable - x", t0);
  table.expire(t0 + 1h);
  ASSERT_EQ(out.r.answers.size(), 1u);
  EXPECT_EQ(out.r.answers[0].second, 503);
}

// Each answered MESSAGE used to leave its timer F entry in the heap until its deadline: 32 s x the
// request rate of them. The live timers must survive the heap's rebuilds.
TEST_F(Transactions, AnsweredTransactionsDoNotPileUpTimersAndLiveOnesStillFire) {
  start("MESSAGE");                                 // never answered: 408 at t0 + 3s
  start("INVITE", "z9hG4bK-gw2");                   // 486 at once: its ACK is absorbed until t0 + 32s
  auto busy = response_to(forwarded("INVITE", "z9hG4bK-gw2"), 486, "tt2");
  ASSERT_TRUE(table.on_response("z9hG4bK-gw2", busy, t0));
  for (int i = 0; i < 10000; ++i) {
    std::string branch = "z9hG4bK-burst" + std::to_string(i);
    start("MESSAGE", branch);
    auto ok = response_to(forwarded("MESSAGE", branch), 200, "tt3");
    ASSERT_TRUE(table.on_response(branch, ok, t0));
  }
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.absorbed_ack_count(), 1u);
  EXPECT_LE(table.pending_timers(), 2u * 2u + 1024u + 1u);  // 10,003 without the rebuilds

  expect_408_exactly_at_timer_f();
  table.expire(t0 + 32s - 1ms);
  EXPECT_EQ(table.absorbed_ack_count(), 1u);
  table.expire(t0 + 32s);
  EXPECT_EQ(table.absorbed_ack_count(), 0u);
  EXPECT_EQ(out.r.answers.size(), 1u);  // nothing answered twice
}

TEST_F(Transactions, UnknownBranchIsReportedAsNotMatched) {
  auto m = response_to(forwarded("MESSAGE", "z9hG4bK-nobody"), 200);
  EXPECT_FALSE(table.on_response("z9hG4bK-nobody", m, t0));
  EXPECT_TRUE(out.r.upstream.empty());
}

}  // namespace
}  // namespace fedgw::proxy
