#include "tests/gateway/dns/dnsmasq.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace fedgw::test {

namespace {

int bound_socket(int type, uint16_t port) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

uint16_t local_port(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return ntohs(sa.sin_port);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

uint16_t free_loopback_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int u = bound_socket(SOCK_DGRAM, 0);
    if (u < 0) continue;
    uint16_t port = local_port(u);
    int t = bound_socket(SOCK_STREAM, port);
    close(u);
    if (t >= 0) {
      close(t);
      return port;
    }
  }
  return 0;
}

dnsmasq::dnsmasq(std::vector<std::string> records) {
  char tmpl[] = "/tmp/fedgw-dnsmasq-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = tmpl;
  log_path_ = dir_ + "/queries.log";
  for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) start(records);
}

bool dnsmasq::start(const std::vector<std::string>& records) {
  port_ = free_loopback_port();
  std::remove(log_path_.c_str());
  std::vector<std::string> args{"/usr/sbin/dnsmasq",
                                "--keep-in-foreground",
                                "--conf-file=/dev/null",
                                "--no-resolv",
                                "--no-hosts",
                                "--bind-interfaces",
                                "--listen-address=127.0.0.1",
                                "--port=" + std::to_string(port_),
                                "--local=/test/",
                                "--log-queries",
                                "--log-facility=" + log_path_,
                                "--pid-file=",
                                "--cache-size=0"};
  if (passwd* pw = getpwuid(geteuid())) args.push_back(std::string("--user=") + pw->pw_name);
  args.insert(args.end(), records.begin(), records.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    error_ = "fork failed";
    return false;
  }
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  for (int i = 0; i < 250; ++i) {  // up to 5 s
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      error_ = "dnsmasq exited with status " + std::to_string(status) + "; log: " + log_text();
      pid_ = -1;
      return false;
    }
    if (answers()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  error_ = "dnsmasq did not answer on port " + std::to_string(port_);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return false;
}

// One hand-made query for "ready.test" A: any answer means dnsmasq is up.
bool dnsmasq::answers() const {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const unsigned char query[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 5, 'r', 'e', 'a', 'd', 'y',
                                 4,    't',  'e',  's',  't', 0, 0, 1, 0, 1};
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port_);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sendto(fd, query, sizeof query, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  pollfd p{fd, POLLIN, 0};
  bool ok = poll(&p, 1, 50) == 1;
  if (ok) {
    unsigned char buf[512];
    ok = recv(fd, buf, sizeof buf, 0) >= 12;
  }
  close(fd);
  return ok;
}

dnsmasq::~dnsmasq() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  if (!dir_.empty() && std::getenv("FEDGW_KEEP_DNSMASQ_LOG") == nullptr) {
    std::remove(log_path_.c_str());
    rmdir(dir_.c_str());
  }
}

std::string dnsmasq::log_text() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t dnsmasq::queries(const std::string& name, const std::string& type) const {
  // "query[SRV] name from 127.0.0.1" (local zone) or "auth[SRV] name from ..." (auth zone).
  std::string needle1 = lower("query[" + type + "] " + name + " from ");
  std::string needle2 = lower("auth[" + type + "] " + name + " from ");
  std::ifstream in(log_path_);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    line = lower(line);
    if (line.find(needle1) != std::string::npos || line.find(needle2) != std::string::npos) ++n;
  }
  return n;
}

size_t dnsmasq::wait_queries(const std::string& name, const std::string& type, size_t n,
                             std::chrono::milliseconds limit) const {
  auto deadline = std::chrono::steady_clock::now() + limit;
  size_t count = queries(name, type);
  while (count < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    count = queries(name, type);
  }
  return count;
}

black_hole::black_hole() {
  fd_ = bound_socket(SOCK_DGRAM, 0);
  if (fd_ >= 0) port_ = local_port(fd_);
}

black_hole::~black_hole() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace fedgw::test
