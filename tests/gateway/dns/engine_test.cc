// The c-ares I/O thread against a real dnsmasq on loopback.
#include "gateway/dns/engine.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>

#include "tests/gateway/dns/dnsmasq.h"

namespace fedgw::dns {
namespace {

answer ask(engine& e, const std::string& name, rr_type type) {
  std::promise<raw_result> p;
  auto f = p.get_future();
  e.query(name, type, [&p](raw_result r) { p.set_value(std::move(r)); });
  if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "no answer for " << name;
    return {};
  }
  return to_answer(f.get(), type);
}

std::vector<std::string> big_records() {
  std::vector<std::string> r;
  for (int i = 0; i < 40; ++i)
    r.push_back("--srv-host=_sipfederationtls._tcp.big.test,target-number-" + std::to_string(i) +
                ".big.test,5061,10," + std::to_string(i + 1));
  for (int i = 1; i <= 60; ++i) r.push_back("--host-record=many.test,10.1.0." + std::to_string(i));
  r.push_back("--host-record=one.test,10.2.0.1,fd00::21");
  r.push_back("--local-ttl=45");
  return r;
}

TEST(DnsEngine, AnswersWithTtlsFromARealServer) {
  test::dnsmasq server(big_records());
  ASSERT_TRUE(server.running()) << server.start_error();
  engine e;
  std::string error;
  ASSERT_TRUE(e.configure({{server.server()}, 1000, 2}, error)) << error;
  EXPECT_EQ(e.servers(), server.server());
  auto a = ask(e, "one.test", rr_type::a);
  ASSERT_EQ(a.result, outcome::ok) << a.detail;
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(a.addresses[0].ip, "10.2.0.1");
  EXPECT_EQ(a.ttl, 45u);
  auto b = ask(e, "one.test", rr_type::aaaa);
  ASSERT_EQ(b.result, outcome::ok);
  EXPECT_EQ(b.addresses.at(0).ip, "fd00::21");
  EXPECT_EQ(ask(e, "nothing.test", rr_type::a).result, outcome::nxdomain);
  EXPECT_EQ(ask(e, "one.test", rr_type::srv).result, outcome::nodata);
  EXPECT_EQ(e.queries_sent(), 4u);
}

TEST(DnsEngine, LargeAnswersFallBackToTcp) {
  test::dnsmasq server(big_records());
  ASSERT_TRUE(server.running()) << server.start_error();
  engine e;
  std::string error;
  ASSERT_TRUE(e.configure({{server.server()}, 1000, 2}, error)) << error;
  auto srv = ask(e, "_sipfederationtls._tcp.big.test", rr_type::srv);
  ASSERT_EQ(srv.result, outcome::ok) << srv.detail;
  EXPECT_EQ(srv.srv.size(), 40u);  // far more than 512 bytes of UDP answer
  auto many = ask(e, "many.test", rr_type::a);
  ASSERT_EQ(many.result, outcome::ok) << many.detail;
  EXPECT_EQ(many.addresses.size(), 60u);
  // Truncated over UDP, then asked again over TCP.
  EXPECT_EQ(server.wait_queries("_sipfederationtls._tcp.big.test", "SRV", 2), 2u) << server.log_text();
  EXPECT_EQ(server.wait_queries("many.test", "A", 2), 2u);
}

TEST(DnsEngine, SilentServerTimesOutNamingServerAndTries) {
  test::black_hole hole;
  engine e;
  std::string error;
  ASSERT_TRUE(e.configure({{hole.server()}, 100, 2}, error)) << error;
  auto t0 = std::chrono::steady_clock::now();
  auto a = ask(e, "x.test", rr_type::a);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(a.result, outcome::timeout);
  EXPECT_EQ(a.detail, "server " + hole.server() + " timed out after 2 tries (100 ms each)");
  EXPECT_GE(took, std::chrono::milliseconds(180));
  EXPECT_LT(took, std::chrono::milliseconds(2000));
}

TEST(DnsEngine, ReconfigureLetsQueriesInFlightFinish) {
  test::dnsmasq server(big_records());
  ASSERT_TRUE(server.running()) << server.start_error();
  test::black_hole hole;
  engine e;
  std::string error;
  ASSERT_TRUE(e.configure({{hole.server()}, 300, 1}, error));
  std::promise<raw_result> old_answer;
  e.query("one.test", rr_type::a, [&](raw_result r) { old_answer.set_value(std::move(r)); });
  ASSERT_TRUE(e.configure({{server.server()}, 1000, 1}, error));
  auto fresh = ask(e, "one.test", rr_type::a);
  EXPECT_EQ(fresh.result, outcome::ok);
  auto f = old_answer.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  auto old = to_answer(f.get(), rr_type::a);
  EXPECT_EQ(old.result, outcome::timeout);
  EXPECT_NE(old.detail.find(hole.server()), std::string::npos);
  EXPECT_FALSE(e.configure({{"not-an-address"}, 1000, 1}, error));
  EXPECT_NE(error.find("not-an-address"), std::string::npos);
  EXPECT_EQ(e.servers(), server.server());  // unchanged
}

TEST(DnsEngine, ManyConcurrentQueriesFromManyThreads) {
  test::dnsmasq server({"--address=/wild.test/10.3.0.1"});
  ASSERT_TRUE(server.running()) << server.start_error();
  engine e;
  std::string error;
  // A burst much larger than this overflows dnsmasq's socket buffer; c-ares
  // then retries after timeout_ms (still correct, just slow).
  ASSERT_TRUE(e.configure({{server.server()}, 1000, 2}, error));
  std::mutex m;
  std::condition_variable cv;
  int ok = 0, done = 0;
  const int per_thread = 40, threads = 4;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i)
        e.query("n" + std::to_string(t) + "-" + std::to_string(i) + ".wild.test", rr_type::a, [&](raw_result r) {
          auto a = to_answer(r, rr_type::a);
          std::lock_guard<std::mutex> lock(m);
          ok += a.result == outcome::ok && a.addresses.at(0).ip == "10.3.0.1";
          ++done;
          cv.notify_all();
        });
    });
  for (auto& t : ts) t.join();
  std::unique_lock<std::mutex> lock(m);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done == per_thread * threads; }));
  EXPECT_EQ(ok, per_thread * threads);
}

TEST(DnsEngine, WithoutServersUsesResolvConf) {
  // Only the configuration is checked: nothing is sent to the system's servers.
  engine e;
  std::string error;
  ASSERT_TRUE(e.configure({{}, 1000, 2}, error)) << error;
  EXPECT_FALSE(e.servers().empty());
  EXPECT_NE(e.servers(), "(none)");
  EXPECT_NE(e.servers().find(':'), std::string::npos) << e.servers();
}

TEST(DnsEngine, NoServersConfiguredIsAnError) {
  engine e;
  auto a = ask(e, "x.test", rr_type::a);
  EXPECT_EQ(a.result, outcome::error);
  EXPECT_EQ(a.detail, "no DNS servers configured");
}

}  // namespace
}  // namespace fedgw::dns
