// The gateway's own socket I/O threads. CAF 0.17 runs every broker on one
// multiplexer thread (see README, "Design"), so sockets live here instead:
// a few epoll threads move bytes, and actors on CAF's scheduler do TLS and SIP.
// Handlers are called on an I/O thread and must only hand the bytes on.
#pragma once

#include <sys/types.h>

#include <atomic>
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
  };

  // Returns the handler of a new inbound connection; nullptr refuses it.
  using accept_fn = std::function<std::shared_ptr<handler>(conn_id conn, const std::string& peer)>;

  struct options {
    size_t threads = 1;
    size_t read_window = 256 * 1024;     // unconsumed bytes before reading pauses
    size_t max_write_buffer = 4 << 20;   // queued output before write() refuses
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
  // Creates the socket with `mode` permissions, replacing a stale socket file.
  uint64_t listen_unix(const std::string& path, mode_t mode, accept_fn on_accept, std::string& error);
  void stop_listening(uint64_t listener);
  // The bound address of a TCP listener (useful with port 0).
  endpoint local_endpoint(uint64_t listener) const;

  // Starts a non-blocking outbound TCP connection (from `local_ip` when not
  // empty); returns its id at once. Bytes written before it is established are
  // queued. The caller enforces its own connect timeout with close().
  conn_id connect_tcp(const endpoint& remote, const std::string& local_ip,
                      std::shared_ptr<handler> on, std::string& error);

  // Queues bytes for sending; false when the connection is gone or its
  // output buffer is over max_write_buffer (the caller should close it).
  bool write(conn_id conn, std::string_view bytes);
  // Tells the reactor that `bytes` of on_data() input have been processed.
  void consumed(conn_id conn, size_t bytes);
  // Closes after the queued output is sent (or immediately when `flush` is false).
  void close(conn_id conn, bool flush = true);

  size_t connection_count() const;

private:
  struct io_thread;
  struct connection;
  struct listener;

  void run(io_thread& t);
  void handle_listener(io_thread& t, listener& l);
  void handle_connection(io_thread& t, const std::shared_ptr<connection>& c, uint32_t events);
  void finish(const std::shared_ptr<connection>& c, const std::string& reason);
  std::shared_ptr<connection> find(conn_id conn) const;
  uint64_t add_listener(int fd, accept_fn on_accept, bool unix_socket, std::string path);
  void update_interest(connection& c);
  void register_connection(const std::shared_ptr<connection>& c, uint32_t events);

  options opts_;
  std::vector<std::unique_ptr<io_thread>> threads_;
  mutable std::mutex mutex_;
  std::unordered_map<conn_id, std::shared_ptr<connection>> connections_;
  std::unordered_map<uint64_t, std::unique_ptr<listener>> listeners_;
  std::vector<std::unique_ptr<listener>> retired_listeners_;  // touched by I/O thread 0 only
  std::atomic<uint64_t> next_id_{1};
  std::atomic<size_t> next_thread_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace fedgw::net
