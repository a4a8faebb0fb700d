// fedctl: the control CLI of fedgw (protobuf frames over the control Unix socket).
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "gateway/admin/password.h"
#include "gateway/config/config.h"
#include "gateway/control/frame.h"
#include "proto/control.pb.h"

namespace {

using namespace fedgw;

constexpr const char* usage =
  "usage: fedctl [--socket PATH] COMMAND\n"
  "commands:\n"
  "  status               mode, uptime, listeners, counters\n"
  "  log [--follow]       the message window (newest 30 entries); --follow keeps printing\n"
  "  config show          the running configuration (passwords masked)\n"
  "  config check FILE    validate FILE, change nothing\n"
  "  config apply FILE    validate FILE and apply it as a whole\n"
  "  interfaces           network interfaces and addresses to bind to\n"
  "  check                federation readiness: certificate, DNS SRV host IP and port, listener\n"
  "  cert reload          read the certificate files again (the old one stays if the new one is bad)\n"
  "  peers                partner domains: address, direction, TLS, state, uptime, queue, back-off\n"
  "  peers show DOMAIN    DOMAIN's connections with TLS and the partner's certificate\n"
  "  peers reset DOMAIN   clear DOMAIN's back-off: the next request connects\n"
  "  peers close DOMAIN   close DOMAIN's connection (requests in flight get 503)\n"
  "  send-test DOMAIN     send an OPTIONS to DOMAIN through the gateway and show the answer\n"
  "  proxy login          SIP_PROXY mode: log in at the SIP proxy again (after it rejected the login)\n"
  "  metrics              the counters in the Prometheus text format (as /metrics serves them)\n"
  "  hash-password        read a password on stdin, print its hash for admin_http.password_hash\n"
  "                       (no socket needed)\n"
  "the default socket is /run/fedgw/control.sock (control_socket in the config)\n";

enum exit_code { ok = 0, failed = 1, bad_usage = 2, unreachable = 3 };

struct failure {
  int code;
  std::string message;
};

class connection {
public:
  explicit connection(const std::string& path) : path_(path) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) throw failure{unreachable, path + ": path too long"};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      int err = errno;
      ::close(fd_);
      std::string why;
      if (err == ENOENT)
        why = "no control socket at " + path + ": fedgw is not running (or uses another control_socket; see --socket)";
      else if (err == ECONNREFUSED)
        why = "nothing accepts on " + path + ": fedgw is not running (stale socket file)";
      else if (err == EACCES)
        why = "permission denied on " + path +
              " (run fedctl as root, as the user running fedgw or as a member of the socket's group: "
              "control_socket_mode and control_socket_group; packaged: adduser USER fedgw)";
      else if (err == ENOTSOCK)
        why = path + " is not a socket";
      else
        why = "cannot connect to " + path + ": " + std::strerror(err);
      throw failure{unreachable, why};
    }
  }
  ~connection() { ::close(fd_); }

  void send(const control::Request& request) {
    auto frame = control::encode_frame(request);
    size_t sent = 0;
    while (sent < frame.size()) {
      auto n = ::send(fd_, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw failure{unreachable, "lost the connection to " + path_ + " while sending"};
      sent += static_cast<size_t>(n);
    }
  }

  // Waits for the next response frame; timeout_ms < 0 waits forever.
  control::Response receive(int timeout_ms) {
    std::string payload;
    for (;;) {
      auto status = decoder_.next(payload);
      if (status == control::frame_decoder::status::frame) {
        control::Response response;
        if (!response.ParseFromString(payload))
          throw failure{failed, "malformed response from fedgw (" + std::to_string(payload.size()) + " bytes)"};
        return response;
      }
      if (status == control::frame_decoder::status::too_large)
        throw failure{failed, "malformed response frame from fedgw"};
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, timeout_ms);
      if (rc == 0) throw failure{failed, "fedgw did not answer within " + std::to_string(timeout_ms / 1000) + " s"};
      if (rc < 0 && errno == EINTR) continue;
      char buffer[65536];
      auto n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) throw failure{unreachable, "fedgw closed the control connection"};
      decoder_.feed(std::string_view(buffer, static_cast<size_t>(n)));
    }
  }

private:
  std::string path_;
  int fd_ = -1;
  control::frame_decoder decoder_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw failure{failed, "cannot read " + path + ": " + std::strerror(errno)};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string local_time(int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

std::string duration(uint64_t seconds) {
  char text[48];
  std::snprintf(text, sizeof text, "%llud %02llu:%02llu:%02llu",
                static_cast<unsigned long long>(seconds / 86400),
                static_cast<unsigned long long>(seconds / 3600 % 24),
                static_cast<unsigned long long>(seconds / 60 % 60),
                static_cast<unsigned long long>(seconds % 60));
  return text;
}

void print_status(const control::GatewayStatus& s) {
  std::string domains;
  for (const auto& d : s.domains()) domains += (domains.empty() ? "" : ", ") + d;
  std::cout << "fedgw " << s.version() << "\n"
            << "mode:      " << config::mode_name(s.mode()) << "\n"
            << "domains:   " << domains << "\n"
            << "uptime:    " << duration(s.uptime_s()) << " (since " << local_time(s.started_unix_ms()) << ")\n"
            << "config:    " << s.config_source() << "\n"
            << "workers:   " << s.worker_threads() << "\n"
            << "listeners:\n";
  for (const auto& l : s.listeners())
    std::cout << "  " << std::left << std::setw(20) << l.name() << std::setw(27) << l.address() << " "
              << std::setw(6) << (l.transport() ? config::transport_name(l.transport()) : "-") << l.state() << "\n";
  if (s.has_proxy_session()) {
    const auto& p = s.proxy_session();
    std::cout << "sip proxy: " << p.state() << ", user \"" << p.user() << "\" (" << p.aor() << ") at " << p.proxy()
              << " over " << p.transport();
    if (p.state() == "registered") std::cout << ", expires in " << p.expires_in_s() << " s";
    std::cout << "\n           connections " << p.connects() << ", REGISTERs sent " << p.registers_sent() << "\n";
    if (!p.last_error().empty()) std::cout << "           last error: " << p.last_error() << "\n";
  }
  if (s.has_certificate() && !s.certificate().fingerprint().empty()) {
    const auto& c = s.certificate();
    std::cout << "certificate: " << c.subject() << " (issuer " << c.issuer() << "), valid until "
              << local_time(c.not_after_unix() * 1000) << ", " << c.days_left() << " days left\n";
  }
  std::string uc;
  for (const auto& a : s.uc_servers()) uc += (uc.empty() ? "" : ", ") + a;
  std::cout << "UC server connections: " << (uc.empty() ? "none" : uc) << "\n";
  const auto& c = s.counters();
  std::cout << "counters:\n"
            << "  requests in " << c.requests_in() << ", out " << c.requests_out() << "\n"
            << "  responses 1xx " << c.responses_1xx() << ", 2xx " << c.responses_2xx() << ", 3xx "
            << c.responses_3xx() << ", 4xx " << c.responses_4xx() << ", 5xx " << c.responses_5xx()
            << ", 6xx " << c.responses_6xx() << ", dropped " << c.responses_dropped() << "\n"
            << "  control requests " << c.control_requests() << ", config applies " << c.config_applies() << "\n";
}

// fedctl peers show DOMAIN: one block per connection entry of the domain.
void print_peer_details(const control::PeerStatus& p, int64_t now_ms) {
  auto line = [](const char* name, const std::string& value) {
    if (!value.empty()) std::cout << "  " << std::left << std::setw(13) << name << value << "\n";
  };
  std::cout << p.domain() << (p.node().empty() ? "" : " (route-set node " + p.node() + ")") << "\n";
  line("state:", p.state());
  line("direction:", p.direction());
  line("address:", p.address());
  line("tls:", p.tls());
  if (p.since_unix_ms() > 0) line("since:", local_time(p.since_unix_ms()));
  line("subject:", p.certificate_subject());
  line("issuer:", p.certificate_issuer());
  if (p.certificate_not_after_unix() > 0) {
    auto days = (p.certificate_not_after_unix() * 1000 - now_ms) / 86400000;
    line("not after:", local_time(p.certificate_not_after_unix() * 1000) + " (" + std::to_string(days) + " days left)");
  }
  line("sha256:", p.certificate_fingerprint());
  if (p.queued() > 0) line("queued:", std::to_string(p.queued()));
  if (p.failures() > 0) line("failures:", std::to_string(p.failures()));
  if (p.backoff_until_unix_ms() > now_ms) line("back-off:", "until " + local_time(p.backoff_until_unix_ms()));
  line("last error:", p.last_error());
}

// fedctl hash-password: the first line of stdin (without its newline) as admin_http.password_hash wants it.
int hash_password() {
  std::string password;
  if (!std::getline(std::cin, password) || password.empty())
    throw failure{bad_usage, "hash-password reads the password from the first line of stdin; it was empty"};
  if (!password.empty() && password.back() == '\r') password.pop_back();
  std::cout << password::make_hash(password) << "\n";
  return ok;
}

// Answers from the gateway's state come at once; this is for a gateway that hangs.
constexpr int quick_answer_ms = 15000;

// How long `check` and `config apply` may take: the gateway derives its
// deadlines from the running configuration's DNS settings (config.h); fedctl
// waits a margin longer than the control server, so it prints the gateway's
// diagnosis, never a timeout of its own.
int readiness_wait_ms(connection& conn, bool apply) {
  control::Request show;
  show.set_id(2);
  show.mutable_config_show();
  conn.send(show);
  auto response = conn.receive(quick_answer_ms);
  config::Config running;
  // Unset or unparsable DNS settings count with their defaults.
  google::protobuf::TextFormat::ParseFromString(response.config_text(), &running);
  auto budget = config::readiness_budget(running);
  auto answer = apply ? config::apply_answer_budget(budget) : config::check_answer_budget(budget);
  return static_cast<int>(std::min<int64_t>((answer + 2 * config::budget_margin).count(), INT32_MAX));
}

int config_command(connection& conn, control::Request& request, bool apply, const std::string& file) {
  auto* payload = apply ? request.mutable_config_apply() : request.mutable_config_check();
  payload->set_source(file);
  payload->set_text(read_file(file));
  int wait_ms = apply ? readiness_wait_ms(conn, true)
                      : static_cast<int>((config::certificate_budget + 2 * config::budget_margin).count());
  conn.send(request);
  auto response = conn.receive(std::max(wait_ms, quick_answer_ms));
  if (response.config_result().errors().empty() && !response.error().empty())
    throw failure{failed, response.error()};
  for (const auto& e : response.config_result().errors()) std::cerr << e << "\n";
  if (!response.error().empty()) {
    std::cerr << file << ": " << response.error()
              << (apply ? "; not applied, the running configuration is unchanged\n" : "\n");
    return failed;
  }
  std::cout << file << (apply ? ": applied\n" : ": configuration valid\n");
  return ok;
}

int run(int argc, char** argv) {
  std::string socket_path = config::default_control_socket;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--socket") {
      if (i + 1 >= argc) throw failure{bad_usage, "--socket needs a PATH"};
      socket_path = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return ok;
    } else {
      args.push_back(arg);
    }
  }
  if (args.empty()) throw failure{bad_usage, "no command given"};
  auto expect_args = [&](size_t n) {
    if (args.size() != n) throw failure{bad_usage, "wrong number of arguments for \"" + args[0] + "\""};
  };

  control::Request request;
  request.set_id(1);
  const auto& command = args[0];
  if (command == "status") {
    expect_args(1);
    request.mutable_status();
  } else if (command == "log") {
    bool follow = args.size() == 2 && args[1] == "--follow";
    if (args.size() != 1 && !follow) throw failure{bad_usage, "log takes only --follow"};
    request.mutable_log()->set_follow(follow);
  } else if (command == "interfaces") {
    expect_args(1);
    request.mutable_interfaces();
  } else if (command == "check") {
    expect_args(1);
    request.mutable_check();
  } else if (command == "peers" && args.size() > 1 && args[1] == "show") {
    expect_args(3);
    request.mutable_peers()->set_domain(args[2]);
  } else if (command == "peers" && args.size() > 1) {
    if (args.size() != 3 || (args[1] != "reset" && args[1] != "close"))
      throw failure{bad_usage, "peers takes: show DOMAIN, reset DOMAIN or close DOMAIN"};
    request.mutable_peer_action()->set_domain(args[2]);
    request.mutable_peer_action()->set_action(args[1] == "reset" ? control::PeerActionRequest::RESET
                                                                 : control::PeerActionRequest::CLOSE);
  } else if (command == "peers") {
    expect_args(1);
    request.mutable_peers();
  } else if (command == "metrics") {
    expect_args(1);
    request.mutable_metrics();
  } else if (command == "hash-password") {
    expect_args(1);
    return hash_password();
  } else if (command == "send-test") {
    expect_args(2);
    request.mutable_send_test()->set_domain(args[1]);
  } else if (command == "proxy") {
    if (args.size() != 2 || args[1] != "login") throw failure{bad_usage, "proxy takes: login"};
    request.mutable_proxy_login();
  } else if (command == "cert") {
    if (args.size() != 2 || args[1] != "reload") throw failure{bad_usage, "cert takes: reload"};
    request.mutable_cert_reload();
  } else if (command == "config") {
    if (args.size() < 2) throw failure{bad_usage, "config needs show, check FILE or apply FILE"};
    if (args[1] == "show") {
      expect_args(2);
      request.mutable_config_show();
    } else if (args[1] == "check" || args[1] == "apply") {
      expect_args(3);
      connection conn(socket_path);
      return config_command(conn, request, args[1] == "apply", args[2]);
    } else {
      throw failure{bad_usage, "unknown config command \"" + args[1] + "\""};
    }
  } else {
    throw failure{bad_usage, "unknown command \"" + command + "\""};
  }

  connection conn(socket_path);
  int wait_ms = quick_answer_ms;
  // A send-test may wait for DNS and the transaction timeout (timer F).
  if (request.has_send_test()) wait_ms = 120000;
  if (request.has_check()) wait_ms = std::max(readiness_wait_ms(conn, false), quick_answer_ms);
  conn.send(request);
  auto response = conn.receive(wait_ms);
  if (!response.error().empty()) throw failure{failed, response.error()};
  switch (response.payload_case()) {
    case control::Response::kStatus:
      print_status(response.status());
      break;
    case control::Response::kLog:
      for (;;) {
        for (const auto& e : response.log().entries()) std::cout << e.line() << "\n";
        std::cout.flush();
        if (!request.log().follow()) break;
        response = conn.receive(-1);
      }
      break;
    case control::Response::kConfigText:
      std::cout << response.config_text();
      break;
    case control::Response::kMetricsText:
      std::cout << response.metrics_text();
      break;
    case control::Response::kNotice:
      std::cout << response.notice() << "\n";
      break;
    case control::Response::kInterfaces:
      for (const auto& i : response.interfaces().interfaces()) {
        std::cout << std::left << std::setw(16) << i.name() << std::setw(6) << (i.up() ? "up" : "down");
        std::string addresses;
        for (const auto& a : i.addresses()) addresses += (addresses.empty() ? "" : " ") + a;
        std::cout << (addresses.empty() ? "(no address)" : addresses) << "\n";
      }
      break;
    case control::Response::kPeers: {
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
      const auto& peers = response.peers().peers();
      if (request.peers().domain().size()) {
        for (const auto& p : peers) print_peer_details(p, now);
        break;
      }
      if (peers.empty()) std::cout << "no partner domains known yet\n";
      for (const auto& p : peers) {
        std::cout << std::left << std::setw(20) << p.domain() << " " << std::setw(10) << p.state() << " "
                  << std::setw(9) << p.direction() << " " << std::setw(22) << (p.address().empty() ? "-" : p.address())
                  << " " << (p.tls().empty() ? "-" : p.tls());
        if (p.since_unix_ms() > 0 && p.state() == "up")
          std::cout << ", up " << duration(static_cast<uint64_t>((now - p.since_unix_ms()) / 1000));
        if (p.queued() > 0) std::cout << ", queued " << p.queued();
        if (p.state() == "backoff" && p.backoff_until_unix_ms() > now)
          std::cout << ", next attempt in " << (p.backoff_until_unix_ms() - now + 999) / 1000 << " s";
        if (p.failures() > 0) std::cout << ", failures " << p.failures();
        if (!p.node().empty()) std::cout << ", route-set node " << p.node();
        if (!p.last_error().empty()) std::cout << ", last error: " << p.last_error();
        std::cout << "\n";
      }
      break;
    }
    case control::Response::kSendTest: {
      const auto& r = response.send_test();
      std::cout << "OPTIONS sip:" << request.send_test().domain() << " -> " << r.status() << " " << r.reason()
                << " (" << std::fixed << std::setprecision(1) << r.milliseconds() << " ms)\n";
      return r.status() >= 200 && r.status() < 300 ? ok : failed;
    }
    case control::Response::kReadiness:
      for (const auto& line : response.readiness().lines()) std::cout << line << "\n";
      return response.readiness().consistent() ? ok : failed;
    case control::Response::kCertificate:
      std::cout << response.certificate().text();
      if (!response.certificate().text().empty() && response.certificate().text().back() != '\n') std::cout << "\n";
      if (!response.certificate().in_use()) {
        std::cerr << "fedctl: the new certificate was refused; the previous one stays in use\n";
        return failed;
      }
      std::cout << "certificate reloaded and in use\n";
      break;
    default:
      throw failure{failed, "unexpected response from fedgw"};
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const failure& f) {
    std::cerr << "fedctl: " << f.message << "\n";
    if (f.code == bad_usage) std::cerr << usage;
    return f.code;
  }
}
