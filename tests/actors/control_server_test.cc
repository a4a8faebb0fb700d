#include "actors/control_server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <poll.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "gateway/config/config.h"
#include "gateway/control/frame.h"

namespace fedgw {
namespace {

// A raw control-socket client, independent of fedctl.
struct raw_client {
  int fd = -1;
  control::frame_decoder decoder;

  explicit raw_client(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~raw_client() { ::close(fd); }
  void send_raw(const std::string& bytes) { ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), 0), (ssize_t)bytes.size()); }
  void send(const control::Request& r) { send_raw(control::encode_frame(r)); }
  // Next response, or nullopt on close/timeout.
  std::optional<control::Response> receive(int timeout_ms = 5000) {
    std::string payload;
    while (decoder.next(payload) != control::frame_decoder::status::frame) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
      char buf[65536];
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return std::nullopt;
      decoder.feed(std::string_view(buf, static_cast<size_t>(n)));
    }
    control::Response r;
    EXPECT_TRUE(r.ParseFromString(payload));
    return r;
  }
  bool closed_by_server() {
    char c;
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 5000) == 1 && ::recv(fd, &c, 1, 0) == 0;
  }
};

struct control_server_test : ::testing::Test {
  caf::actor_system_config cfg;
  caf::actor_system system{cfg};
  std::string dir;
  std::string path;
  std::shared_ptr<net::reactor> reactor = std::make_shared<net::reactor>(net::reactor::options{});
  status_log_actor log;
  supervisor_actor supervisor;
  cert_manager_actor certificates;
  dns_resolver_actor dns;
  caf::actor server;

  void SetUp() override {
    char tmpl[] = "/tmp/fedgw-control-XXXXXX";
    dir = mkdtemp(tmpl);
    path = dir + "/control.sock";
    auto loaded = config::parse_config(config_text(""), "test");
    ASSERT_TRUE(loaded.ok()) << loaded.errors.front();
    log = spawn_status_log(system, {.write_stderr = false});
    // No certificate, so the start-up readiness check asks DNS nothing; the
    // resolver still points at loopback only.
    config::Dns dns_config;
    dns_config.add_servers("127.0.0.1:9");
    certificates = spawn_cert_manager(system, {loaded.config.certificate(), log, true, {}, {}});
    dns = spawn_dns_resolver(system, dns_config, log);
    supervisor = spawn_gateway_supervisor(system, {loaded.config, "test", 2, log, certificates, dns, nullptr, nullptr, nullptr, {}, {}, {}, {}, 0, {}, {}});
    server = spawn_control_server(system, {reactor, supervisor, log});
    std::string error;
    ASSERT_NE(listen_control_socket(*reactor, path, server, error), 0u) << error;
  }
  std::string config_text(const std::string& extra) const {
    return "mode: DIRECT domains: \"a.test\" internal_listener { bind_ip: \"127.0.0.1\" } control_socket: \"" + path +
           "\" " + extra;
  }
  // The status log's window; `pause_ms` first (for polling a condition).
  std::vector<status_entry> window(int pause_ms = 0) {
    caf::scoped_actor self{system};
    if (pause_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    std::vector<status_entry> out;
    self->request(log, std::chrono::seconds(5), caf::get_atom::value)
      .receive([&](const std::vector<status_entry>& w) { out = w; }, [](const caf::error&) {});
    return out;
  }
  static bool has_text(const std::vector<status_entry>& entries, const std::string& text) {
    return std::any_of(entries.begin(), entries.end(),
                       [&](const status_entry& e) { return e.text.find(text) != std::string::npos; });
  }
  void TearDown() override {
    anon_send_exit(server, caf::exit_reason::user_shutdown);
    anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
    anon_send_exit(certificates, caf::exit_reason::user_shutdown);
    anon_send_exit(dns, caf::exit_reason::user_shutdown);
    anon_send_exit(log, caf::exit_reason::user_shutdown);
    reactor.reset();
    ::rmdir(dir.c_str());
  }
};

// The admin page's path: a control::Request message answered with the same Response as on the socket.
TEST_F(control_server_test, RequestMessagesAreAnsweredLikeSocketFrames) {
  auto ask = [&](const control::Request& request) {
    caf::scoped_actor self{system};
    control::Response out;
    self->request(server, std::chrono::seconds(10), request)
      .receive([&](control::Response& r) { out = std::move(r); },
               [&](const caf::error& e) { ADD_FAILURE() << system.render(e); });
    return out;
  };
  control::Request status;
  status.set_id(7);
  status.mutable_status();
  auto answer = ask(status);
  EXPECT_EQ(answer.id(), 7u);
  ASSERT_TRUE(answer.has_status());
  EXPECT_EQ(answer.status().domains(0), "a.test");

  control::Request show;
  show.mutable_config_show()->set_as_message(true);
  answer = ask(show);
  ASSERT_TRUE(answer.has_config());
  EXPECT_EQ(answer.config().domains(0), "a.test");

  // An apply of the config as a message (not text): each problem named, nothing changed.
  control::Request apply;
  *apply.mutable_config_apply()->mutable_config() = answer.config();
  apply.mutable_config_apply()->mutable_config()->add_domains("bad domain");
  apply.mutable_config_apply()->set_source("admin page (test)");
  auto refused = ask(apply);
  ASSERT_EQ(refused.config_result().errors_size(), 1);
  EXPECT_NE(refused.config_result().errors(0).find("\"bad domain\" is not a valid domain name"), std::string::npos);
  EXPECT_EQ(ask(show).config().domains_size(), 1);
  EXPECT_TRUE(has_text(window(), "refused admin page (test)"));

  control::Request peers;
  peers.mutable_peers()->set_domain("nowhere.test");
  EXPECT_EQ(ask(peers).error(), "no partner domain nowhere.test is known (fedctl peers lists them)");
}

TEST_F(control_server_test, MalformedFrameGetsErrorAndConnectionStaysUsable) {
  raw_client c(path);
  c.send_raw(std::string("\x05\xff\xff\xff\xff\xff", 6));  // 5 bytes that are not a Request
  auto r = c.receive();
  ASSERT_TRUE(r);
  EXPECT_NE(r->error().find("malformed frame: not a fedgw.control.Request"), std::string::npos) << r->error();
  control::Request status;
  status.set_id(7);
  status.mutable_status();
  c.send(status);
  r = c.receive();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id(), 7u);
  EXPECT_TRUE(r->error().empty());
  EXPECT_EQ(r->status().mode(), config::DIRECT);
  EXPECT_EQ(r->status().domains(0), "a.test");
}

TEST_F(control_server_test, OversizedFrameIsAnsweredThenClosed) {
  raw_client c(path);
  c.send_raw(std::string("\xff\xff\xff\x7f", 4));  // announces ~256 MiB
  auto r = c.receive();
  ASSERT_TRUE(r);
  EXPECT_NE(r->error().find("closing"), std::string::npos) << r->error();
  EXPECT_TRUE(c.closed_by_server());
  // The server still serves others.
  raw_client d(path);
  control::Request status;
  status.mutable_status();
  d.send(status);
  ASSERT_TRUE(d.receive());
}

TEST_F(control_server_test, EmptyRequestIsExplained) {
  raw_client c(path);
  control::Request empty;
  empty.set_id(3);
  c.send(empty);
  auto r = c.receive();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id(), 3u);
  EXPECT_NE(r->error().find("no command"), std::string::npos);
}

TEST_F(control_server_test, ManyClientsAtOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] {
      raw_client c(path);
      control::Request r;
      r.set_id(100 + i);
      r.mutable_interfaces();
      c.send(r);
      auto response = c.receive();
      if (response && response->id() == uint64_t(100 + i) && response->interfaces().interfaces_size() > 0)
        ++answered;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(answered, 16);
}

TEST_F(control_server_test, InvalidApplyLeavesRunningConfigUntouched) {
  raw_client c(path);
  control::Request show;
  show.mutable_config_show();
  c.send(show);
  auto before = c.receive();
  ASSERT_TRUE(before);
  control::Request apply;
  apply.mutable_config_apply()->set_source("bad.textproto");
  apply.mutable_config_apply()->set_text("mode: DIRECT domains: \"b.test\" internal_listener { bind_ip: \"127.0.0.1\" port: 70000 }");
  c.send(apply);
  auto result = c.receive();
  ASSERT_TRUE(result);
  ASSERT_EQ(result->config_result().errors_size(), 1);
  EXPECT_EQ(result->config_result().errors(0), "internal_listener.port: 70000 is not a valid port");
  c.send(show);
  auto after = c.receive();
  ASSERT_TRUE(after);
  EXPECT_EQ(before->config_text(), after->config_text());
  EXPECT_NE(after->config_text().find("a.test"), std::string::npos);
}

TEST_F(control_server_test, CheckWithoutCertificateIsNotConsistent) {
  raw_client c(path);
  control::Request check;
  check.set_id(11);
  check.mutable_check();
  c.send(check);
  auto r = c.receive();
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->has_readiness()) << r->error();
  EXPECT_FALSE(r->readiness().consistent());
  bool names_certificate = false;
  for (const auto& p : r->readiness().problems())
    names_certificate |= p.find("no certificate configured") != std::string::npos;
  EXPECT_TRUE(names_certificate);
}

TEST_F(control_server_test, LogFollowStreamsNewEntries) {
  // An entry that is surely in the window before we ask (the supervisor's own
  // start entry is reported asynchronously).
  report(log, severity::info, "test", "before follow");
  window();
  raw_client c(path);
  control::Request follow;
  follow.set_id(5);
  follow.mutable_log()->set_follow(true);
  c.send(follow);
  auto first = c.receive();
  ASSERT_TRUE(first);
  bool has_before = false;
  for (const auto& e : first->log().entries()) has_before |= e.text() == "before follow";
  EXPECT_TRUE(has_before);
  report(log, severity::warning, "test", "something new");
  // The supervisor's start-up entries may still be streamed first: read until ours arrives.
  std::optional<control::LogEntry> ours;
  for (int i = 0; i < 20 && !ours; ++i) {
    auto pushed = c.receive();
    ASSERT_TRUE(pushed) << "no pushed entry after " << i << " others";
    EXPECT_EQ(pushed->id(), 5u);
    ASSERT_EQ(pushed->log().entries_size(), 1);
    if (pushed->log().entries(0).text() == "something new") ours = pushed->log().entries(0);
  }
  ASSERT_TRUE(ours);
  EXPECT_NE(ours->line().find(" WARN  test: something new"), std::string::npos);
}

TEST_F(control_server_test, ApplyOfALimitIsRefusedAsNeedingRestartAndShowIsUnchanged) {
  raw_client c(path);
  control::Request show;
  show.mutable_config_show();
  c.send(show);
  auto before = c.receive();
  ASSERT_TRUE(before);
  control::Request apply;
  apply.mutable_config_apply()->set_source("limits.textproto");
  auto text = config_text("limits { max_body_bytes: 100 } sip_proxy { username: \"u\" password: \"p\" "
                          "ip: \"127.0.0.1\" transport: TCP incoming { bind_ip: \"127.0.0.1\" } }");
  apply.mutable_config_apply()->set_text(text.replace(text.find("DIRECT"), 6, "SIP_PROXY"));
  c.send(apply);
  auto result = c.receive();
  ASSERT_TRUE(result);
  // The mode and the sip_proxy section switch at run time; the limits do not.
  ASSERT_EQ(result->config_result().errors_size(), 1) << result->config_result().DebugString();
  EXPECT_EQ(result->config_result().errors(0), "limits.max_body_bytes: changing 65536 to 100 needs a restart of fedgw");
  c.send(show);
  auto after = c.receive();
  ASSERT_TRUE(after);
  EXPECT_EQ(before->config_text(), after->config_text());
  EXPECT_NE(after->config_text().find("max_body_bytes: 65536"), std::string::npos);
}

TEST_F(control_server_test, ApplyLogsOneSummaryLinePlusOnePerProblem) {
  // The start-up readiness entries come from one supervisor handler, which
  // ends before the supervisor takes the apply: wait for them, then apply.
  std::vector<status_entry> entries;
  for (int i = 0; i < 100 && !has_text(entries, "federation readiness (start-up)"); ++i) entries = window(50);
  ASSERT_TRUE(has_text(entries, "federation readiness (start-up)"));
  raw_client c(path);
  control::Request apply;
  apply.mutable_config_apply()->set_source("apply.textproto");
  apply.mutable_config_apply()->set_text(config_text("domains: \"b.test\""));
  c.send(apply);
  auto result = c.receive(30000);
  ASSERT_TRUE(result);
  ASSERT_TRUE(result->error().empty()) << result->error();
  // The reply comes after the apply's entries went to the log.
  entries = window();
  auto summary = std::find_if(entries.begin(), entries.end(),
                              [](const status_entry& e) { return e.text.rfind("applied apply.textproto", 0) == 0; });
  ASSERT_NE(summary, entries.end());
  EXPECT_EQ(summary->component, "config");
  EXPECT_EQ(summary->text, "applied apply.textproto (mode DIRECT, domains a.test,b.test; changed: domains); "
                           "federation readiness: NOT consistent, 2 problem(s); details: fedctl check");
  // No certificate and no federation listener: one entry each, nothing else.
  std::string logged;
  for (auto e = summary; e != entries.end(); ++e) logged += e->text + "\n";
  ASSERT_EQ(entries.end() - summary, 3) << logged;
  EXPECT_NE(summary[1].text.find("no certificate configured"), std::string::npos) << summary[1].text;
  EXPECT_NE(summary[2].text.find("federation_listener is not configured"), std::string::npos) << summary[2].text;
}

}  // namespace
}  // namespace fedgw
