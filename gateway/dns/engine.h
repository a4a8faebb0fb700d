// The DNS I/O thread: owns c-ares (whose channels are not thread-safe) and runs
// epoll on c-ares' sockets plus an eventfd for incoming work; waits are bounded
// by ares_timeout, so there is no polling tick: an answer is handled as soon as
// its datagram (or TCP segment) arrives. Any thread may call query(); the
// completion callback runs on the DNS thread and must only hand the result on
// (dns_resolver does caf::anon_send).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/dns/types.h"

namespace fedgw::dns {

struct engine_settings {
  std::vector<std::string> servers;  // "ip:port" / "[ipv6]:port"; empty: /etc/resolv.conf
  uint32_t timeout_ms = 2000;        // per try
  uint32_t tries = 2;
};

// What c-ares reported for one query.
struct raw_result {
  int status = 0;         // ARES_SUCCESS, ARES_ENOTFOUND, ARES_ETIMEOUT, ...
  std::string response;   // the DNS message, when one arrived
  int timeouts = 0;       // tries that timed out
  std::string servers;    // "127.0.0.1:5353" (comma-separated) of the channel used
  uint32_t tries = 0;
  uint32_t timeout_ms = 0;
};

// Turns a c-ares result into an answer: parses the message, or describes the
// failure ("server 127.0.0.1:5353 timed out after 2 tries").
answer to_answer(const raw_result& raw, rr_type type);

class engine {
public:
  using callback = std::function<void(raw_result)>;

  engine();
  ~engine();  // cancels what is in flight (callbacks get ARES_EDESTRUCTION) and joins the thread
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Makes a new c-ares channel with these settings for all later queries;
  // queries in flight finish on the previous one. False (and the old channel
  // kept) when the settings are unusable.
  bool configure(const engine_settings& settings, std::string& error);
  // The servers of the current channel, "ip:port, ip:port".
  std::string servers() const;

  // Asks one question (class IN, recursion desired, no search list).
  void query(std::string name, rr_type type, callback done);

  uint64_t queries_sent() const { return sent_.load(); }

private:
  struct channel;
  // Work for the DNS thread, in order: a question, or (install set) a new channel.
  struct request {
    std::string name;
    rr_type type = rr_type::a;
    callback done;
    std::unique_ptr<channel> install;
  };
  void run();
  void wake();
  void drain_queue();
  void update_socket(channel* ch, int fd, bool read, bool write);
  static void sock_state_cb(void* data, int fd, int readable, int writable);
  static void query_cb(void* arg, int status, int timeouts, unsigned char* abuf, int alen);

  int epoll_fd_ = -1;
  int event_fd_ = -1;
  std::atomic<uint64_t> sent_{0};
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_;             // guards the fields below
  std::vector<request> queue_;
  std::string servers_;

  // DNS thread only.
  std::vector<std::unique_ptr<channel>> channels_;  // back(): current; others drain
  std::thread thread_;
};

}  // namespace fedgw::dns
