// TLS over an actor-owned byte stream: OpenSSL with two memory BIOs, no socket
// inside. The owner feeds ciphertext from the socket and writes what comes out
// to it; plaintext goes up to the SIP framer. Plain and synchronous, so the
// connection actors (on any CAF worker thread) do TLS in parallel.
#pragma once

#include <string>
#include <string_view>

#include "gateway/tls/openssl_ptr.h"

namespace fedgw::tls {

class tls_stream {
public:
  struct result {
    bool failed = false;            // the session is dead; `error` says why
    std::string error;
    bool handshake_completed = false;  // became established during this call
    bool peer_closed = false;       // close_notify received
  };

  // `session` comes from tls_contexts::new_client_session / new_server_session.
  explicit tls_stream(ssl_ptr session);
  tls_stream(const tls_stream&) = delete;
  tls_stream& operator=(const tls_stream&) = delete;

  // Client role: produces the ClientHello. Server role: nothing to do.
  result start(std::string& to_socket);
  // Ciphertext from the socket; appends decrypted bytes to `plain` and any
  // TLS records to send (handshake, alerts, tickets) to `to_socket`.
  result receive(std::string_view ciphertext, std::string& plain, std::string& to_socket);
  // Encrypts `plain` into `to_socket`; before the handshake completes it is
  // held back and sent once established (bounded by the caller).
  result send(std::string_view plain, std::string& to_socket);
  // Sends close_notify.
  void shutdown(std::string& to_socket);

  // Gives the record layer's buffers and the memory BIOs' buffers back when
  // they are empty (the BIOs keep the capacity of the largest record or
  // handshake flight they ever held), and frees record buffers after each
  // record again; for idle connections.
  void release_buffers();
  // For a busy connection: the record layer keeps its buffers between records
  // (instead of an allocation per record) until release_buffers().
  void keep_buffers();
  // Bytes allocated by the two memory BIOs (used or not).
  size_t buffer_capacity() const;

  bool established() const { return established_; }
  size_t held_back_bytes() const { return held_back_.size(); }
  SSL* session() const { return ssl_.get(); }
  // "TLSv1.3 TLS_AES_128_GCM_SHA256" once established.
  std::string description() const;

private:
  result advance(std::string& plain, std::string& to_socket);
  void drain(std::string& to_socket);

  ssl_ptr ssl_;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
  bool established_ = false;
  bool dead_ = false;
  std::string held_back_;
};

}  // namespace fedgw::tls
