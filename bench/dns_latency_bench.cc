// DNS latency: median time from asking to answer, against a local dnsmasq on
// loopback, through the resolver actor vs the DNS thread alone vs a plain
// c-ares select() loop. A polling tick would show up as milliseconds here.
#include <ares.h>
#include <sys/select.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>

#include "actors/dns_resolver.h"
#include "gateway/dns/engine.h"
#include "tests/gateway/dns/dnsmasq.h"

namespace {

// Median time from asking to answer for questions that all go to dnsmasq:
// through the resolver actor (scoped_actor request -> actor -> DNS thread ->
// dnsmasq -> DNS thread -> actor -> reply) against a plain c-ares select() loop.
double raw_cares_median_us(const std::string& server, int n) {
  ares_channel ch;
  ares_options o{};
  o.timeout = 1000;
  o.tries = 1;
  if (ares_init_options(&ch, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS ||
      ares_set_servers_ports_csv(ch, server.c_str()) != ARES_SUCCESS)
    return -1;
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    bool done = false;
    auto name = "_raw" + std::to_string(i) + "._tcp.lat.test";
    auto t0 = std::chrono::steady_clock::now();
    ares_query(
      ch, name.c_str(), 1, 33, [](void* arg, int, int, unsigned char*, int) { *static_cast<bool*>(arg) = true; },
      &done);
    while (!done) {
      fd_set r, w;
      FD_ZERO(&r);
      FD_ZERO(&w);
      int nfds = ares_fds(ch, &r, &w);
      timeval tv{}, *tvp = ares_timeout(ch, nullptr, &tv);
      select(nfds, &r, &w, nullptr, tvp);
      ares_process(ch, &r, &w);
    }
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  ares_destroy(ch);
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

}  // namespace

int main() {
  using namespace fedgw;
  using namespace std::chrono_literals;
  test::dnsmasq dnsmasq_server({});
  if (!dnsmasq_server.running()) {
    std::fprintf(stderr, "dns_latency_bench: dnsmasq did not start: %s\n", dnsmasq_server.start_error().c_str());
    return 1;
  }
  auto* server = &dnsmasq_server;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto log = spawn_status_log(sys, status_log_options{30, false});
  config::Dns settings;
  settings.add_servers(server->server());
  settings.set_timeout_ms(1000);
  settings.set_tries(2);
  auto r = spawn_dns_resolver(sys, settings, log, {});
  caf::scoped_actor self{sys};
  self->request(r, 10s, srv_atom::value, std::string("_warmup._tcp.lat.test")).receive([](dns::srv_lookup&) {}, [](caf::error&) {});
  const int n = 200;
  double raw = raw_cares_median_us(server->server(), n);
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    auto name = "_actor" + std::to_string(i) + "._tcp.lat.test";
    auto t0 = std::chrono::steady_clock::now();
    dns::srv_lookup out;
    self->request(r, 10s, srv_atom::value, name).receive([&](dns::srv_lookup& x) { out = std::move(x); },
                                                          [&](caf::error&) {});
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    if (out.result != dns::outcome::nxdomain || out.query.from != dns::source::dns) {
      std::fprintf(stderr, "dns_latency_bench: unexpected answer for %s\n", name.c_str());
      return 1;
    }
  }
  std::sort(us.begin(), us.end());
  double actor = us[n / 2], p90 = us[n * 9 / 10];
  // The DNS thread alone (query() from this thread, answer via a promise).
  dns::engine e;
  std::string error;
  if (!e.configure({{server->server()}, 1000, 1}, error)) {
    std::fprintf(stderr, "dns_latency_bench: %s\n", error.c_str());
    return 1;
  }
  std::vector<double> eng;
  for (int i = 0; i < n; ++i) {
    std::promise<void> p;
    auto t0 = std::chrono::steady_clock::now();
    e.query("_engine" + std::to_string(i) + "._tcp.lat.test", dns::rr_type::srv, [&p](dns::raw_result) { p.set_value(); });
    p.get_future().wait();
    eng.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(eng.begin(), eng.end());
  std::printf("[ latency  ] median over %d queries to dnsmasq: raw c-ares select loop %.0f us, DNS thread %.0f us, "
              "resolver actor %.0f us (p90 %.0f us): actor adds %.0f us\n",
              n, raw, eng[n / 2], actor, p90, actor - raw);
  caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(log, caf::exit_reason::user_shutdown);
  return 0;
}

