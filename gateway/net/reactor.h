// The gateway's own socket I/O threads. CAF 0.17 runs every broker on one
// multiplexer thread (see README, "Design"), so sockets live here instead:
// a few epoll threads move bytes, and actors on CAF's scheduler do TLS and SIP.
// Handlers are called on an I/O thread and must only hand the bytes on.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gateway/net/address.h"

namespace fedgw::net {

class reactor {
public:
  using conn_id = uint64_t;

  struct handler {
    virtual ~handler() = default;
    // Bytes read from the connection; counted against the read window until consumed().
    virtual void on_data(conn_id conn, std::string_view bytes) = 0;
    // Called exactly once per connection: peer closed, error, close() finished,
    // or an outbound connect failed (the reason says which).
    virtual void on_closed(conn_id conn, const std::string& reason) = 0;
    // An outbound connection (connect_tcp) is established.
    virtual void on_connected(conn_id) {}
    // The output was congested (over options::congested_above unsent bytes) and is down to a quarter of that.
    virtual void on_drained(conn_id) {}
  };

  // Returns the handler of a new inbound connection; nullptr refuses it.
  using accept_fn = std::function<std::shared_ptr<handler>(conn_id conn, const std::string& peer)>;

  using clock = std::chrono::steady_clock;

  // The limits and deadlines below apply to connections accepted on TCP
  // listeners; the control socket (listen_unix) and outbound connections are
  // not counted and get no establishment deadline.
  struct options {
    size_t threads = 1;
    size_t read_window = 256 * 1024;     // unconsumed bytes before reading pauses
    size_t max_write_buffer = 4 << 20;   // queued output before write() fails and closes
    // Unsent output above which write() reports the connection congested (the writer holds what can
    // wait), until the output is down to a quarter of it (on_drained). Below max_write_buffer.
    size_t congested_above = 1 << 20;
    size_t max_connections = 0;          // accepted TCP connections open at once; 0: no limit
    size_t max_connections_per_source = 0;  // the same, per peer IP address; 0: no limit
    // Inbound connections not marked established() by then are closed; 0: no deadline.
    std::chrono::milliseconds establish_timeout{0};
    // close(conn, flush = true) closes hard when the output is not sent by then.
    std::chrono::milliseconds close_timeout{5000};
    // Accepting pauses this long after accept4 fails (EMFILE, ENFILE, ...),
    // or until a connection closes, instead of retrying at once.
    std::chrono::milliseconds accept_retry{100};
    // No threads of its own: the caller's threads run the I/O loops with poll() (the gateway's CAF
    // workers, see io_scheduling.h). Listeners live on loop 0.
    bool external_threads = false;
  };

  // Counters since start, for the daemon's status and (rate-limited) log.
  struct stats {
    uint64_t accepted = 0;                 // inbound TCP connections handed to an accept_fn
    uint64_t refused_max_connections = 0;  // accepted and closed at once: max_connections reached
    uint64_t refused_per_source = 0;       // ... max_connections_per_source reached
    uint64_t accept_failures = 0;          // accept4 errors (EMFILE, ENFILE, ...), each pausing accepting
    uint64_t establish_timeouts = 0;       // closed by establish_timeout or set_deadline()
    uint64_t close_timeouts = 0;           // close(flush) gave up on unsent output
    uint64_t write_failures = 0;           // write() failed and closed the connection
    uint64_t wakeups = 0;                  // epoll_wait returns: of every loop, and of poll_all() over all loops
    size_t inbound = 0;                    // accepted TCP connections open now
  };

  explicit reactor(options opts);
  ~reactor();  // stop()
  // Stops and joins the I/O threads, closes every socket and drops every
  // handler and accept callback. Idempotent; afterwards writes fail.
  void stop();
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;

  // Listeners return an id (> 0) or 0 with `error` set.
  uint64_t listen_tcp(const endpoint& where, accept_fn on_accept, std::string& error);
  // Creates the socket with `mode` permissions, replacing a stale socket file;
  // anything else at `path` (a regular file, a directory, ...) is refused.
  uint64_t listen_unix(const std::string& path, mode_t mode, accept_fn on_accept, std::string& error);
  // Returns once the listener is closed (no accept_fn call after that).
  void stop_listening(uint64_t listener);
  // The same without waiting for it (from an actor: with external_threads, waiting on a worker could wait
  // for the very loop that worker runs).
  void stop_listening_later(uint64_t listener);
  // The bound address of a TCP listener (useful with port 0).
  endpoint local_endpoint(uint64_t listener) const;

  // Starts a non-blocking outbound TCP connection (from `local_ip` when not
  // empty); returns its id at once. Bytes written before it is established are
  // queued. The caller enforces its own connect timeout with close().
  conn_id connect_tcp(const endpoint& remote, const std::string& local_ip,
                      std::shared_ptr<handler> on, std::string& error);

  // Queues bytes for sending. The first failure (output over max_write_buffer,
  // or a send error) closes the connection and returns false; on_closed then
  // gives the reason once. Writes to a closing or gone connection return false
  // and do nothing else.
  // With `congested`, a taken write also says whether the output is now congested: more than
  // options::congested_above bytes wait to be sent (the peer reads slower than we write), not yet down to a
  // quarter of it. The writer should hold what can wait until on_drained().
  bool write(conn_id conn, std::string_view bytes, bool* congested = nullptr);
  // Tells the reactor that `bytes` of on_data() input have been processed.
  void consumed(conn_id conn, size_t bytes);
  // Closes after the queued output is sent, at the latest after close_timeout
  // (or immediately when `flush` is false).
  void close(conn_id conn, bool flush = true);

  // Clears the connection's deadline: the establishment deadline of an
  // accepted connection (call it after the TLS handshake and the first
  // complete SIP message), or one set with set_deadline().
  void established(conn_id conn);
  // Closes the connection at `when` with `reason` (e.g. an incomplete message
  // must be complete by then), unless established() or set_deadline() comes
  // first; replaces any earlier deadline. Ignored once the connection is closing.
  void set_deadline(conn_id conn, clock::time_point when, std::string reason);

  size_t connection_count() const;
  stats get_stats() const;

  // external_threads: one round of I/O loop `index` (< options.threads) on the calling thread: waits at
  // most `max_wait` (0: not at all) for its sockets, handles what is ready (the handlers run here) and
  // its deadlines. Returns false at once when another thread is polling that loop or the reactor is
  // stopped. wake() ends a poll() of that loop early (a no-op once stopped).
  // A thread that polls is expected to poll this reactor again soon (a CAF worker does, until stop): its
  // writes to idle connections are coalesced and sent at its next poll() (see write()).
  bool poll(size_t index, std::chrono::milliseconds max_wait);
  // external_threads: waits at most `max_wait` (0: not at all) for the sockets, wake-ups and deadlines of
  // EVERY loop, then runs one round of each loop that has something (as poll(), skipping a loop another
  // thread is polling). So one idle thread can watch all loops while the others sleep elsewhere: at low load
  // one thread does all the work instead of each event waking the thread of its loop (io_scheduling.h).
  // wake(index) of any loop ends it early. Returns false at once when the reactor is stopped.
  bool poll_all(std::chrono::milliseconds max_wait);
  void wake(size_t index);
  // external_threads: sends the calling thread's coalesced writes now (poll() and poll_all() do it first), for
  // a thread that is going to wait elsewhere.
  void flush();
  size_t thread_count() const { return threads_.size(); }
  bool stopped() const { return stopping_; }

private:
  struct io_thread;
  struct connection;
  struct listener;
  struct coalesced_writes;

  void run(io_thread& t);
  void run_once(io_thread& t, int max_wait_ms);
  bool take_turn(io_thread& t, int max_wait_ms);  // run_once unless another thread polls t
  void park(io_thread& t);    // poll_all: out of all_loops_fd_ while another thread polls t
  void unpark(io_thread& t);  // back in, once
  void flush_as_poller();
  void handle_listener(io_thread& t, listener& l);
  void handle_connection(io_thread& t, const std::shared_ptr<connection>& c, uint32_t events);
  void run_timers(io_thread& t);
  void finish(const std::shared_ptr<connection>& c, const std::string& reason);
  void request_finish(const std::shared_ptr<connection>& c, std::string reason);  // caller holds c->mutex
  void arm(const std::shared_ptr<connection>& c, clock::time_point when);      // caller holds c->mutex
  std::shared_ptr<connection> find(conn_id conn) const;
  uint64_t add_listener(int fd, accept_fn on_accept, bool unix_socket, std::string path);
  void remove_listener(uint64_t id);
  void pause_accepting(listener& l);
  void resume_accepting();
  uint32_t wanted_events(const connection& c) const;
  void update_interest(connection& c);
  static bool send_some(connection& c, std::string_view& bytes, int& err);  // caller holds c.mutex
  static bool send_queued(connection& c, int& err);                          // caller holds c.mutex
  bool drained(connection& c) const;                                        // caller holds c.mutex
  static coalesced_writes& this_thread_writes();
  void flush_coalesced(coalesced_writes& coalesced);
  void register_connection(const std::shared_ptr<connection>& c);

  options opts_;
  std::vector<std::unique_ptr<io_thread>> threads_;
  int all_loops_fd_ = -1;  // external_threads, several loops: an epoll set of every loop's epoll fd (poll_all)
  mutable std::mutex mutex_;
  std::unordered_map<conn_id, std::shared_ptr<connection>> connections_;
  std::unordered_map<uint64_t, std::unique_ptr<listener>> listeners_;
  std::vector<std::unique_ptr<listener>> retired_listeners_;  // touched by I/O thread 0 only
  std::atomic<uint64_t> next_id_{1};
  std::atomic<size_t> next_thread_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int> pollers_{0};  // external_threads: poll(), poll_all() and wake() calls in progress
  // Guarded by mutex_: accepted TCP connections open, in all and per source IP.
  size_t inbound_ = 0;
  std::unordered_map<std::string, size_t> per_source_;
  // Listeners taken out of epoll after an accept4 failure; I/O thread 0 only.
  std::vector<uint64_t> paused_listeners_;
  std::atomic<bool> accept_paused_{false};
  struct counters;
  std::unique_ptr<counters> counters_;
};

}  // namespace fedgw::net
