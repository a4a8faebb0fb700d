// A real dnsmasq on 127.0.0.1:<free port> for the DNS tests, and a UDP "black
// hole" (a bound socket that never answers) for timeout tests. Only loopback
// is used; the tests point c-ares at these, never at the system resolver.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace fedgw::test {

class dnsmasq {
public:
  // `records`: dnsmasq options such as "--srv-host=..." and "--host-record=...".
  // Also adds --local=/test/ (own zone: unknown names get NXDOMAIN).
  explicit dnsmasq(std::vector<std::string> records);
  ~dnsmasq();  // SIGTERM by PID, then waitpid
  dnsmasq(const dnsmasq&) = delete;
  dnsmasq& operator=(const dnsmasq&) = delete;

  bool running() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& log_path() const { return log_path_; }
  std::string start_error() const { return error_; }

  // Queries dnsmasq logged for `name` (exact, case-insensitive) and type ("SRV", "A", "AAAA").
  size_t queries(const std::string& name, const std::string& type) const;
  // Waits (up to `limit`) until at least `n` such queries are logged; returns the count.
  size_t wait_queries(const std::string& name, const std::string& type, size_t n,
                      std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) const;
  std::string log_text() const;

private:
  bool start(const std::vector<std::string>& records);
  bool answers() const;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string dir_;
  std::string log_path_;
  std::string error_;
};

// A bound UDP socket on 127.0.0.1 that reads nothing and answers nothing.
class black_hole {
public:
  black_hole();
  ~black_hole();
  uint16_t port() const { return port_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A port on 127.0.0.1 free for both UDP and TCP right now.
uint16_t free_loopback_port();

}  // namespace fedgw::test
