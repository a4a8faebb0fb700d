#include "gateway/proxy/connection.h"

#include <algorithm>

#include <openssl/ssl.h>

#include "gateway/sip/response.h"
#include "gateway/tls/identity.h"

namespace fedgw::proxy {

namespace {

// Plaintext waiting for the TLS handshake is bounded like the reactor's write buffer.
constexpr size_t max_held_back = size_t{1} << 20;

}  // namespace

// Framing: stream transport (Content-Length mandatory). A top Via without a
// branch is accepted (RFC 2543 elements, RFC 4475 §3.1.1.7): the gateway adds
// its own branch, only CANCEL matching needs the origin's.
class sip_connection::framer_events : public sip::StreamFramer::Callbacks {
 public:
  framer_events(sip_connection& c, clock::time_point now) : c_(c), now_(now) {}

  void on_message(sip::Message&& m) override { c_.on_message(std::move(m), now_); }

  void on_message_error(const sip::Error& error, std::string_view raw) override {
    if (raw.substr(0, 4) == "SIP/") {
      c_.log(severity::warning, c_.label() + ": malformed response dropped: " + error.message);
      return;
    }
    c_.log(severity::warning,
           c_.label() + ": malformed request answered " + std::to_string(error.status) + ": " + error.message);
    if (auto response = sip::make_response_to_malformed(raw, error)) {
      c_.write_wire(*response);
      c_.events_.answered(error.status, error.message);
    }
  }

  void on_ping() override { c_.write_wire(sip::StreamFramer::kPong); }

  void on_stream_error(const sip::Error& error) override {
    c_.log(severity::error, c_.label() + ": " + error.message + "; closing the connection");
    // A request whose head was read (e.g. a body over the limit) still gets its
    // final response (413, 400) before the connection closes.
    auto head = c_.framer_->failed_head();
    if (!head.empty() && head.substr(0, 4) != "SIP/" && error.status > 0) {
      if (auto response = sip::make_response_to_malformed(head, error)) {
        c_.write_wire(*response);
        c_.events_.answered(error.status, error.message);
      }
    }
    c_.events_.close(true);
  }

 private:
  sip_connection& c_;
  clock::time_point now_;
};

sip_connection::sip_connection(connection_options options, connection_events& events, clock::time_point now)
  : options_(std::move(options)), events_(events), last_activity_(now) {}

sip_connection::~sip_connection() = default;

void sip_connection::attach(std::string address, std::unique_ptr<tls::tls_stream> tls, clock::time_point now) {
  address_ = std::move(address);
  tls_ = std::move(tls);
  framer_ = std::make_unique<sip::StreamFramer>(sip::ParseOptions{options_.limits, true, false});
  attached_ = true;
  write_failed_ = false;
  got_message_ = false;
  marked_established_ = false;
  incomplete_deadline_ = false;
  tls_reads_ = 0;
  tls_kept_buffers_ = false;
  last_activity_ = now;
}

void sip_connection::detach() { attached_ = false; }

void sip_connection::connected(clock::time_point now) {
  if (!attached_ || established_) return;
  if (!tls_) return become_established(now);
  std::string out;
  auto r = tls_->start(out);
  write_raw(out);
  if (r.failed) write_failure("TLS: " + r.error);
}

std::string sip_connection::label() const {
  std::string who = options_.domain.empty() ? std::string(side_name(options_.where)) : options_.domain;
  return who + " " + address_;
}

std::string sip_connection::transport_description() const { return tls_ ? tls_->description() : "TCP"; }

tls::x509_ptr sip_connection::peer_certificate() const { return tls_ ? tls_->peer_certificate() : nullptr; }

std::chrono::seconds sip_connection::tick_interval() const {
  // Every second while TLS traffic flows (or before the connection is attached: it may become a TLS one):
  // busy connections keep their record buffers, idle ones give them back soon.
  if (!attached_ || (tls_ && (tls_reads_ != 0 || tls_kept_buffers_))) return std::chrono::seconds(1);
  return std::max(std::chrono::seconds(1), std::min(options_.keepalive, options_.idle_timeout));
}

bool sip_connection::awaits(const std::string& branch) const {
  if (in_flight_.count(branch)) return true;
  return std::any_of(queue_.begin(), queue_.end(), [&](const queued_request& q) { return q.branch == branch; });
}

// The first write that fails closes the connection, logged once: bytes lost
// from the middle of a TLS record stream cannot be recovered.
void sip_connection::write_failure(const std::string& why) {
  if (write_failed_) return;
  write_failed_ = true;
  log(severity::error, label() + ": " + why + ", closing the connection");
  events_.close(false);
}

void sip_connection::write_raw(std::string_view bytes) {
  if (!attached_ || write_failed_ || bytes.empty()) return;
  if (!events_.write(bytes)) write_failure("output buffer full or connection gone");
}

// Writes bytes to the socket, through TLS when the connection has it.
void sip_connection::write_wire(std::string_view bytes) {
  if (!attached_ || write_failed_) return;
  if (!tls_) return write_raw(bytes);
  if (!tls_->established() && tls_->held_back_bytes() + bytes.size() > max_held_back)
    return write_failure("more than 1 MiB waiting for the TLS handshake");
  std::string out;
  auto r = tls_->send(bytes, out);
  write_raw(out);
  if (r.failed) write_failure("TLS: " + r.error);
}

void sip_connection::respond(std::string_view wire) { write_wire(wire); }

void sip_connection::fail_pending(int status, const std::string& reason) {
  // Taken out first: a failure must be reported once even if the owner reacts by transmitting again.
  auto queue = std::move(queue_);
  auto in_flight = std::move(in_flight_);
  queue_.clear();
  queued_bytes_ = 0;
  in_flight_.clear();
  for (auto& q : queue) events_.failed(q.token, q.branch, status, reason);
  for (auto& [branch, p] : in_flight) events_.failed(p.token, branch, status, reason);
}

// How long a request's responses are accepted: timer B/F, for INVITE timer C
// and the RFC 6026 accepted state (2xx retransmissions) on top.
sip_connection::clock::duration sip_connection::answer_window(bool invite) const {
  const auto& t = options_.timers;
  return invite ? t.final_response + t.timer_c + t.linger : t.final_response + std::chrono::seconds(1);
}

void sip_connection::send_request(std::string& wire, connection_token& token, const std::string& branch,
                                  clock::time_point now) {
  // Untracked requests (ACK, the gateway's CANCEL: empty branch) get no response of their own.
  if (!branch.empty()) {
    bool invite = wire.compare(0, 7, "INVITE ") == 0;
    in_flight_[branch] = pending_request{std::move(token), invite, now + answer_window(invite)};
  }
  last_activity_ = now;
  write_wire(wire);
}

void sip_connection::transmit(std::string wire, connection_token token, std::string branch, clock::time_point now) {
  if (closed_)
    return events_.failed(token, branch, 503, "Service Unavailable - connection to " + label() + " closed");
  // Established: sent at once, unless earlier requests wait (order) or the peer reads slower than we write
  // (a burst): then it waits in the queue for drained(), instead of filling the output buffer up to its
  // limit, which closes the connection and fails everything in flight.
  if (established_ && queue_.empty() && !events_.congested()) return send_request(wire, token, branch, now);
  // CANCEL and ACK (untracked, empty branch) are never refused by the queue limits.
  if (!branch.empty() && established_ && queued_bytes_ + wire.size() > options_.max_held_bytes)
    return events_.failed(token, branch, 503,
                          "Service Unavailable - " + label() + " reads slower than requests come: " +
                            std::to_string(queued_bytes_ >> 10) + " KiB of requests wait for its congested output");
  if (!branch.empty() && !established_ && queue_.size() >= options_.max_queued)
    return events_.failed(token, branch, 503,
                          "Service Unavailable - too many requests queued for " + options_.domain);
  queued_bytes_ += wire.size();
  queue_.push_back({std::move(wire), std::move(token), std::move(branch), now});
}

// A request that waited in the queue (for a congested output, or while connecting) as long as its
// transaction lives has been answered 408 by its shard (timer B/F): sent now, it would reach a peer whose
// sender was told it timed out. It fails (408; the shard ignores a second final answer) and is dropped, and
// so is an ACK or CANCEL that waited as long. The queue is in arrival order: the oldest are in front.
void sip_connection::expire_queued(clock::time_point now) {
  auto limit = options_.timers.final_response;
  while (!queue_.empty() && now - queue_.front().queued_at >= limit) {
    auto q = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= q.wire.size();
    ++expired_unlogged_;
    events_.failed(q.token, q.branch, 408,
                   "Request Timeout - not sent: waited " + std::to_string(limit.count()) + " ms for " + label() +
                     (established_ ? " to read its congested output" : " to connect"));
  }
  if (expired_unlogged_ != 0 && expired_logged_.allow("expired", now)) {
    log(severity::warning, label() + ": " + std::to_string(expired_unlogged_) +
                             " queued request(s) not sent: they waited as long as the transaction timeout (" +
                             std::to_string(limit.count()) + " ms) and were answered 408");
    expired_unlogged_ = 0;
  }
}

void sip_connection::drained(clock::time_point now) {
  expire_queued(now);
  while (established_ && !closed_ && attached_ && !queue_.empty() && !events_.congested()) {
    auto q = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= q.wire.size();
    send_request(q.wire, q.token, q.branch, now);
  }
}

void sip_connection::become_established(clock::time_point now) {
  established_ = true;
  events_.established(identities_);
  drained(now);  // what was queued while connecting
}

void sip_connection::handshake_done(clock::time_point now) {
  SSL* ssl = tls_->session();
  X509* peer = SSL_get0_peer_certificate(ssl);
  identities_.clear();
  if (peer)
    for (const auto& n : tls::certificate_identities(peer))
      // Wildcard names never identify a partner domain (nor become partner entries).
      if (n.ignored.empty() && !n.host.empty() && n.host.find('*') == std::string::npos &&
          std::find(identities_.begin(), identities_.end(), n.host) == identities_.end())
        identities_.push_back(n.host);
  if (!options_.contexts) {
    // Nothing to check the peer against: never trusted by default.
    log(severity::error, "TLS connection to " + label() + " refused: no TLS contexts to check the peer");
    events_.close(true);
    return;
  }
  if (options_.inbound && options_.where == side::internal) {
    // The UC server: the internal listener's own CA bundle and pinned names (internal_listener.peer_names).
    auto id = options_.contexts->check_internal_peer(ssl);
    if (!id.ok) {
      log(severity::error, "internal TLS connection from " + address_ + " refused: " + id.reason);
      events_.close(true);
      return;
    }
  }
  if (!options_.inbound) {
    auto id = options_.contexts->check_peer(ssl, options_.domain);
    if (!id.ok) {
      auto text = "TLS: " + options_.domain + " at " + address_ + ": " + id.reason;
      log(severity::error, text);
      events_.setup_failed(text);
      events_.close(true);
      return;
    }
  }
  become_established(now);
}

void sip_connection::receive(std::string_view bytes, clock::time_point now) {
  if (!attached_) return;
  if (!tls_) return on_plaintext(bytes, now);
  ++tls_reads_;
  std::string plain, out;
  auto r = tls_->receive(bytes, plain, out);
  write_raw(out);
  if (r.failed) {
    auto text = "TLS handshake with " + (options_.domain.empty() ? std::string("peer") : options_.domain) + " at " +
                address_ + " failed: " + r.error;
    log(severity::error, text);
    events_.setup_failed(text);
    events_.close(true);
    return;
  }
  if (r.handshake_completed) handshake_done(now);
  if (!plain.empty() && established_) on_plaintext(plain, now);
  // The handshake flights (certificate chains) grew the TLS buffers: most partner connections idle now.
  if (r.handshake_completed && attached_) tls_->release_buffers();
  // close_notify: the peer ends the session; requests in flight fail when the socket closes.
  if (r.peer_closed && attached_) events_.close(true);
}

void sip_connection::on_plaintext(std::string_view bytes, clock::time_point now) {
  framer_events events(*this, now);
  if (!framer_->feed(bytes, events)) return events_.close(true);
  update_deadline(now);
}

// Inbound connections live on deadlines (reactor): the first complete SIP
// message ends the establishment deadline; after that, a partial message held
// in the framer must be completed within establish_timeout.
void sip_connection::update_deadline(clock::time_point now) {
  if (!options_.inbound || !attached_ || !got_message_) return;
  bool partial = framer_->buffered_bytes() > 0;
  if (!marked_established_ || (!partial && incomplete_deadline_)) {
    events_.message_complete();
    marked_established_ = true;
    incomplete_deadline_ = false;
  }
  if (partial && !incomplete_deadline_) {
    events_.set_deadline(now + options_.establish_timeout, "incomplete SIP message for " +
                                                             std::to_string(options_.establish_timeout.count()) + " s");
    incomplete_deadline_ = true;
  }
}

void sip_connection::on_message(sip::Message&& m, clock::time_point now) {
  last_activity_ = now;
  if (!got_message_) {
    got_message_ = true;
    events_.spoke_sip();
  }
  if (m.is_request()) {
    if (options_.where == side::external && rate_limited(m, now)) return;
    return events_.request(std::move(m));
  }
  // A response is accepted only for a request sent on this very connection.
  auto branch = m.top_via_branch();
  auto pending = branch ? in_flight_.find(std::string(*branch)) : in_flight_.end();
  if (pending == in_flight_.end()) {
    if (options_.stray_responses) options_.stray_responses->fetch_add(1, std::memory_order_relaxed);
    if (stray_logged_.allow("", now))
      log(severity::warning, label() + ": response " + std::to_string(m.status_code()) +
                               " matches no request sent on this connection, dropped (logged once a minute)");
    return;
  }
  auto token = pending->second.token;
  int code = m.status_code();
  if (pending->second.invite) {
    // INVITE: 2xx may repeat or fork (RFC 6026); keep matching until the window ends.
    if (code >= 300) in_flight_.erase(pending);
    else if (code >= 200) pending->second.expires = now + options_.timers.linger;
    else pending->second.expires = now + answer_window(true);
  } else if (code >= 200) {
    in_flight_.erase(pending);
  }
  events_.response(token, std::move(m));
}

// Discovered partners get `discovered_rate_limit` requests/s; beyond, 503 with Retry-After.
bool sip_connection::rate_limited(const sip::Message& m, clock::time_point now) {
  auto method = m.method();
  if (method == "ACK" || method == "CANCEL") return false;  // never refused: they end transactions
  if (!options_.inbound_limits) return false;
  auto policy = events_.policy();
  if (!policy) policy = options_.settings;
  if (!policy) return false;
  const auto& current = *policy;
  // Keyed by who the partner is (its certificate), not by the From domain it chooses.
  const std::string& partner = identities_.empty() ? address_ : identities_.front();
  for (const auto& id : identities_)
    if (current.allow_listed(id)) return false;
  auto verdict = options_.inbound_limits->take(partner, current.discovered_rate_limit, now);
  if (verdict == proxy::partner_rate_limiter::verdict::allowed) return false;
  if (options_.inbound_limits->should_log(partner, now))
    events_.log(severity::warning, "policy",
                options_.inbound_limits->refusal_text(verdict, partner, current.discovered_rate_limit, "from"));
  auto response =
    sip::make_response(m, 503, "Service Unavailable - rate limit for " + partner, {}, options_.limits);
  if (response) {
    response->add_header("Retry-After", "1");
    write_wire(response->serialize());
    events_.answered(503, "rate limit");
  }
  return true;
}

void sip_connection::tick(clock::time_point now) {
  expire_queued(now);
  for (auto it = in_flight_.begin(); it != in_flight_.end();)
    it = it->second.expires <= now ? in_flight_.erase(it) : std::next(it);
  if (!established_ || !attached_) return;
  auto idle = now - last_activity_;
  if (tls_) {
    // Busy (a read every ~50 ms or more often): keep the record buffers; idle for a second: give them back.
    if (tls_reads_ >= busy_reads_per_tick && !tls_kept_buffers_) {
      tls_->keep_buffers();
      tls_kept_buffers_ = true;
    } else if (idle >= std::chrono::seconds(1) && (tls_kept_buffers_ || tls_reads_ != 0)) {
      tls_->release_buffers();
      tls_kept_buffers_ = false;
    }
    tls_reads_ = 0;
  }
  if (options_.where == side::external && in_flight_.empty() && idle >= options_.idle_timeout) {
    log(severity::info, label() + ": idle for " +
                          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(idle).count()) +
                          " s, closing");
    if (tls_) {
      std::string out;
      tls_->shutdown(out);
      write_raw(out);
    }
    events_.close(true);
  } else if (idle >= options_.keepalive) {
    write_wire(sip::StreamFramer::kPing);  // RFC 5626 keep-alive
  }
}

void sip_connection::closed(const std::string& reason) {
  attached_ = false;
  if (closed_) return;
  closed_ = true;
  if (established_ && options_.where == side::external && !write_failed_)  // a write failure was logged already
    log(severity::info, "connection down: " + label() + " (" + reason + ")");
  fail_pending(503, "Service Unavailable - connection to " + label() + " lost (" + reason + ")");
}

}  // namespace fedgw::proxy
