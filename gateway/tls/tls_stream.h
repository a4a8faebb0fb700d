// TLS over an actor-owned byte stream: OpenSSL with two memory BIOs, no socket
// inside. The owner feeds ciphertext from the socket and writes what comes out
// to it; plaintext goes up to the SIP framer. Plain and synchronous, so the
// connection actors (on any CAF worker thread) do TLS in parallel.
// OpenSSL does the handshake and its checks; an established TLS 1.3 session then
// moves to the project's record layer (record_layer.h) and, at the first
// release_buffers(), frees its SSL object: an idle connection keeps only its keys.
// TLS 1.2 sessions stay with OpenSSL throughout.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "gateway/tls/openssl_ptr.h"
#include "gateway/tls/record_layer.h"

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
  ~tls_stream();

  // Sessions of `ctx` record their TLS 1.3 application traffic secrets for the
  // tls_stream that owns them (OpenSSL's key log callback; nothing is written
  // anywhere), so that the record layer can take over after the handshake.
  static void capture_secrets(SSL_CTX* ctx);
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
  // record again; for idle connections. Once the record layer has taken over,
  // the first call frees the SSL object itself (session() is null after it):
  // call it after the peer checks that need the SSL.
  void release_buffers();
  // For a busy connection: the record layer keeps its buffers between records
  // (instead of an allocation per record) until release_buffers().
  void keep_buffers();
  // Bytes allocated by the two memory BIOs (used or not).
  size_t buffer_capacity() const;

  bool established() const { return established_; }
  size_t held_back_bytes() const { return held_back_.size(); }
  SSL* session() const { return ssl_.get(); }
  // The peer's certificate once established (also after the SSL object is freed); null without one.
  x509_ptr peer_certificate() const;
  // The record layer, once it has taken over the established session (TLS 1.3); null otherwise.
  const record_layer* records() const { return records_.get(); }
  // "TLSv1.3 TLS_AES_128_GCM_SHA256" once established.
  std::string description() const;

private:
  static void on_key_log(const SSL* ssl, const char* line);
  result advance(std::string& plain, std::string& to_socket);
  void drain(std::string& to_socket);
  void start_record_layer();
  result from_records(const record_layer::result& r);

  ssl_ptr ssl_;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
  bool established_ = false;
  bool dead_ = false;
  std::string held_back_;
  // TLS 1.3 application traffic secrets from the key log during the handshake; cleared once used.
  std::string read_secret_, write_secret_;
  std::unique_ptr<record_layer> records_;
  std::string description_;  // set when established (the SSL object may be freed later)
  std::string peer_der_;     // the peer's certificate, DER, kept when the SSL object is freed
};

}  // namespace fedgw::tls
