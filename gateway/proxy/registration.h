// The gateway's login at the SIP proxy in SIP_PROXY mode: REGISTER (RFC 3261 §10) with digest
// authentication (§22, RFC 8760). A plain state machine, no socket and no actor: the proxy session actor
// tells it about the connection, hands it responses and ticks, and sends the REGISTER text it returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/proxy/digest.h"
#include "gateway/sip/message.h"

namespace fedgw::proxy {

class registration {
 public:
  using clock = std::chrono::steady_clock;
  enum class state : uint8_t { disconnected, connecting, authenticating, registered, rejected };

  struct options {
    digest::credentials login;
    std::string aor_domain;     // From/To: sip:<username>@<aor_domain> (the gateway's first domain)
    std::string registrar_uri;  // Request-URI and digest uri, e.g. "sip:127.0.0.1:5070;transport=tls"
    std::string transport;      // Via and Contact transport: "TCP" or "TLS"
    std::string contact_host;   // "ip:port" where the proxy reaches the gateway (sip_proxy.incoming)
    std::chrono::seconds expires{600};
    std::chrono::seconds response_timeout{32};  // RFC 3261 Timer F
    std::chrono::seconds retry_after{30};       // after a 5xx, 408 or no answer (then doubled, to 5 min)
  };

  // What a call produced: a REGISTER to send now, and/or a line for the status log.
  struct step {
    std::optional<std::string> send;
    std::optional<std::string> log;
    bool error = false;  // `log` reports a failure
  };

  explicit registration(options o);

  // A connection attempt started; the session is not registered any more.
  void connecting();
  // The connection is up: the first REGISTER (without credentials unless a challenge is known).
  // `sent_by`: the connection's local "ip:port" for the Via header.
  step connected(std::string_view sent_by, clock::time_point now);
  // The connection is gone: registration must start again on the next one.
  void disconnected(std::string reason);
  // A response from the proxy; `handled` false (nothing else happens) unless it answers the REGISTER
  // in flight.
  step on_response(const sip::Message& response, clock::time_point now, bool& handled);
  // Refresh when due (half the granted time), retry after a failure, give up on a REGISTER unanswered
  // for response_timeout.
  step tick(clock::time_point now);
  // After a rejection: try again (fedctl proxy login, or new settings).
  step relogin(clock::time_point now);

  state current() const { return state_; }
  static std::string_view state_name(state s);
  // Registered: when the binding expires.
  clock::time_point expires_at() const { return expires_at_; }
  const std::string& last_error() const { return last_error_; }
  // The branch of the REGISTER in flight (empty: none), for the connection's in-flight table.
  const std::string& branch() const { return branch_; }
  std::string aor() const;
  // REGISTERs sent since construction (tests count retries).
  uint64_t registers_sent() const { return registers_sent_; }

 private:
  step send_register(clock::time_point now, bool with_credentials);
  step fail(std::string why, clock::time_point now, bool reject);

  options opts_;
  state state_ = state::disconnected;
  std::string sent_by_;
  std::string call_id_;
  std::string from_tag_;
  uint32_t cseq_ = 0;
  std::string branch_;  // of the REGISTER in flight; empty: none
  clock::time_point sent_at_{};
  digest::answerer digest_;
  bool credentials_sent_ = false;  // the REGISTER in flight carries credentials for digest_'s challenge
  bool answered_fresh_challenge_ = false;  // ... computed for the challenge that the last response carried
  std::chrono::seconds granted_{0};
  std::chrono::seconds retry_delay_{0};
  clock::time_point expires_at_{};
  clock::time_point next_action_ = clock::time_point::max();  // refresh or retry
  std::string last_error_;
  uint64_t registers_sent_ = 0;
};

}  // namespace fedgw::proxy
