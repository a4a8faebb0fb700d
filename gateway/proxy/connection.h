// The protocol core of one SIP connection over TCP or TLS, without sockets,
// actors or clocks of its own (as Envoy separates its codec from its
// connection manager): the owner feeds it socket bytes and requests with the
// current time, and it answers through connection_events. One owner at a
// time, no shared state besides what the options hand in, so each thread can
// own its connections.
//
// It does: TLS (gateway/tls/tls_stream) and the identities of the peer's
// certificate (wildcard names excluded), SIP stream framing, RFC 5626
// keep-alive and the idle close, the in-flight table (a response is accepted
// only for a request sent on this very connection, by the branch of our Via,
// with the INVITE / RFC 6026 windows), the queue of requests held while
// connecting, the discovered-partner inbound rate limit, answers to malformed
// requests, and the inbound incomplete-message deadline.
//
//   struct owner : proxy::connection_events { ... };
//   proxy::sip_connection core(options, owner, now);
//   core.attach("10.0.0.1:5061", std::make_unique<tls::tls_stream>(...), now);
//   core.connected(now);                 // the socket is up: handshake or established
//   core.receive(bytes, now);            // from the socket
//   core.transmit(wire, token, branch, now);
//   core.tick(now);                      // every tick_interval()
//   core.closed(reason);                 // the socket is gone: pending requests fail (503)
#pragma once

#include <any>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/proxy/log_throttle.h"
#include "gateway/proxy/rate_limit.h"
#include "gateway/proxy/routing.h"
#include "gateway/proxy/transactions.h"
#include "gateway/severity.h"
#include "gateway/sip/framer.h"
#include "gateway/tls/contexts.h"
#include "gateway/tls/tls_stream.h"

namespace fedgw::proxy {

// What the owner needs to route a response or a failure back to whoever sent
// the request (the connection actor: its proxy-core shard). Opaque here.
using connection_token = std::any;

// What the core needs from its owner. Called synchronously from the core's
// inputs; they must not call back into the core.
struct connection_events {
  using clock = std::chrono::steady_clock;
  virtual ~connection_events() = default;

  // Bytes for the socket; false when they cannot be taken (buffer full, socket gone).
  virtual bool write(std::string_view bytes) = 0;
  // Close the socket, after what was written when `flush`. closed() follows from the owner.
  virtual void close(bool flush) = 0;
  // A request from the peer (answered later through respond()).
  virtual void request(sip::Message&& request) = 0;
  // A response to a request sent with transmit() on this connection.
  virtual void response(const connection_token& token, sip::Message&& response) = 0;
  // A request sent or queued here will get no response from this connection.
  virtual void failed(const connection_token& token, const std::string& branch, int status,
                      const std::string& reason) = 0;
  // Up: TCP connected and, with TLS, the handshake done and the peer checked.
  virtual void established(const std::vector<std::string>& identities) = 0;
  virtual void log(severity level, const char* component, const std::string& text) = 0;

  // The TLS handshake or the check of the server's certificate failed (the socket is being closed).
  virtual void setup_failed(const std::string& /*text*/) {}
  // The first complete SIP message (not a keep-alive) arrived.
  virtual void spoke_sip() {}
  // Inbound: the peer is past establishment, no partial message pending (reactor::established).
  virtual void message_complete() {}
  // Inbound: a partial message must be complete by `when` (reactor::set_deadline).
  virtual void set_deadline(clock::time_point /*when*/, const std::string& /*reason*/) {}
  // The socket's output is congested (as reactor::write reported it): requests wait in the queue until drained().
  virtual bool congested() { return false; }
  // The partner policy as last applied (the rate limit reads it); null: connection_options::settings.
  virtual std::shared_ptr<const settings> policy() { return nullptr; }
  // The core answered a request itself (malformed, too large, rate limit): status and reason phrase (metrics).
  virtual void answered(int /*status*/, std::string_view /*phrase*/) {}
};

struct connection_options {
  side where = side::internal;
  bool inbound = true;
  std::string domain;                        // outbound: the partner domain
  std::shared_ptr<const proxy::settings> settings;  // the policy unless connection_events::policy() has a newer one
  tls::contexts_ptr contexts;                // checks the peer after the handshake (TLS connections)
  sip::Limits limits;
  uint32_t max_queued = 1000;                // requests held while connecting
  // Bytes of requests held while the established connection's output is congested (a burst the peer
  // reads slower than it comes, e.g. 5,000 NOTIFYs when presentities with many watchers change at once).
  size_t max_held_bytes = 16 << 20;
  std::chrono::seconds idle_timeout{600};
  std::chrono::seconds keepalive{30};
  std::chrono::seconds establish_timeout{10};  // a partial SIP message must be complete by then (inbound)
  transaction_timers timers;                   // how long responses to a sent request are accepted
  std::shared_ptr<partner_rate_limiter> inbound_limits;  // shared by all partner connections; null: no limit
  std::shared_ptr<std::atomic<uint64_t>> stray_responses;  // counted responses matching nothing sent here
};

class sip_connection {
 public:
  using clock = std::chrono::steady_clock;

  sip_connection(connection_options options, connection_events& events, clock::time_point now);
  sip_connection(const sip_connection&) = delete;
  sip_connection& operator=(const sip_connection&) = delete;
  ~sip_connection();

  // A new socket to `address` (inbound: the accepted one; outbound: each target
  // attempt); `tls` null for plain TCP. The queue survives; the framer starts empty.
  void attach(std::string address, std::unique_ptr<tls::tls_stream> tls, clock::time_point now);
  // The socket is up: plain TCP is established; TLS starts the handshake (the client sends its hello).
  void connected(clock::time_point now);
  // Bytes from the socket.
  void receive(std::string_view bytes, clock::time_point now);
  // A request to send, `token` for its responses; an empty branch is a CANCEL
  // or ACK: untracked, and never refused by the queue limit.
  void transmit(std::string wire, connection_token token, std::string branch, clock::time_point now);
  // The congested output drained (reactor on_drained): sends the requests held meanwhile, in order, while
  // the output takes them. A request that waited as long as its transaction lives (timers.final_response)
  // is not sent but failed with 408 (here and in tick()): its shard has answered 408 already.
  void drained(clock::time_point now);
  // A response to a request from the peer.
  void respond(std::string_view wire);
  // Drops expired in-flight entries and expired queued requests, closes an idle connection, sends keep-alives.
  void tick(clock::time_point now);
  // The socket is gone and no other follows (outbound: detach() before the next attempt);
  // once only. Later transmit() calls fail at once.
  void closed(const std::string& reason);
  // The socket is gone; queued requests wait for the next attach().
  void detach();
  // Every queued and in-flight request fails with `status` (once).
  void fail_pending(int status, const std::string& reason);

  // How often tick() should run: the finer of keep-alive and idle periods, at least a second.
  std::chrono::seconds tick_interval() const;

  bool established() const { return established_; }
  bool attached() const { return attached_; }
  bool write_failed() const { return write_failed_; }
  const std::vector<std::string>& identities() const { return identities_; }
  // The peer's certificate on an established TLS connection (null on TCP or before the handshake).
  tls::x509_ptr peer_certificate() const;
  const std::string& address() const { return address_; }
  // "TLSv1.3 TLS_AES_128_GCM_SHA256" or "TCP".
  std::string transport_description() const;
  // "b.test 10.0.0.1:5061" (outbound) or "external 10.0.0.1:40000": for logs.
  std::string label() const;
  size_t queued() const { return queue_.size(); }
  size_t in_flight() const { return in_flight_.size(); }
  // True while a response or failure for `branch` may still come (queued or in flight).
  bool awaits(const std::string& branch) const;

 private:
  struct queued_request {
    std::string wire;
    connection_token token;
    std::string branch;
    clock::time_point queued_at;
  };
  // A request sent on this connection that may still be answered (RFC 3261 §18.1.2, bound to the connection).
  struct pending_request {
    connection_token token;
    bool invite = false;
    clock::time_point expires{};
  };
  class framer_events;

  void log(severity level, const std::string& text) { events_.log(level, "peer", text); }
  void write_raw(std::string_view bytes);
  void write_wire(std::string_view bytes);
  void write_failure(const std::string& why);
  void expire_queued(clock::time_point now);
  void send_request(std::string& wire, connection_token& token, const std::string& branch, clock::time_point now);
  void become_established(clock::time_point now);
  void handshake_done(clock::time_point now);
  void on_plaintext(std::string_view bytes, clock::time_point now);
  void update_deadline(clock::time_point now);
  void on_message(sip::Message&& message, clock::time_point now);
  bool rate_limited(const sip::Message& request, clock::time_point now);
  clock::duration answer_window(bool invite) const;

  connection_options options_;
  connection_events& events_;
  std::string address_;
  std::unique_ptr<tls::tls_stream> tls_;
  std::unique_ptr<sip::StreamFramer> framer_;
  bool attached_ = false;
  bool closed_ = false;
  bool established_ = false;   // TCP up and, with TLS, handshake done and peer verified
  bool write_failed_ = false;  // logged and closing: later writes are dropped silently
  bool got_message_ = false;   // a complete SIP message arrived (not a keep-alive)
  bool marked_established_ = false;  // message_complete() called
  bool incomplete_deadline_ = false; // set_deadline() armed for a partial message
  static constexpr uint32_t busy_reads_per_tick = 20;
  uint32_t tls_reads_ = 0;           // TLS reads since the last tick
  bool tls_kept_buffers_ = false;    // keep_buffers() in force
  std::vector<std::string> identities_;
  std::deque<queued_request> queue_;
  size_t queued_bytes_ = 0;  // the wire sizes in queue_
  std::unordered_map<std::string, pending_request> in_flight_;  // by branch of our Via
  log_throttle stray_logged_{std::chrono::seconds(60), 1};
  log_throttle expired_logged_{std::chrono::seconds(60), 1};
  size_t expired_unlogged_ = 0;  // queued requests expired since the last log entry about them
  clock::time_point last_activity_;
};

}  // namespace fedgw::proxy
