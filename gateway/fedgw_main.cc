// fedgw: the SIP federation gateway daemon.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <iterator>
#include <thread>

#include "actors/cert_manager.h"
#include "actors/control_server.h"
#include "actors/dns_resolver.h"
#include "actors/gateway_supervisor.h"
#include "actors/proxy_core.h"
#include "actors/status_log.h"
#include "gateway/admin/assets.h"
#include "gateway/admin/http_server.h"
#include "gateway/data_path.h"
#include "gateway/config/config.h"
#include "gateway/io_scheduling.h"
#include "gateway/net/reactor.h"
#include "gateway/service/sd_notify.h"

#ifdef FEDGW_TCMALLOC
#include <gperftools/tcmalloc.h>
#endif

namespace {

constexpr const char* usage =
  "usage: fedgw --config FILE [--check] [--journal]\n"
  "  --config FILE  configuration in protobuf text format (see gateway/config/default.textproto)\n"
  "  --check        validate FILE, print the result and exit\n"
  "  --journal      start each stderr line with its syslog priority (<3> error, <4> warning, <6> info)\n"
  "                 for journald; automatic when stderr is the journal ($JOURNAL_STREAM)\n"
  "SIGHUP re-reads FILE and applies it as fedctl config apply does; SIGINT or SIGTERM stop fedgw.\n"
  "Under systemd (Type=notify) it reports READY=1, RELOADING=1 and STOPPING=1 to $NOTIFY_SOCKET.\n";

// The memory allocator fedgw was linked with (CMake FEDGW_MALLOC), for the start-up line.
std::string memory_allocator() {
#ifdef FEDGW_TCMALLOC
  int major = 0, minor = 0;
  const char* patch = "";
  tc_version(&major, &minor, &patch);
  return "tcmalloc " + std::to_string(major) + "." + std::to_string(minor) + (patch != nullptr ? patch : "");
#else
  return "glibc malloc";
#endif
}

// Creates the control socket's directory (e.g. /run/fedgw) when missing.
bool ensure_parent_dir(const std::string& socket_path, std::string& error) {
  auto dir = std::filesystem::path(socket_path).parent_path();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) error = "cannot create " + dir.string() + ": " + ec.message();
  return !ec;
}

// Raises the soft open-file limit to the hard one. Returns the limit now in
// force and, when `max_connections` does not fit in it with room for outbound
// connections, DNS, control clients and the process's own files, how many
// inbound connections do (else 0) and a message saying so.
struct file_limit {
  uint64_t limit = 0;
  size_t max_inbound = 0;
  std::string message;
};
file_limit raise_file_limit(uint64_t max_connections) {
  file_limit out;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return out;
  std::string raise_error;
  if (rl.rlim_cur < rl.rlim_max) {
    auto wanted = rl;
    wanted.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &wanted) == 0)
      rl = wanted;
    else
      raise_error = std::string(" (raising it to ") + std::to_string(rl.rlim_max) + " failed: " + std::strerror(errno) + ")";
  }
  out.limit = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
  // A quarter of the files, at least 16 and at most 1024, stay for everything else.
  uint64_t headroom = std::clamp<uint64_t>(out.limit / 4, 16, 1024);
  if (out.limit >= max_connections + headroom) return out;
  out.max_inbound = out.limit > headroom + 1 ? static_cast<size_t>(out.limit - headroom) : 1;
  out.message = "open-file limit " + std::to_string(out.limit) + raise_error +
                " cannot hold limits.max_connections " + std::to_string(max_connections) + " plus " +
                std::to_string(headroom) + " files for outbound connections, DNS and control clients: accepting at most " +
                std::to_string(out.max_inbound) + " inbound connections (raise the hard limit, e.g. LimitNOFILE=)";
  return out;
}

// Opens the admin listener (admin_http) and adds it to `listeners`; false with `error` when it cannot.
bool start_admin(caf::actor_system& system, const fedgw::config::AdminHttp& settings, const fedgw::status_log_actor& log,
                 std::shared_future<caf::actor> control, std::unique_ptr<fedgw::admin::api>& routes,
                 std::unique_ptr<fedgw::admin::http_server>& server,
                 std::vector<fedgw::control::ListenerStatus>& listeners, std::string& error) {
  fedgw::admin::api::options api_options;
  api_options.password_hash = settings.password_hash();
  api_options.assets = fedgw::admin::builtin_assets();
  api_options.on_event = [log](bool warning, const std::string& text) {
    fedgw::report(log, warning ? fedgw::severity::warning : fedgw::severity::info, "admin", text);
  };
  routes = std::make_unique<fedgw::admin::api>(std::move(api_options));
  auto ask = [&system, control](const fedgw::control::Request& request, std::chrono::milliseconds timeout) {
    fedgw::control::Response answer;
    caf::scoped_actor self{system};
    self->request(control.get(), timeout, request)
      .receive([&](fedgw::control::Response& r) { answer = std::move(r); },
               [&](const caf::error& e) { answer.set_error("the gateway did not answer: " + system.render(e)); });
    return answer;
  };
  fedgw::admin::http_server::options http;
  http.bind_ip = settings.bind_ip();
  http.port = static_cast<uint16_t>(settings.port());
  server = fedgw::admin::http_server::start(http, *routes, ask, error);
  if (!server) return false;
  fedgw::control::ListenerStatus status;
  status.set_name("admin_http");
  status.set_address(server->address());
  status.set_state("listening");
  listeners.push_back(status);
  fedgw::report(log, fedgw::severity::info, "admin",
                "admin page and /metrics on http://" + server->address() + "/");
  return true;
}

// Tells systemd (Type=notify) how fedgw is doing; a failure to do so is logged once.
void tell_systemd(const fedgw::status_log_actor& log, const std::string& message) {
  static bool failed_before = false;
  std::string error;
  if (fedgw::service::notify(message, error) || failed_before) return;
  failed_before = true;
  fedgw::report(log, fedgw::severity::warning, "systemd", error);
}

// SIGHUP: reads `path` again and applies it as fedctl config apply does (the supervisor
// validates it as a whole, applies it or changes nothing, runs the readiness check and logs
// its summary); every problem is logged here. Returns the problems (empty: applied).
std::vector<std::string> reload_config(caf::actor_system& system, const fedgw::supervisor_actor& supervisor,
                                       const fedgw::status_log_actor& log, const std::string& path) {
  fedgw::report(log, fedgw::severity::info, "config", "SIGHUP: reading " + path + " again");
  std::vector<std::string> problems;
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) problems.push_back(path + ": cannot be read: " + std::strerror(errno));
  caf::scoped_actor self{system};
  caf::timespan budget{};
  if (problems.empty())
    self->request(supervisor, std::chrono::seconds(10), fedgw::budget_atom::value)
      .receive([&](caf::timespan b) { budget = b; },
               [&](const caf::error& e) { problems.push_back("the gateway did not answer: " + system.render(e)); });
  if (problems.empty()) {
    auto readiness = std::chrono::duration_cast<std::chrono::milliseconds>(budget);
    self->request(supervisor, fedgw::config::apply_answer_budget(readiness) + fedgw::config::budget_margin,
                  fedgw::apply_atom::value, text, path, budget)
      .receive([&](const std::vector<std::string>& errors) { problems = errors; },
               [&](const caf::error& e) { problems.push_back("the gateway did not answer: " + system.render(e)); });
  }
  if (problems.empty()) {
    fedgw::report(log, fedgw::severity::info, "config", "SIGHUP: " + path + " applied");
    return problems;
  }
  fedgw::report(log, fedgw::severity::error, "config",
                "SIGHUP: " + path + " refused, running configuration unchanged (" + std::to_string(problems.size()) +
                  (problems.size() == 1 ? " problem)" : " problems)"));
  for (const auto& p : problems) fedgw::report(log, fedgw::severity::error, "config", "SIGHUP: " + p);
  return problems;
}

// One line about what the reactor refused or closed since `before`; empty when nothing.
std::string refusals_since(const fedgw::net::reactor::stats& before, const fedgw::net::reactor::stats& now,
                           const fedgw::config::Config& config, size_t max_inbound) {
  std::vector<std::string> parts;
  auto add = [&](uint64_t a, uint64_t b, const std::string& what) {
    if (b > a) parts.push_back(std::to_string(b - a) + " " + what);
  };
  add(before.refused_max_connections, now.refused_max_connections,
      "refused at the connection limit (" + std::to_string(max_inbound) + ")");
  add(before.refused_per_source, now.refused_per_source,
      "refused at limits.max_connections_per_source (" + std::to_string(config.limits().max_connections_per_source()) + ")");
  add(before.accept_failures, now.accept_failures, "accept failures (out of file descriptors?), accepting paused briefly");
  add(before.establish_timeouts, now.establish_timeouts, "closed by a deadline (no TLS handshake / complete SIP message in time)");
  add(before.close_timeouts, now.close_timeouts, "closed with output unsent (peer not reading)");
  std::string text;
  for (const auto& p : parts) text += (text.empty() ? "" : "; ") + p;
  return text.empty() ? text : "inbound connections: " + text;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  bool journal = fedgw::service::stderr_is_journal();
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg == "--check") {
      check_only = true;
    } else if (arg == "--journal") {
      journal = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return 0;
    } else {
      std::cerr << "fedgw: unknown argument \"" << arg << "\"\n" << usage;
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << "fedgw: --config FILE is required\n" << usage;
    return 2;
  }
  auto loaded = fedgw::config::load_config_file(config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << "fedgw: " << e << "\n";
    std::cerr << "fedgw: " << config_path << ": configuration invalid, not started\n";
    return 1;
  }
  if (check_only) {
    std::cout << config_path << ": configuration valid\n";
    return 0;
  }

  // Signals are taken synchronously by sigwait below; every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);  // reload
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const auto& config = loaded.config;
  // Before any thread starts, so that all of them see the raised limit.
  auto files = raise_file_limit(config.limits().max_connections());
  auto workers = config.worker_threads() != 0 ? config.worker_threads()
                                              : std::max(1u, std::thread::hardware_concurrency());
  caf::actor_system_config caf_config;
  caf_config.set("scheduler.max-threads", static_cast<size_t>(workers));
  // CAF's work-stealing defaults poll for 500 x 50 us after every job before a worker sleeps on its
  // condition variable (woken by the next enqueue): at 1,000 MESSAGE/s that polling was most of the
  // gateway's CPU. 10 quick polls, then sleep: measured with bench/run side_by_side (open loop
  // 1,000/s: 108-138 us of CPU per MESSAGE instead of 174-248; closed loop unchanged within noise).
  caf_config.set("work-stealing.aggressive-poll-attempts", size_t{10});
  caf_config.set("work-stealing.moderate-poll-attempts", size_t{0});
  // An idle worker waits (in epoll as the watcher, else on its condition variable) until work arrives or this
  // long: CAF's default of 10 ms made an idle gateway wake 200 times a second (0.9 % of a core). Nothing
  // depends on these wake-ups (work handed to a worker wakes it; deadlines bound the watcher's wait); they
  // are only a worker's periodic look for work to steal (tests/integration/idle_test.sh, README Performance).
  caf_config.set("work-stealing.relaxed-sleep-duration", caf::timespan{std::chrono::milliseconds(100)});
  // The workers run the reactor's I/O loops (gateway/io_scheduling.h): one loop per worker. The reactor is
  // made before the actor system, so that it outlives the workers that poll it.
  fedgw::net::reactor::options reactor_options;
  reactor_options.threads = workers;
  reactor_options.external_threads = true;
  reactor_options.max_connections = files.max_inbound != 0 ? files.max_inbound : config.limits().max_connections();
  reactor_options.max_connections_per_source = config.limits().max_connections_per_source();
  reactor_options.establish_timeout = std::chrono::seconds(config.limits().establish_timeout_s());
  auto reactor = std::make_shared<fedgw::net::reactor>(reactor_options);
  fedgw::io_stealing::attach(reactor.get(), config.spread_when_cores_busy());
  caf_config.load<caf::scheduler::coordinator<fedgw::io_stealing>>();
  caf::actor_system system{caf_config};

  auto log = fedgw::spawn_status_log(system, {.syslog_prefix = journal});
  fedgw::report(log, fedgw::severity::info, "fedgw",
                "starting fedgw " FEDGW_VERSION " (pid " + std::to_string(getpid()) + ", " +
                  std::to_string(workers) + " worker threads, " + memory_allocator() + ")");
  if (!files.message.empty()) fedgw::report(log, fedgw::severity::warning, "fedgw", files.message);
  std::vector<std::string> domains(config.domains().begin(), config.domains().end());
  auto certificates = fedgw::spawn_cert_manager(
    system, {config.certificate(), log, /*mutual_tls=*/true, domains, std::chrono::milliseconds(2000),
             config.internal_listener()});
  auto dns = fedgw::spawn_dns_resolver(system, config.dns(), log);
  fedgw::data_path path;
  std::string error;
  bool data_path_ok = fedgw::start_data_path(system, config, workers, reactor, log, dns, certificates, path, error);
  // Only with a running data path (its TLS contexts); the supervisor starts and stops the session with the mode.
  std::function<fedgw::proxy_session_actor(const fedgw::config::Config&)> start_proxy_session;
  if (data_path_ok)
    start_proxy_session = [&system, &path, reactor, log](const fedgw::config::Config& c) {
      return fedgw::spawn_proxy_session(system, fedgw::proxy_session_settings(c, path, reactor, log));
    };
  fedgw::supervisor_options supervision{config, config_path, workers, log, certificates, dns, path.tls, path.settings,
                                        path.policy, path.shards, path.registry, path.listener_status,
                                        start_proxy_session, 0, {}, {}};
  if (data_path_ok) {
    supervision.proxy_incoming_listener = path.proxy_incoming;
    // A copy of the data path: the supervisor's listeners are its own (it closes them), path stays main's.
    supervision.open_proxy_incoming = [&system, path, reactor, log, dns](const fedgw::config::Config& c,
                                                                           fedgw::control::ListenerStatus& status) {
      auto scratch = path;
      std::string error;
      const auto& l = c.sip_proxy().incoming();
      auto id = fedgw::open_listener(system, c, scratch, reactor, log, dns, "sip_proxy.incoming", l,
                                     fedgw::proxy::side::external, true, error);
      status = id != 0 ? scratch.listener_status.back()
                       : fedgw::listener_status("sip_proxy.incoming", l, "not listening: " + error);
      return id;
    };
    supervision.close_listener = [reactor](uint64_t id) { reactor->stop_listening_later(id); };
  }
  // The admin page (admin_http): bound before the supervisor starts, so fedctl status lists it; its
  // requests wait for the control server (at once, it is spawned right after).
  std::promise<caf::actor> control_ready;
  std::unique_ptr<fedgw::admin::api> admin_routes;
  std::unique_ptr<fedgw::admin::http_server> admin;
  if (data_path_ok && config.has_admin_http())
    data_path_ok = start_admin(system, config.admin_http(), log, control_ready.get_future().share(), admin_routes,
                               admin, supervision.listeners, error);
  auto supervisor = fedgw::spawn_gateway_supervisor(system, std::move(supervision));
  auto control = fedgw::spawn_control_server(system, {reactor, supervisor, log});
  control_ready.set_value(control);

  auto stop_all = [&] {
    path.stop(*reactor);
    caf::anon_send_exit(control, caf::exit_reason::user_shutdown);
    admin.reset();  // joins its threads: their requests to the control server fail now
    caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(certificates, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(dns, caf::exit_reason::user_shutdown);
    // Every entry reported so far is written before the log stops.
    caf::scoped_actor self{system};
    self->request(log, std::chrono::seconds(5), caf::get_atom::value)
      .receive([](const std::vector<fedgw::status_entry>&) {}, [](const caf::error&) {});
    caf::anon_send_exit(log, caf::exit_reason::user_shutdown);
    // Join the I/O threads now: actors may still hold the reactor, and a thread
    // that spawned actors keeps CAF's logger alive until it ends.
    reactor->stop();
  };

  if (!data_path_ok) {
    fedgw::report(log, fedgw::severity::error, "listener", error + "; not started");
    stop_all();
    return 1;
  }
  uint64_t control_listener = 0;
  if (ensure_parent_dir(config.control_socket(), error))
    control_listener = fedgw::listen_control_socket(
      *reactor, config.control_socket(), control, error,
      static_cast<mode_t>(fedgw::config::parse_socket_mode(config.control_socket_mode())), config.control_socket_group());
  if (control_listener == 0) {
    fedgw::report(log, fedgw::severity::error, "control", error + "; not started");
    stop_all();
    return 1;
  }
  fedgw::report(log, fedgw::severity::info, "control",
                "listening on " + config.control_socket() + " (mode " + config.control_socket_mode() +
                  (config.control_socket_group().empty() ? "" : ", group " + config.control_socket_group()) + ")");
  // Listeners up, certificate loaded (start_data_path waited for it), control socket open: ready.
  tell_systemd(log, fedgw::service::ready_message("serving " + config.domains(0) + "; control socket " +
                                                   config.control_socket()));

  // Wait for a signal; meanwhile report refused connections, at most every
  // 10 s, so that a flood does not flood the status log too.
  int signal_number = 0;
  auto reported = reactor->get_stats();
  auto next_report = std::chrono::steady_clock::now();
  for (;;) {
    timespec tick{1, 0};
    signal_number = sigtimedwait(&signals, nullptr, &tick);
    if (signal_number == SIGHUP) {
      tell_systemd(log, fedgw::service::reloading_message("reloading " + config_path));
      auto problems = reload_config(system, supervisor, log, config_path);
      tell_systemd(log, fedgw::service::ready_message(
                          problems.empty() ? "configuration reloaded from " + config_path
                                           : "reload refused (" + problems.front() + "), running configuration unchanged"));
      continue;
    }
    if (signal_number > 0) break;
    if (std::chrono::steady_clock::now() < next_report) continue;
    auto now = reactor->get_stats();
    auto text = refusals_since(reported, now, config, reactor_options.max_connections);
    if (text.empty()) continue;
    fedgw::report(log, fedgw::severity::warning, "listener", text);
    reported = now;
    next_report = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  }
  fedgw::report(log, fedgw::severity::info, "fedgw",
                std::string("received ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM") +
                  ", shutting down");
  tell_systemd(log, fedgw::service::stopping_message("shutting down"));
  reactor->stop_listening(control_listener);
  fedgw::report(log, fedgw::severity::info, "fedgw", "stopped");
  stop_all();
  return 0;
}
