// proxy::sip_connection: two cores wired back to back in memory (plain TCP or
// real OpenSSL handshakes with the generated test certificates), time injected.
#include "gateway/proxy/connection.h"

#include <gtest/gtest.h>

#include <optional>
#include <tuple>

#include "gateway/sip/response.h"
#include "tests/gateway/proxy/proxy_test_util.h"
#include "tests/gateway/tls/tls_test_support.h"

namespace fedgw::proxy {
namespace {

using namespace std::chrono_literals;
using clock = sip_connection::clock;
using testing::request_text;
using testing::response_to;

const clock::time_point t0 = clock::time_point{} + 1h;

// Records what the core asks of its owner; the token of a request is an int.
struct recorder : connection_events {
  struct failure {
    int token;
    std::string branch;
    int status;
    std::string reason;
  };
  struct log_entry {
    severity level;
    std::string component;
    std::string text;
  };

  std::string out;  // written, not yet delivered to the other side
  size_t write_calls = 0;
  bool refuse_writes = false;
  int closes = 0;
  std::optional<bool> close_flush;
  std::vector<sip::Message> requests;
  std::vector<std::pair<int, sip::Message>> responses;
  std::vector<failure> failures;
  std::vector<std::vector<std::string>> established_with;
  std::vector<log_entry> logs;
  std::vector<std::string> setup_failures;
  int spoke_sip_calls = 0;
  int message_completes = 0;
  std::vector<std::pair<clock::time_point, std::string>> deadlines;
  std::shared_ptr<const settings> current_policy;
  bool output_congested = false;

  bool write(std::string_view bytes) override {
    ++write_calls;
    if (refuse_writes) return false;
    out.append(bytes);
    return true;
  }
  void close(bool flush) override {
    ++closes;
    close_flush = flush;
  }
  void request(sip::Message&& m) override { requests.push_back(std::move(m)); }
  void response(const connection_token& token, sip::Message&& m) override {
    responses.emplace_back(std::any_cast<int>(token), std::move(m));
  }
  void failed(const connection_token& token, const std::string& branch, int status,
              const std::string& reason) override {
    failures.push_back({std::any_cast<int>(token), branch, status, reason});
  }
  void established(const std::vector<std::string>& identities) override { established_with.push_back(identities); }
  void log(severity level, const char* component, const std::string& text) override {
    logs.push_back({level, component, text});
  }
  void setup_failed(const std::string& text) override { setup_failures.push_back(text); }
  void spoke_sip() override { ++spoke_sip_calls; }
  void message_complete() override { ++message_completes; }
  void set_deadline(clock::time_point when, const std::string& reason) override { deadlines.emplace_back(when, reason); }
  std::shared_ptr<const settings> policy() override { return current_policy; }
  bool congested() override { return output_congested; }

  size_t logs_containing(const std::string& part) const {
    size_t n = 0;
    for (const auto& l : logs) n += l.text.find(part) != std::string::npos;
    return n;
  }
  std::string take() { return std::exchange(out, std::string()); }
};

connection_options outbound_options(side where = side::external) {
  connection_options o;
  o.where = where;
  o.inbound = false;
  o.domain = "b.test";
  return o;
}

connection_options inbound_options(side where = side::external) {
  connection_options o;
  o.where = where;
  o.inbound = true;
  return o;
}

struct end {
  recorder events;
  sip_connection core;
  explicit end(connection_options o) : core(std::move(o), events, t0) {}
};

// Delivers what each side wrote to the other until both are quiet.
void pump(end& a, end& b, clock::time_point now = t0) {
  for (int round = 0; round < 50 && (!a.events.out.empty() || !b.events.out.empty()); ++round) {
    if (!a.events.out.empty()) b.core.receive(a.events.take(), now);
    if (!b.events.out.empty()) a.core.receive(b.events.take(), now);
  }
}

// A request as the gateway forwards it: its own Via with `branch` on top.
std::string gateway_request(const std::string& branch, const std::string& method = "MESSAGE",
                            const std::string& call_id = "call-1@a.test") {
  request_text r;
  r.method = method;
  r.call_id = call_id;
  r.vias = "Via: SIP/2.0/TCP gw.a.test:5061;branch=" + branch + "\r\n";
  return r.str();
}

std::string response_wire(const std::string& request_wire, int code) {
  return response_to(testing::parse(request_wire), code).serialize();
}

// Plain TCP, both ends attached and connected.
struct plain_pair {
  end client;
  end server;
  explicit plain_pair(connection_options c = outbound_options(), connection_options s = inbound_options())
    : client(std::move(c)), server(std::move(s)) {
    client.core.attach("10.0.0.2:5060", nullptr, t0);
    server.core.attach("10.0.0.1:40000", nullptr, t0);
    client.core.connected(t0);
    server.core.connected(t0);
  }
};

TEST(SipConnection, PlainRequestResponseRoundTrip) {
  plain_pair p;
  ASSERT_TRUE(p.client.core.established());
  ASSERT_TRUE(p.server.core.established());
  EXPECT_EQ(p.client.core.transport_description(), "TCP");
  auto wire = gateway_request("z9hG4bK-gw1");
  p.client.core.transmit(wire, 7, "z9hG4bK-gw1", t0);
  pump(p.client, p.server);
  ASSERT_EQ(p.server.events.requests.size(), 1u);
  EXPECT_EQ(p.server.events.requests[0].method(), "MESSAGE");
  EXPECT_EQ(p.server.events.spoke_sip_calls, 1);
  p.server.core.respond(response_to(p.server.events.requests[0], 200).serialize());
  pump(p.client, p.server);
  ASSERT_EQ(p.client.events.responses.size(), 1u);
  EXPECT_EQ(p.client.events.responses[0].first, 7);
  EXPECT_EQ(p.client.events.responses[0].second.status_code(), 200);
  EXPECT_EQ(p.client.core.in_flight(), 0u);
  EXPECT_TRUE(p.client.events.failures.empty());
}

TEST(SipConnection, ResponseAcceptedOnlyForABranchSentOnThisConnection) {
  auto stray = std::make_shared<std::atomic<uint64_t>>(0);
  auto options = outbound_options();
  options.stray_responses = stray;
  plain_pair p(options);
  plain_pair other;
  auto mine = gateway_request("z9hG4bK-mine");
  auto theirs = gateway_request("z9hG4bK-theirs");
  p.client.core.transmit(mine, 1, "z9hG4bK-mine", t0);
  other.client.core.transmit(theirs, 2, "z9hG4bK-theirs", t0);
  // The response to a request sent on the other connection arrives here: dropped and counted.
  p.client.core.receive(response_wire(theirs, 200), t0);
  p.client.core.receive(response_wire(theirs, 200), t0 + 1s);
  EXPECT_TRUE(p.client.events.responses.empty());
  EXPECT_EQ(stray->load(), 2u);
  EXPECT_EQ(p.client.events.logs_containing("matches no request sent on this connection"), 1u);  // once a minute
  p.client.core.receive(response_wire(mine, 200), t0 + 2s);
  ASSERT_EQ(p.client.events.responses.size(), 1u);
  EXPECT_EQ(p.client.events.responses[0].first, 1);
  EXPECT_TRUE(other.client.core.awaits("z9hG4bK-theirs"));
}

TEST(SipConnection, InviteWindowOutlivesTheTwoHundredNonInviteEndsAtItsFinalResponse) {
  plain_pair p;
  const auto& timers = connection_options{}.timers;
  auto invite = gateway_request("z9hG4bK-inv", "INVITE");
  auto message = gateway_request("z9hG4bK-msg", "MESSAGE", "call-2@a.test");
  p.client.core.transmit(invite, 1, "z9hG4bK-inv", t0);
  p.client.core.transmit(message, 2, "z9hG4bK-msg", t0);
  p.client.core.receive(response_wire(invite, 200), t0 + 1s);
  EXPECT_TRUE(p.client.core.awaits("z9hG4bK-inv"));  // RFC 6026: 2xx retransmissions and forks still match
  p.client.core.receive(response_wire(invite, 200), t0 + 2s);
  EXPECT_EQ(p.client.events.responses.size(), 2u);
  p.client.core.receive(response_wire(message, 100), t0 + 1s);
  EXPECT_TRUE(p.client.core.awaits("z9hG4bK-msg"));  // provisional: still waiting
  p.client.core.receive(response_wire(message, 200), t0 + 1s);
  EXPECT_FALSE(p.client.core.awaits("z9hG4bK-msg"));
  // The linger period runs from the last 2xx.
  p.client.core.tick(t0 + 2s + timers.linger - 1ms);
  EXPECT_TRUE(p.client.core.awaits("z9hG4bK-inv"));
  p.client.core.tick(t0 + 2s + timers.linger);
  EXPECT_FALSE(p.client.core.awaits("z9hG4bK-inv"));
  EXPECT_TRUE(p.client.events.failures.empty());  // expiry is silent: the shard has its own timers
  // A 3xx-6xx to an INVITE ends it at once.
  auto second = gateway_request("z9hG4bK-inv2", "INVITE", "call-3@a.test");
  p.client.core.transmit(second, 3, "z9hG4bK-inv2", t0 + 10s);
  p.client.core.receive(response_wire(second, 486), t0 + 11s);
  EXPECT_FALSE(p.client.core.awaits("z9hG4bK-inv2"));
}

TEST(SipConnection, InFlightEntriesExpireByTheInjectedClock) {
  plain_pair p;
  const auto& timers = connection_options{}.timers;
  auto message = gateway_request("z9hG4bK-msg");
  auto invite = gateway_request("z9hG4bK-inv", "INVITE", "call-2@a.test");
  p.client.core.transmit(message, 1, "z9hG4bK-msg", t0);
  p.client.core.transmit(invite, 2, "z9hG4bK-inv", t0);
  auto message_window = timers.final_response + 1s;
  p.client.core.tick(t0 + message_window - 1ms);
  EXPECT_EQ(p.client.core.in_flight(), 2u);
  p.client.core.tick(t0 + message_window);
  EXPECT_FALSE(p.client.core.awaits("z9hG4bK-msg"));
  EXPECT_TRUE(p.client.core.awaits("z9hG4bK-inv"));  // timer C and linger on top
  p.client.core.tick(t0 + timers.final_response + timers.timer_c + timers.linger);
  EXPECT_EQ(p.client.core.in_flight(), 0u);
  p.client.core.receive(response_wire(message, 200), t0 + 300s);
  EXPECT_TRUE(p.client.events.responses.empty());  // too late: a stray
}

TEST(SipConnection, KeepAlivePingAfterThePeriodAndPongAnswered) {
  plain_pair p;
  p.client.core.tick(t0 + 29s);
  EXPECT_TRUE(p.client.events.out.empty());
  p.client.core.tick(t0 + 30s);
  EXPECT_EQ(p.client.events.out, sip::StreamFramer::kPing);
  p.server.core.receive(p.client.events.take(), t0 + 30s);
  EXPECT_EQ(p.server.events.out, sip::StreamFramer::kPong);  // RFC 5626 §4.4.1
  EXPECT_TRUE(p.server.events.requests.empty());
  // Activity pushes the next ping back.
  auto wire = gateway_request("z9hG4bK-1");
  p.client.core.transmit(wire, 1, "z9hG4bK-1", t0 + 40s);
  p.client.events.take();
  p.client.core.tick(t0 + 69s);
  EXPECT_TRUE(p.client.events.out.empty());
}

TEST(SipConnection, IdleCloseOnlyWhenNothingIsInFlight) {
  auto options = outbound_options();
  options.idle_timeout = 60s;
  plain_pair p(options);
  auto invite = gateway_request("z9hG4bK-inv", "INVITE");
  p.client.core.transmit(invite, 1, "z9hG4bK-inv", t0);
  p.client.core.tick(t0 + 120s);
  EXPECT_EQ(p.client.events.closes, 0);  // waiting for the INVITE's answer
  p.client.core.receive(response_wire(invite, 486), t0 + 120s);
  p.client.core.tick(t0 + 179s);
  EXPECT_EQ(p.client.events.closes, 0);
  p.client.core.tick(t0 + 180s);
  EXPECT_EQ(p.client.events.closes, 1);
  EXPECT_EQ(p.client.events.close_flush, true);
  EXPECT_EQ(p.client.events.logs_containing("idle for 60 s, closing"), 1u);

  // The UC server connection is never closed for idleness.
  auto internal = outbound_options(side::internal);
  internal.idle_timeout = 60s;
  plain_pair q(internal, inbound_options(side::internal));
  q.client.core.tick(t0 + 600s);
  EXPECT_EQ(q.client.events.closes, 0);
}

// TLS: the client (outbound to `domain`) presents good (a.test, gw.a.test), the
// server `server_cert` (peerwild: b.test and *.b.test); real OpenSSL handshakes.
struct tls_pair {
  tls::contexts_ptr client_contexts = tls::testing::raw_contexts("good");
  tls::contexts_ptr server_contexts;
  end client;
  end server;

  explicit tls_pair(const std::string& server_cert = "peerwild", const std::string& domain = "b.test",
                    connection_options server_options = inbound_options())
    : server_contexts(tls::testing::raw_contexts(server_cert)),
      client(with(outbound_options(), client_contexts, domain)),
      server(with(std::move(server_options), server_contexts, "")) {
    client.core.attach("10.0.0.2:5061", std::make_unique<tls::tls_stream>(client_contexts->new_client_session(domain)),
                       t0);
    server.core.attach("10.0.0.1:40000", std::make_unique<tls::tls_stream>(server_contexts->new_server_session()), t0);
    server.core.connected(t0);  // a server waits for the ClientHello
  }
  static connection_options with(connection_options o, tls::contexts_ptr contexts, const std::string& domain) {
    o.contexts = std::move(contexts);
    if (!domain.empty()) o.domain = domain;
    return o;
  }
  void handshake(clock::time_point now = t0) {
    client.core.connected(now);  // ClientHello
    pump(client, server, now);
  }
};

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(SipConnection, TlsHandshakeCompletesAndIdentitiesExcludeWildcardNames) {
  tls_pair p;
  ASSERT_TRUE(p.client_contexts && p.server_contexts);
  // Queued while handshaking, sent once the server's certificate checked out.
  auto wire = gateway_request("z9hG4bK-tls");
  p.client.core.transmit(wire, 5, "z9hG4bK-tls", t0);
  p.handshake();
  ASSERT_TRUE(p.client.core.established()) << (p.client.events.logs.empty() ? "" : p.client.events.logs.back().text);
  ASSERT_TRUE(p.server.core.established());
  EXPECT_NE(p.client.core.transport_description().find("TLS"), std::string::npos);
  const auto& ids = p.client.core.identities();
  EXPECT_TRUE(has(ids, "b.test"));
  for (const auto& id : ids) EXPECT_EQ(id.find('*'), std::string::npos) << id;
  EXPECT_FALSE(has(ids, "*.b.test"));
  EXPECT_TRUE(has(p.server.core.identities(), "a.test"));
  ASSERT_EQ(p.client.events.established_with.size(), 1u);
  EXPECT_EQ(p.client.events.established_with[0], ids);
  ASSERT_EQ(p.server.events.requests.size(), 1u);
  p.server.core.respond(response_to(p.server.events.requests[0], 202).serialize());
  pump(p.client, p.server);
  ASSERT_EQ(p.client.events.responses.size(), 1u);
  EXPECT_EQ(p.client.events.responses[0].second.status_code(), 202);
}

TEST(SipConnection, ServerCertificateForAnotherDomainFailsTheAttempt) {
  tls_pair p("peerwild", "c.test");
  p.client.core.transmit(gateway_request("z9hG4bK-1"), 1, "z9hG4bK-1", t0);
  p.handshake();
  EXPECT_FALSE(p.client.core.established());
  ASSERT_EQ(p.client.events.setup_failures.size(), 1u);
  EXPECT_NE(p.client.events.setup_failures[0].find("TLS: c.test at 10.0.0.2:5061"), std::string::npos);
  EXPECT_EQ(p.client.events.closes, 1);
  EXPECT_TRUE(p.client.core.awaits("z9hG4bK-1"));  // still queued: the owner tries the next target
  p.client.core.detach();
  EXPECT_EQ(p.client.core.queued(), 1u);
}

TEST(SipConnection, FailedTlsHandshakeFailsTheAttemptOnce) {
  tls_pair p("untrusted");  // issued by a root the client does not trust
  p.client.core.transmit(gateway_request("z9hG4bK-1"), 1, "z9hG4bK-1", t0);
  p.handshake();
  EXPECT_FALSE(p.client.core.established());
  ASSERT_EQ(p.client.events.setup_failures.size(), 1u);
  EXPECT_EQ(p.client.events.setup_failures[0].rfind("TLS handshake with b.test at 10.0.0.2:5061 failed: ", 0), 0u)
    << p.client.events.setup_failures[0];
  EXPECT_EQ(p.client.events.closes, 1);
  EXPECT_TRUE(p.client.events.established_with.empty());
  EXPECT_TRUE(p.client.events.failures.empty());  // still queued for the next target
}

TEST(SipConnection, CloseNotifyFromThePeerClosesAndPendingRequestsFailOnce) {
  auto server_options = inbound_options();
  server_options.idle_timeout = 60s;
  tls_pair p("peerwild", "b.test", server_options);
  p.handshake();
  ASSERT_TRUE(p.client.core.established());
  p.client.core.transmit(gateway_request("z9hG4bK-1", "INVITE"), 9, "z9hG4bK-1", t0 + 1s);
  p.client.core.transmit(gateway_request("z9hG4bK-1", "ACK"), 10, "", t0 + 1s);  // untracked
  p.server.core.receive(p.client.events.take(), t0 + 1s);
  // The server closes the idle session: close_notify.
  p.server.core.tick(t0 + 61s);
  ASSERT_EQ(p.server.events.closes, 1);
  p.client.core.receive(p.server.events.take(), t0 + 61s);
  EXPECT_EQ(p.client.events.closes, 1);
  EXPECT_EQ(p.client.events.close_flush, true);
  EXPECT_TRUE(p.client.events.failures.empty());  // the socket is not gone yet
  p.client.core.closed("closed by peer");
  p.client.core.closed("closed by peer");
  ASSERT_EQ(p.client.events.failures.size(), 1u);
  EXPECT_EQ(p.client.events.failures[0].token, 9);
  EXPECT_EQ(p.client.events.failures[0].status, 503);
  EXPECT_EQ(p.client.events.failures[0].reason,
            "Service Unavailable - connection to b.test 10.0.0.2:5061 lost (closed by peer)");
  EXPECT_EQ(p.client.events.logs_containing("connection down: b.test 10.0.0.2:5061"), 1u);
  // Too late for this connection: refused at once, not queued.
  p.client.core.transmit(gateway_request("z9hG4bK-2"), 11, "z9hG4bK-2", t0 + 62s);
  ASSERT_EQ(p.client.events.failures.size(), 2u);
  EXPECT_EQ(p.client.events.failures[1].reason, "Service Unavailable - connection to b.test 10.0.0.2:5061 closed");
}

TEST(SipConnection, MoreThanOneMiBHeldBackBeforeTheHandshakeCloses) {
  tls_pair p;
  p.client.core.connected(t0);  // ClientHello written, no answer yet
  std::string half(600 * 1024, 'x');
  p.client.core.respond(half);
  EXPECT_EQ(p.client.events.closes, 0);
  p.client.core.respond(half);
  EXPECT_EQ(p.client.events.closes, 1);
  EXPECT_EQ(p.client.events.close_flush, false);
  p.client.core.respond(half);
  p.client.core.tick(t0 + 40s);
  EXPECT_EQ(p.client.events.closes, 1);
  EXPECT_EQ(p.client.events.logs_containing("more than 1 MiB waiting for the TLS handshake"), 1u);
  EXPECT_EQ(p.client.events.logs.size(), 1u);
}

TEST(SipConnection, WriteFailureIsLoggedOnceAndLaterWritesAreDropped) {
  plain_pair p;
  p.client.events.refuse_writes = true;
  p.client.core.transmit(gateway_request("z9hG4bK-1"), 1, "z9hG4bK-1", t0);
  EXPECT_EQ(p.client.events.closes, 1);
  EXPECT_EQ(p.client.events.close_flush, false);
  p.client.core.transmit(gateway_request("z9hG4bK-2"), 2, "z9hG4bK-2", t0);
  p.client.core.respond("SIP/2.0 200 OK\r\n\r\n");
  p.client.core.tick(t0 + 31s);  // no keep-alive either
  EXPECT_EQ(p.client.events.write_calls, 1u);
  EXPECT_EQ(p.client.events.logs_containing("output buffer full or connection gone, closing the connection"), 1u);
  p.client.core.closed("reset");
  EXPECT_EQ(p.client.events.logs.size(), 1u);  // no second entry for the same loss
  EXPECT_EQ(p.client.events.failures.size(), 2u);
}

TEST(SipConnection, RequestsQueuedWhileConnectingGoOutWhenEstablished) {
  auto options = outbound_options();
  options.max_queued = 2;
  end client(options);
  // Queued before any socket (DNS still running).
  client.core.transmit(gateway_request("z9hG4bK-1"), 1, "z9hG4bK-1", t0);
  client.core.attach("10.0.0.2:5060", nullptr, t0);
  client.core.transmit(gateway_request("z9hG4bK-2"), 2, "z9hG4bK-2", t0);
  client.core.transmit(gateway_request("z9hG4bK-3"), 3, "z9hG4bK-3", t0);
  ASSERT_EQ(client.events.failures.size(), 1u);
  EXPECT_EQ(client.events.failures[0].token, 3);
  EXPECT_EQ(client.events.failures[0].status, 503);
  EXPECT_EQ(client.events.failures[0].reason, "Service Unavailable - too many requests queued for b.test");
  // CANCEL and ACK (empty branch) are never refused.
  client.core.transmit(gateway_request("z9hG4bK-1", "CANCEL"), 4, "", t0);
  client.core.transmit(gateway_request("z9hG4bK-0", "ACK"), 5, "", t0);
  EXPECT_EQ(client.events.failures.size(), 1u);
  EXPECT_EQ(client.core.queued(), 4u);
  EXPECT_TRUE(client.events.out.empty());
  client.core.connected(t0 + 1s);
  EXPECT_EQ(client.core.queued(), 0u);
  EXPECT_EQ(client.core.in_flight(), 2u);  // the CANCEL and ACK are untracked
  auto first = client.events.out.find("z9hG4bK-1");
  auto second = client.events.out.find("z9hG4bK-2");
  auto cancel = client.events.out.find("CANCEL ");
  auto ack = client.events.out.find("ACK ");
  EXPECT_TRUE(first < second && second < cancel && cancel < ack) << client.events.out;
}

// A burst the peer reads slower than it comes: while the socket's output is congested, requests wait (none is
// written, none refused up to max_held_bytes); drained() sends them in order, as long as the output takes them.
TEST(SipConnection, RequestsWaitWhileTheOutputIsCongestedAndGoOutInOrderWhenItDrains) {
  plain_pair p;
  auto& client = p.client;
  client.core.transmit(gateway_request("z9hG4bK-1"), 1, "z9hG4bK-1", t0);
  EXPECT_NE(client.events.take().find("z9hG4bK-1"), std::string::npos);
  client.events.output_congested = true;
  for (int i = 2; i <= 5; ++i) {
    auto branch = "z9hG4bK-" + std::to_string(i);
    client.core.transmit(gateway_request(branch), i, branch, t0);
  }
  EXPECT_TRUE(client.events.out.empty());
  EXPECT_EQ(client.core.queued(), 4u);
  EXPECT_TRUE(client.core.awaits("z9hG4bK-3"));
  // Drained, but congested again before it is all out: the rest keeps waiting, and a new request waits
  // behind it (order), even though the output now takes it.
  client.events.output_congested = false;
  client.core.drained(t0);
  EXPECT_EQ(client.core.queued(), 0u);
  client.events.output_congested = true;
  client.core.transmit(gateway_request("z9hG4bK-6"), 6, "z9hG4bK-6", t0);
  EXPECT_EQ(client.core.queued(), 1u);
  client.events.output_congested = false;
  client.core.transmit(gateway_request("z9hG4bK-7"), 7, "z9hG4bK-7", t0);
  EXPECT_EQ(client.core.queued(), 2u);
  client.core.drained(t0);
  EXPECT_EQ(client.core.queued(), 0u);
  std::string out = client.events.take();
  size_t at = 0;
  for (int i = 2; i <= 7; ++i) {
    auto next = out.find("branch=z9hG4bK-" + std::to_string(i), at);
    ASSERT_NE(next, std::string::npos) << "request " << i << " missing or out of order: " << out;
    at = next;
  }
  EXPECT_EQ(client.core.in_flight(), 7u);
  EXPECT_TRUE(client.events.failures.empty());
  // The server gets every one, once.
  p.server.core.receive(out, t0);
  EXPECT_EQ(p.server.events.requests.size(), 6u);
}

// What waits for a congested output is bounded in bytes: past max_held_bytes a request is answered 503 with
// the reason (never by closing the connection), CANCEL and ACK still wait, and closing fails what waits once.
TEST(SipConnection, HeldRequestsAreBoundedInBytesAndFailOnceWhenTheConnectionCloses) {
  auto options = outbound_options();
  auto one = gateway_request("z9hG4bK-1");
  options.max_held_bytes = 2 * one.size() + 10;
  options.max_queued = 1;  // the count limit is for connecting, not for a congested output
  plain_pair p(options);
  auto& client = p.client;
  client.events.output_congested = true;
  client.core.transmit(gateway_request("z9hG4bK-1"), 1, "z9hG4bK-1", t0);
  client.core.transmit(gateway_request("z9hG4bK-2"), 2, "z9hG4bK-2", t0);
  client.core.transmit(gateway_request("z9hG4bK-3"), 3, "z9hG4bK-3", t0);
  ASSERT_EQ(client.events.failures.size(), 1u);
  EXPECT_EQ(client.events.failures[0].token, 3);
  EXPECT_EQ(client.events.failures[0].branch, "z9hG4bK-3");
  EXPECT_EQ(client.events.failures[0].status, 503);
  EXPECT_NE(client.events.failures[0].reason.find("reads slower than requests come"), std::string::npos)
    << client.events.failures[0].reason;
  EXPECT_EQ(client.events.closes, 0);
  client.core.transmit(gateway_request("z9hG4bK-1", "CANCEL"), 4, "", t0);
  EXPECT_EQ(client.events.failures.size(), 1u);
  EXPECT_EQ(client.core.queued(), 3u);
  EXPECT_TRUE(client.events.out.empty());
  client.core.closed("connection reset by peer");
  ASSERT_EQ(client.events.failures.size(), 4u);
  std::vector<int> failed;
  for (const auto& f : client.events.failures) failed.push_back(f.token);
  EXPECT_EQ(failed, (std::vector<int>{3, 1, 2, 4}));
  for (size_t i = 1; i < 4; ++i) EXPECT_EQ(client.events.failures[i].status, 503);
  client.core.drained(t0);  // too late: nothing left, nothing written
  EXPECT_TRUE(client.events.out.empty());
  EXPECT_EQ(client.events.failures.size(), 4u);
}

// A request held for a congested output as long as its transaction lives (timer B/F) has been answered 408 by
// its shard: it is failed (408, once) and never sent, and so is an ACK or CANCEL that waited as long; what
// came later still goes out, in order.
TEST(SipConnection, AHeldRequestThatOutlivedItsTransactionIsFailedNotSent) {
  plain_pair p;
  auto& client = p.client;
  auto limit = transaction_timers{}.final_response;  // timer B/F, the options' default
  client.events.output_congested = true;
  client.core.transmit(gateway_request("z9hG4bK-1"), 1, "z9hG4bK-1", t0);
  client.core.transmit(gateway_request("z9hG4bK-1", "CANCEL"), 2, "", t0);
  client.core.transmit(gateway_request("z9hG4bK-3"), 3, "z9hG4bK-3", t0 + 1s);
  client.core.transmit(gateway_request("z9hG4bK-4"), 4, "z9hG4bK-4", t0 + 2s);
  EXPECT_EQ(client.core.queued(), 4u);
  client.events.output_congested = false;
  // z9hG4bK-3 waited 1 ms less than the limit: it still goes out.
  client.core.drained(t0 + 1s + limit - 1ms);
  ASSERT_EQ(client.events.failures.size(), 2u);
  EXPECT_EQ(client.events.failures[0].token, 1);
  EXPECT_EQ(client.events.failures[0].branch, "z9hG4bK-1");
  EXPECT_EQ(client.events.failures[0].status, 408);
  EXPECT_NE(client.events.failures[0].reason.find("not sent"), std::string::npos) << client.events.failures[0].reason;
  EXPECT_NE(client.events.failures[0].reason.find("congested output"), std::string::npos)
    << client.events.failures[0].reason;
  EXPECT_EQ(client.events.failures[1].token, 2);
  std::string out = client.events.take();
  EXPECT_EQ(out.find("z9hG4bK-1"), std::string::npos) << out;
  EXPECT_EQ(out.find("CANCEL "), std::string::npos) << out;
  auto third = out.find("branch=z9hG4bK-3");
  auto fourth = out.find("branch=z9hG4bK-4");
  ASSERT_NE(third, std::string::npos) << out;
  ASSERT_NE(fourth, std::string::npos) << out;
  EXPECT_LT(third, fourth);
  EXPECT_EQ(client.core.queued(), 0u);
  EXPECT_EQ(client.core.in_flight(), 2u);
  EXPECT_FALSE(client.core.awaits("z9hG4bK-1"));
  EXPECT_EQ(client.events.logs_containing("2 queued request(s) not sent"), 1u);
  // The peer gets the two that were sent, once each.
  p.server.core.receive(out, t0 + 1s + limit);
  EXPECT_EQ(p.server.events.requests.size(), 2u);
}

// The same for requests queued while connecting: tick() fails them when they have waited as long as their
// transaction lives, and a connection established later sends none of them.
TEST(SipConnection, RequestsQueuedWhileConnectingExpireWithTheirTransaction) {
  end client(outbound_options());
  auto limit = transaction_timers{}.final_response;  // timer B/F, the options' default
  client.core.transmit(gateway_request("z9hG4bK-1"), 1, "z9hG4bK-1", t0);
  client.core.attach("10.0.0.2:5060", nullptr, t0);
  client.core.transmit(gateway_request("z9hG4bK-2"), 2, "z9hG4bK-2", t0 + 5s);
  client.core.tick(t0 + limit);
  ASSERT_EQ(client.events.failures.size(), 1u);
  EXPECT_EQ(client.events.failures[0].token, 1);
  EXPECT_EQ(client.events.failures[0].status, 408);
  EXPECT_NE(client.events.failures[0].reason.find("to connect"), std::string::npos) << client.events.failures[0].reason;
  EXPECT_EQ(client.core.queued(), 1u);
  // Connected after the second one expired too: nothing is sent, each failed once.
  client.core.connected(t0 + 5s + limit);
  ASSERT_EQ(client.events.failures.size(), 2u);
  EXPECT_EQ(client.events.failures[1].token, 2);
  EXPECT_EQ(client.events.failures[1].status, 408);
  EXPECT_TRUE(client.events.out.empty()) << client.events.out;
  EXPECT_EQ(client.core.in_flight(), 0u);
  client.core.closed("gone");
  EXPECT_EQ(client.events.failures.size(), 2u);
}

TEST(SipConnection, PartialMessageArmsTheIncompleteMessageDeadline) {
  plain_pair p;
  auto& server = p.server;
  auto wire = gateway_request("z9hG4bK-1");
  // Before the first complete message the reactor's establishment deadline runs: nothing here.
  server.core.receive(wire.substr(0, 20), t0);
  EXPECT_EQ(server.events.message_completes, 0);
  EXPECT_TRUE(server.events.deadlines.empty());
  server.core.receive(wire.substr(20), t0);
  EXPECT_EQ(server.events.message_completes, 1);
  server.core.receive(wire.substr(0, 30), t0 + 5s);
  ASSERT_EQ(server.events.deadlines.size(), 1u);
  EXPECT_EQ(server.events.deadlines[0].first, t0 + 5s + 10s);
  EXPECT_EQ(server.events.deadlines[0].second, "incomplete SIP message for 10 s");
  server.core.receive(wire.substr(30, 10), t0 + 6s);
  EXPECT_EQ(server.events.deadlines.size(), 1u);  // armed once
  server.core.receive(wire.substr(40), t0 + 7s);
  EXPECT_EQ(server.events.message_completes, 2);  // complete again: the deadline is lifted
  EXPECT_EQ(server.events.requests.size(), 2u);
  // Outbound connections have no such deadline.
  p.client.core.receive(response_wire(wire, 200).substr(0, 10), t0);
  EXPECT_TRUE(p.client.events.deadlines.empty());
}

TEST(SipConnection, MalformedRequestGetsTheAnswerOfMakeResponseToMalformed) {
  plain_pair p;
  auto raw = request_text{}.str();
  raw.erase(raw.find("To: "), raw.find("\r\n", raw.find("To: ")) + 2 - raw.find("To: "));  // To is mandatory
  auto parsed = sip::parse_message(raw, sip::ParseOptions{sip::Limits{}, true, false});
  ASSERT_FALSE(parsed.ok());
  auto expected = sip::make_response_to_malformed(raw, parsed.error());
  ASSERT_TRUE(expected.has_value());
  EXPECT_EQ(expected->substr(0, 12), "SIP/2.0 400 ");
  p.server.core.receive(raw, t0);
  EXPECT_EQ(p.server.events.out, *expected);
  EXPECT_TRUE(p.server.events.requests.empty());
  EXPECT_EQ(p.server.events.logs_containing("malformed request answered 400"), 1u);
  EXPECT_EQ(p.server.events.closes, 0);  // the stream goes on
}

TEST(SipConnection, DiscoveredPartnerRateLimitAnswers503ButNeverRefusesAck) {
  auto limited = std::make_shared<settings>();
  limited->discovered_rate_limit = 1;
  auto options = inbound_options();
  options.inbound_limits = std::make_shared<partner_rate_limiter>();
  options.settings = limited;
  plain_pair p(outbound_options(), options);
  p.server.core.receive(gateway_request("z9hG4bK-1"), t0);
  p.server.core.receive(gateway_request("z9hG4bK-2"), t0);
  p.server.core.receive(gateway_request("z9hG4bK-0", "ACK"), t0);
  p.server.core.receive(gateway_request("z9hG4bK-0", "CANCEL"), t0);
  EXPECT_EQ(p.server.events.requests.size(), 3u);  // the first MESSAGE, the ACK and the CANCEL
  EXPECT_EQ(p.server.events.out.substr(0, 12), "SIP/2.0 503 ");
  EXPECT_NE(p.server.events.out.find("Retry-After: 1"), std::string::npos);
  EXPECT_EQ(p.server.events.logs_containing("requests/s from a discovered partner"), 1u);
  p.server.core.receive(gateway_request("z9hG4bK-3"), t0 + 1s);  // refilled
  EXPECT_EQ(p.server.events.requests.size(), 4u);
  // A newer policy (config apply) is read through the owner: no requests at all now.
  auto closed = std::make_shared<settings>(*limited);
  closed->discovered_rate_limit = 0;
  p.server.events.current_policy = closed;
  p.server.core.receive(gateway_request("z9hG4bK-4"), t0 + 3s);
  EXPECT_EQ(p.server.events.requests.size(), 4u);
}

}  // namespace
}  // namespace fedgw::proxy
