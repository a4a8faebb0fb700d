// The proxy core's plain helpers (how many shards a gateway runs, which one takes a request, how many dialogs
// each remembers), and a real shard that remembers as many dialogs' and domains' partner connections as its
// options say.
#include "actors/proxy_core.h"

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "actors/peer_registry.h"
#include "gateway/proxy/routing.h"
#include "tests/gateway/proxy/gateway_config.h"
#include "tests/gateway/proxy/proxy_test_util.h"

namespace fedgw {
namespace {

TEST(ProxyCoreShards, OnePerTwoWorkersAndAtLeastOne) {
  EXPECT_EQ(proxy_core_shards(0), 1u);
  EXPECT_EQ(proxy_core_shards(1), 1u);
  EXPECT_EQ(proxy_core_shards(2), 1u);
  EXPECT_EQ(proxy_core_shards(3), 2u);
  EXPECT_EQ(proxy_core_shards(4), 2u);
  EXPECT_EQ(proxy_core_shards(8), 4u);
  EXPECT_EQ(proxy_core_shards(64), 32u);
}

TEST(DialogFlowsPerShard, HundredThousandPerWorkerWhateverTheShards) {
  EXPECT_EQ(dialog_flows_per_shard(0), 100000u);
  EXPECT_EQ(dialog_flows_per_shard(1), 100000u);
  EXPECT_EQ(dialog_flows_per_shard(2), 200000u);  // one shard for both workers
  EXPECT_EQ(dialog_flows_per_shard(3), 150000u);
  EXPECT_EQ(dialog_flows_per_shard(8), 200000u);
  for (size_t workers = 1; workers <= 64; ++workers) {
    size_t total = dialog_flows_per_shard(workers) * proxy_core_shards(workers);
    EXPECT_GE(total, 100000 * workers) << workers;
    EXPECT_LT(total, 100000 * workers + proxy_core_shards(workers)) << workers;  // rounded up, no more
  }
}

TEST(ShardForCall, StableAndInRange) {
  EXPECT_EQ(shard_for_call("any", 0), 0u);
  EXPECT_EQ(shard_for_call("any", 1), 0u);
  std::set<size_t> used;
  for (int i = 0; i < 1000; ++i) {
    auto call_id = "call-" + std::to_string(i) + "@a.test";
    auto shard = shard_for_call(call_id, 4);
    ASSERT_LT(shard, 4u);
    EXPECT_EQ(shard_for_call(call_id, 4), shard) << call_id;  // every request of a call on the same shard
    used.insert(shard);
  }
  EXPECT_EQ(used.size(), 4u);  // the calls spread over all shards
}

// A SIP connection as the shard and the registry use it: it keeps the requests written to it.
struct fake_connection_state {
  std::vector<std::string> written;
};
caf::behavior fake_connection(caf::stateful_actor<fake_connection_state>* self) {
  self->set_default_handler(caf::drop);
  return {
    [=](transmit_atom, const std::string& wire, const proxy_core_actor&, const std::string&) {
      self->state.written.push_back(wire);
    },
    [=](respond_atom, const std::string&) {},
    [=](caf::get_atom) { return self->state.written; },
  };
}

// Shards with caps on what they remember; the registry's new connections are one fake (`fallback`).
struct ProxyCoreShard : ::testing::Test {
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  caf::scoped_actor self{system};
  std::shared_ptr<const proxy::settings> settings = std::make_shared<const proxy::settings>(
    proxy::settings::from_config(proxy::testing::gateway_a(), proxy::instance_keys::random()));
  status_log_actor log = spawn_status_log(system, {.write_stderr = false});
  caf::actor fallback = system.spawn(fake_connection);
  peer_registry_actor registry;
  std::vector<caf::actor> spawned;

  void SetUp() override {
    peer_registry_options ro;
    ro.log = log;
    ro.connect = [this](const std::string&, const std::string&) {
      return caf::actor_cast<connection_actor>(fallback);
    };
    registry = spawn_peer_registry(system, ro);
  }
  void TearDown() override {
    for (auto& a : spawned) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    for (auto& a : {fallback, caf::actor_cast<caf::actor>(registry), caf::actor_cast<caf::actor>(log)})
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  proxy_core_actor shard(size_t max_dialog_flows, size_t max_routes = routes_per_shard) {
    proxy_core_options o{settings, 0, registry, log, {}, {}, nullptr, nullptr};
    o.max_dialog_flows = max_dialog_flows;
    o.max_routes = max_routes;
    auto s = spawn_proxy_core(system, std::move(o));
    spawned.push_back(caf::actor_cast<caf::actor>(s));
    return s;
  }
  caf::actor connection() {
    spawned.push_back(system.spawn(fake_connection));
    return spawned.back();
  }

  // b.test's SUBSCRIBE of dialog `call_id` to alice@a.test, arriving on `on`; returns the gateway's Route set
  // for the UC server's in-dialog requests (both of its record-route values, as the dialog's peers keep them).
  std::string subscribe_from_partner(const proxy_core_actor& to, const caf::actor& on, const std::string& call_id) {
    proxy::testing::request_text r;
    r.method = "SUBSCRIBE";
    r.uri = "sip:alice@a.test";
    r.from = "<sip:bob@b.test>;tag=pt-" + call_id;
    r.to = "<sip:alice@a.test>";
    r.call_id = call_id;
    r.vias = "Via: SIP/2.0/TLS 10.9.9.9:5061;branch=z9hG4bK-s-" + call_id + "\r\n";
    auto m = r.message();
    auto routes = "Route: " + proxy::record_route_value(*settings, proxy::side::internal, "", m) + "\r\nRoute: " +
                  proxy::record_route_value(*settings, proxy::side::external, "b.test", m) + "\r\n";
    sip_origin origin{caf::actor_cast<response_sink>(on), proxy::side::external, {"b.test"}, "10.9.9.9:5061"};
    caf::anon_send(to, request_atom::value, std::move(origin), std::move(m));
    return routes;
  }

  // The UC server's NOTIFY in dialog `call_id` (to bob@b.test), with the dialog's Route set.
  void notify_from_uc_server(const proxy_core_actor& to, const std::string& call_id, const std::string& routes) {
    proxy::testing::request_text r;
    r.method = "NOTIFY";
    r.uri = "sip:bob@10.9.9.9:5061";
    r.from = "<sip:alice@a.test>;tag=at-" + call_id;
    r.to = "<sip:bob@b.test>;tag=pt-" + call_id;
    r.call_id = call_id;
    r.vias = "Via: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bK-n-" + call_id + "\r\n";
    r.extra = routes;
    auto uc_server = connection();
    sip_origin origin{caf::actor_cast<response_sink>(uc_server), proxy::side::internal, {}, "127.0.0.1:40000"};
    caf::anon_send(to, request_atom::value, std::move(origin), r.message());
  }

  std::vector<std::string> written(const caf::actor& c) {
    std::vector<std::string> out;
    self->request(c, std::chrono::seconds(5), caf::get_atom::value)
      .receive([&](const std::vector<std::string>& w) { out = w; }, [&](const caf::error& e) {
        ADD_FAILURE() << system.render(e);
      });
    return out;
  }
  // The `method` requests of dialog `call_id` written to `c` (waiting up to 5 s for the first when `wait`).
  size_t requests(const caf::actor& c, const std::string& method, const std::string& call_id, bool wait) {
    for (int i = 0;; ++i) {
      size_t n = 0;
      for (const auto& w : written(c))
        n += w.compare(0, method.size() + 1, method + " ") == 0 &&
             w.find("\r\nCall-ID: " + call_id + "\r\n") != std::string::npos;
      if (n > 0 || !wait || i == 250) return n;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // The registry's answer that `domain`'s connection is `c` (up).
  void learn(const proxy_core_actor& to, const std::string& domain, const caf::actor& c) {
    caf::anon_send(to, route_atom::value, domain, caf::actor_cast<response_sink>(c));
  }
  // A MESSAGE from alice@a.test (the UC server) to bob@`domain`, Call-ID `call_id`.
  void message_to(const proxy_core_actor& to, const std::string& domain, const std::string& call_id) {
    proxy::testing::request_text r;
    r.uri = "sip:bob@" + domain;
    r.to = "<sip:bob@" + domain + ">";
    r.call_id = call_id;
    r.vias = "Via: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bK-m-" + call_id + "\r\n";
    auto uc_server = connection();
    sip_origin origin{caf::actor_cast<response_sink>(uc_server), proxy::side::internal, {}, "127.0.0.1:40000"};
    caf::anon_send(to, request_atom::value, std::move(origin), r.message());
  }
};

// start_data_path gives each shard dialog_flows_per_shard(workers) (above); the shard holds to it: dialogs
// past the cap are not remembered, and their in-dialog requests take the registry (the route set), not the
// partner's connection.
TEST_F(ProxyCoreShard, RemembersAsManyDialogsAsItsOptionSays) {
  for (size_t cap : {1u, 2u}) {
    SCOPED_TRACE("max_dialog_flows " + std::to_string(cap));
    auto core = shard(cap);
    auto first = connection();
    auto second = connection();
    auto d1 = "d1-" + std::to_string(cap), d2 = "d2-" + std::to_string(cap);
    auto routes1 = subscribe_from_partner(core, first, d1);
    auto routes2 = subscribe_from_partner(core, second, d2);
    notify_from_uc_server(core, d2, routes2);
    notify_from_uc_server(core, d1, routes1);
    // The first dialog is remembered either way: its NOTIFY goes back on the SUBSCRIBE's connection.
    ASSERT_EQ(requests(first, "NOTIFY", d1, true), 1u);
    // The shard sent the second NOTIFY before that one: had it gone to `second`, it would be there now.
    if (cap == 1) {
      EXPECT_EQ(requests(second, "NOTIFY", d2, false), 0u);
      EXPECT_EQ(requests(fallback, "NOTIFY", d2, true), 1u);  // through the registry
    } else {
      EXPECT_EQ(requests(second, "NOTIFY", d2, false), 1u);
      EXPECT_EQ(requests(fallback, "NOTIFY", d2, false), 0u);
    }
  }
}

// Routes (domain -> established connection) spare the registry hop. At the cap a NEW domain clears them (they
// are learned again); the same domain's route again, as the registry sends it for each request of a burst
// it forwarded, must not: it sent every other domain back through the registry.
TEST_F(ProxyCoreShard, ARouteLearnedAgainAtTheCapKeepsTheOthers) {
  auto core = shard(dialog_flows_per_worker, 2);
  auto b1 = connection(), b2 = connection(), b3 = connection();
  learn(core, "b1.test", b1);
  learn(core, "b2.test", b2);
  learn(core, "b1.test", b1);  // again: the map is full, but b1.test is in it
  message_to(core, "b2.test", "m1");
  message_to(core, "b1.test", "m2");
  ASSERT_EQ(requests(b1, "MESSAGE", "m2", true), 1u);
  // m1 was sent before m2: had it gone anywhere else, it would be there now.
  EXPECT_EQ(requests(b2, "MESSAGE", "m1", false), 1u);
  EXPECT_EQ(requests(fallback, "MESSAGE", "m1", false), 0u);
  // A third domain at the cap: the others are forgotten and go through the registry until learned again.
  learn(core, "b3.test", b3);
  message_to(core, "b2.test", "m3");
  message_to(core, "b3.test", "m4");
  ASSERT_EQ(requests(b3, "MESSAGE", "m4", true), 1u);
  EXPECT_EQ(requests(b2, "MESSAGE", "m3", false), 0u);
  EXPECT_EQ(requests(fallback, "MESSAGE", "m3", true), 1u);
}

}  // namespace
}  // namespace fedgw
