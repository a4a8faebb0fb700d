// The metrics as the actors count and the supervisor gathers them: a real proxy-core shard answering
// requests, the DNS resolver answering from its static records, and the supervisor's metrics_atom
// merging them (also when a shard does not answer).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "actors/gateway_supervisor.h"
#include "actors/peer_registry.h"
#include "actors/proxy_core.h"
#include "gateway/config/config.h"

namespace fedgw {
namespace {

// A response sink that keeps the first line of what it is given.
struct sink_state {
  std::vector<std::string> lines;
};
using sink_actor = caf::typed_actor<caf::reacts_to<respond_atom, std::string>,
                                    caf::replies_to<caf::get_atom>::with<std::vector<std::string>>>;
sink_actor::behavior_type sink_impl(sink_actor::stateful_pointer<sink_state> self) {
  return {
    [=](respond_atom, const std::string& wire) { self->state.lines.push_back(wire.substr(0, wire.find('\r'))); },
    [=](caf::get_atom) { return self->state.lines; },
  };
}

// A proxy-core shard that never answers a metrics ask (it keeps the promises).
struct silent_state {
  std::vector<caf::typed_response_promise<metrics::sip_block>> held;
};
proxy_core_actor::behavior_type silent_impl(proxy_core_actor::stateful_pointer<silent_state> self) {
  return {
    [](request_atom, sip_origin&, sip::Message&) {},
    [](response_atom, sip::Message&) {},
    [](fail_atom, const std::string&, int, const std::string&) {},
    [](proxy_tick_atom) {},
    [](route_atom, std::string&, response_sink&) {},
    [=](metrics_atom) -> caf::typed_response_promise<metrics::sip_block> {
      auto p = self->make_response_promise<metrics::sip_block>();
      self->state.held.push_back(p);
      return p;
    },
    [](config_atom, std::shared_ptr<const proxy::settings>&) {},
  };
}

struct metrics_actors_test : ::testing::Test {
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  caf::scoped_actor self{system};
  config::Config config;
  status_log_actor log;
  cert_manager_actor certificates;
  dns_resolver_actor dns;
  peer_registry_actor registry;
  proxy_core_actor shard;
  sink_actor sink;
  std::vector<caf::actor> spawned;

  void SetUp() override {
    auto loaded = config::parse_config(
      "mode: DIRECT domains: \"a.test\" internal_listener { bind_ip: \"127.0.0.1\" } control_socket: \"/nonexistent\" "
      "dns { servers: \"127.0.0.1:9\" srv { name: \"_sipfederationtls._tcp.b.test\" target: \"gw.b.test\" port: 5061 } }",
      "test");
    ASSERT_TRUE(loaded.ok()) << loaded.errors.front();
    config = loaded.config;
    log = spawn_status_log(system, {.write_stderr = false});
    certificates = spawn_cert_manager(system, {config.certificate(), log, true, {}, {}});
    dns = spawn_dns_resolver(system, config.dns(), log);
    peer_registry_options ro;
    ro.log = log;
    ro.connection_counters = std::make_shared<metrics::shared_connection_counters>();
    registry = spawn_peer_registry(system, ro);
    auto settings = std::make_shared<const proxy::settings>(
      proxy::settings::from_config(config, proxy::instance_keys::random()));
    shard = spawn_proxy_core(system, {settings, 0, registry, log, {}, {}, nullptr, nullptr});
    sink = system.spawn(sink_impl);
  }

  void TearDown() override {
    for (auto& a : spawned) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(dns, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(certificates, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(log, caf::exit_reason::user_shutdown);
  }

  void send_request(const std::string& text) {
    auto m = sip::parse_message(text, {{}, true, false});
    ASSERT_TRUE(m.ok()) << m.error().message;
    sip_origin origin{caf::actor_cast<response_sink>(sink), proxy::side::internal, {}, "127.0.0.1:40000"};
    caf::anon_send(shard, request_atom::value, std::move(origin), std::move(*m));
  }

  // The sink's answers once it has `n`.
  std::vector<std::string> answers(size_t n) {
    std::vector<std::string> out;
    for (int i = 0; i < 100 && out.size() < n; ++i) {
      self->request(sink, std::chrono::seconds(5), caf::get_atom::value)
        .receive([&](const std::vector<std::string>& lines) { out = lines; }, [](const caf::error&) {});
      if (out.size() < n) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return out;
  }

  supervisor_actor supervisor(std::vector<proxy_core_actor> shards) {
    supervisor_options o;
    o.config = config;
    o.source = "test";
    o.worker_threads = 2;
    o.log = log;
    o.certificates = certificates;
    o.dns = dns;
    o.shards = std::move(shards);
    o.registry = registry;
    auto s = spawn_gateway_supervisor(system, std::move(o));
    spawned.push_back(caf::actor_cast<caf::actor>(s));
    return s;
  }

  std::string scrape(const supervisor_actor& s, std::chrono::milliseconds* took = nullptr) {
    std::string text;
    auto start = std::chrono::steady_clock::now();
    self->request(s, std::chrono::seconds(10), metrics_atom::value)
      .receive([&](const std::string& t) { text = t; }, [&](const caf::error& e) { ADD_FAILURE() << system.render(e); });
    if (took)
      *took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return text;
  }
};

std::string request(const std::string& method, const std::string& uri, int max_forwards) {
  return method + " " + uri + " SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bK-" + method +
         std::to_string(max_forwards) + "\r\nMax-Forwards: " + std::to_string(max_forwards) +
         "\r\nFrom: <sip:alice@a.test>;tag=1\r\nTo: <" + uri + ">\r\nCall-ID: m" + std::to_string(max_forwards) +
         "@test\r\nCSeq: 1 " + method + "\r\nContent-Length: 0\r\n\r\n";
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST_F(metrics_actors_test, ShardCountsOnceAndStatusCountersAreDerivedFromIt) {
  send_request(request("OPTIONS", "sip:a.test", 70));        // answered locally: 200
  send_request(request("MESSAGE", "sip:bob@b.test", 0));     // 483
  send_request(request("MESSAGE", "sip:ann@a.test", 70));    // internal to internal: 403 (policy)
  ASSERT_EQ(answers(3).size(), 3u);
  metrics::sip_block m;
  self->request(shard, std::chrono::seconds(5), metrics_atom::value)
    .receive([&](const metrics::sip_block& b) { m = b; }, [&](const caf::error& e) { FAIL() << system.render(e); });
  using metrics::direction;
  using metrics::method;
  using metrics::side;
  EXPECT_EQ(m.requests[m.request_index(side::internal, direction::in, method::options)], 1u);
  EXPECT_EQ(m.requests[m.request_index(side::internal, direction::in, method::message)], 2u);
  EXPECT_EQ(m.responses[m.response_index(side::internal, direction::out, method::options, 200)], 1u);
  EXPECT_EQ(m.responses[m.response_index(side::internal, direction::out, method::message, 400)], 2u);
  EXPECT_EQ(m.local_responses[metrics::ix(metrics::reason::loop) * metrics::local_code_slots + metrics::code_slot(483)],
            1u);
  EXPECT_EQ(m.local_responses[metrics::ix(metrics::reason::local) * metrics::local_code_slots + metrics::code_slot(200)],
            1u);
  EXPECT_EQ(m.policy_rejections[metrics::ix(metrics::policy_reason::relay)], 1u);
  auto c = status_counters(m);
  EXPECT_EQ(c.requests_in(), 3u);
  EXPECT_EQ(c.requests_out(), 0u);
  EXPECT_EQ(c.responses_2xx(), 1u);
  EXPECT_EQ(c.responses_4xx(), 2u);
}

TEST_F(metrics_actors_test, SupervisorMergesShardsRegistryAndDns) {
  send_request(request("OPTIONS", "sip:a.test", 70));
  ASSERT_EQ(answers(1).size(), 1u);
  self->request(dns, std::chrono::seconds(5), srv_atom::value, std::string("_sipfederationtls._tcp.b.test"))
    .receive([](const dns::srv_lookup&) {}, [&](const caf::error& e) { FAIL() << system.render(e); });
  auto s = supervisor({shard, shard});  // the same shard twice: its counts are merged twice
  auto text = scrape(s);
  EXPECT_TRUE(has_line(text, "fedgw_sip_requests_total{side=\"internal\",direction=\"in\",method=\"OPTIONS\"} 2"))
    << text;
  EXPECT_TRUE(has_line(text, "fedgw_dns_queries_total{type=\"SRV\",result=\"static\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "fedgw_scrape_parts_missing 0")) << text;
  EXPECT_TRUE(has_line(text, "fedgw_certificate_in_use 0")) << text;  // no certificate configured
  // fedctl status sums the same blocks.
  control::GatewayStatus status;
  self->request(s, std::chrono::seconds(5), status_atom::value)
    .receive([&](control::GatewayStatus& g) { status = std::move(g); },
             [&](const caf::error& e) { FAIL() << system.render(e); });
  EXPECT_EQ(status.counters().requests_in(), 2u);
  EXPECT_EQ(status.counters().responses_2xx(), 2u);
  EXPECT_NE(text.find("\nprocess_open_fds "), std::string::npos);
  EXPECT_NE(text.find("fedgw_build_info{version=\"" FEDGW_VERSION "\"} 1"), std::string::npos);
}

TEST_F(metrics_actors_test, AShardThatDoesNotAnswerDoesNotBlockTheScrape) {
  send_request(request("OPTIONS", "sip:a.test", 70));
  ASSERT_EQ(answers(1).size(), 1u);
  auto silent = system.spawn(silent_impl);
  spawned.push_back(caf::actor_cast<caf::actor>(silent));
  auto s = supervisor({shard, silent});
  std::chrono::milliseconds took{};
  auto text = scrape(s, &took);
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_TRUE(has_line(text, "fedgw_scrape_parts_missing 1")) << text;
  EXPECT_TRUE(has_line(text, "fedgw_sip_requests_total{side=\"internal\",direction=\"in\",method=\"OPTIONS\"} 1"))
    << text;
}

}  // namespace
}  // namespace fedgw
