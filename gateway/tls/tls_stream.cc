#include "gateway/tls/tls_stream.h"

#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "gateway/proxy/hex.h"
#include "gateway/tls/errors.h"

namespace fedgw::tls {

namespace {
BIO* new_input_bio() {
  BIO* bio = BIO_new(BIO_s_mem());
  // An empty input BIO means "wait for more", not end of file.
  if (bio) BIO_set_mem_eof_return(bio, -1);
  return bio;
}

// The SSL ex_data slot that points from a session to its tls_stream (for the key log callback).
int stream_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void clear_secret(std::string& s) {
  OPENSSL_cleanse(s.data(), s.size());
  std::string().swap(s);
}

}  // namespace

tls_stream::tls_stream(ssl_ptr session) : ssl_(std::move(session)) {
  in_ = new_input_bio();
  out_ = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl_.get(), in_, out_);
  SSL_set_ex_data(ssl_.get(), stream_index(), this);
}

tls_stream::~tls_stream() {
  clear_secret(read_secret_);
  clear_secret(write_secret_);
}

void tls_stream::capture_secrets(SSL_CTX* ctx) { SSL_CTX_set_keylog_callback(ctx, &tls_stream::on_key_log); }

// "CLIENT_TRAFFIC_SECRET_0 <client random> <secret>" (NSS key log format); the other lines are ignored.
void tls_stream::on_key_log(const SSL* ssl, const char* line) {
  auto* stream = static_cast<tls_stream*>(SSL_get_ex_data(ssl, stream_index()));
  if (!stream) return;
  std::string_view text(line);
  const bool client = text.rfind("CLIENT_TRAFFIC_SECRET_0 ", 0) == 0;
  const bool server = text.rfind("SERVER_TRAFFIC_SECRET_0 ", 0) == 0;
  if (!client && !server) return;
  // The client's secret protects what the client writes.
  const bool ours = client != (SSL_is_server(ssl) == 1);
  auto& secret = ours ? stream->write_secret_ : stream->read_secret_;
  clear_secret(secret);
  if (auto bytes = proxy::from_hex(text.substr(text.rfind(' ') + 1))) {
    secret.assign(bytes->begin(), bytes->end());
    OPENSSL_cleanse(bytes->data(), bytes->size());
  }
}

// At the end of the handshake: TLS 1.3 with both secrets known, and nothing OpenSSL would still send under
// its own keys (a server's session tickets: the gateway's servers issue none).
void tls_stream::start_record_layer() {
  SSL* ssl = ssl_.get();
  description_ = std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
  const bool server = SSL_is_server(ssl) == 1;
  if (SSL_version(ssl) == TLS1_3_VERSION && !(server && SSL_get_num_tickets(ssl) != 0))
    if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl))
      records_ = record_layer::create(SSL_CIPHER_get_protocol_id(cipher), !server, read_secret_, write_secret_);
  clear_secret(read_secret_);
  clear_secret(write_secret_);
}

tls_stream::result tls_stream::from_records(const record_layer::result& o) {
  result r;
  r.failed = o.failed;
  r.error = o.error;
  r.peer_closed = o.peer_closed;
  if (o.failed) dead_ = true;
  return r;
}

x509_ptr tls_stream::peer_certificate() const {
  if (!established_) return nullptr;
  if (ssl_) return share(SSL_get0_peer_certificate(ssl_.get()));
  const auto* der = reinterpret_cast<const unsigned char*>(peer_der_.data());
  return peer_der_.empty() ? nullptr : x509_ptr{d2i_X509(nullptr, &der, static_cast<long>(peer_der_.size()))};
}

void tls_stream::drain(std::string& to_socket) {
  char* data = nullptr;
  long n = BIO_get_mem_data(out_, &data);
  if (n > 0) {
    to_socket.append(data, static_cast<size_t>(n));
    (void)BIO_reset(out_);
  }
}

namespace {
size_t capacity(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  return mem ? mem->max : 0;
}
}  // namespace

size_t tls_stream::buffer_capacity() const {
  return (ssl_ ? capacity(in_) + capacity(out_) : 0) + (records_ ? records_->buffer_capacity() : 0);
}

void tls_stream::keep_buffers() {
  if (!records_) SSL_clear_mode(ssl_.get(), SSL_MODE_RELEASE_BUFFERS);
}

void tls_stream::release_buffers() {
  if (records_) {
    // The handshake is over and checked: of OpenSSL's state only the peer's certificate is still asked for.
    if (ssl_) {
      if (X509* peer = SSL_get0_peer_certificate(ssl_.get())) {
        int n = i2d_X509(peer, nullptr);
        if (n > 0) {
          peer_der_.resize(static_cast<size_t>(n));
          auto* out = reinterpret_cast<unsigned char*>(peer_der_.data());
          i2d_X509(peer, &out);
        }
      }
      ssl_.reset();
      in_ = out_ = nullptr;
    }
    records_->release();
    return;
  }
  SSL_set_mode(ssl_.get(), SSL_MODE_RELEASE_BUFFERS);
  SSL_free_buffers(ssl_.get());  // the record layer's read and write buffers, when they hold nothing
  if (BIO_ctrl_pending(in_) == 0 && capacity(in_) > 0) {
    if (BIO* fresh = new_input_bio()) {
      SSL_set0_rbio(ssl_.get(), fresh);  // frees the old one
      in_ = fresh;
    }
  }
  if (BIO_ctrl_pending(out_) == 0 && capacity(out_) > 0) {
    BIO* fresh = BIO_new(BIO_s_mem());
    if (fresh) {
      SSL_set0_wbio(ssl_.get(), fresh);
      out_ = fresh;
    }
  }
}

tls_stream::result tls_stream::start(std::string& to_socket) {
  std::string none;
  return advance(none, to_socket);
}

tls_stream::result tls_stream::advance(std::string& plain, std::string& to_socket) {
  result r;
  if (dead_) {
    r.failed = true;
    r.error = "TLS session already failed";
    return r;
  }
  // The error queue is per thread and actors move between threads.
  ERR_clear_error();
  if (!established_) {
    int rc = SSL_do_handshake(ssl_.get());
    if (rc == 1) {
      established_ = true;
      r.handshake_completed = true;
      start_record_layer();
    } else {
      int err = SSL_get_error(ssl_.get(), rc);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        r.failed = true;
        r.error = handshake_error(ssl_.get(), rc);
        dead_ = true;
        drain(to_socket);  // the alert goes out
        return r;
      }
    }
  }
  if (established_ && records_) {
    // Just taken over: the handshake's last flight leaves first, then the records OpenSSL left unread
    // after the peer's Finished, then what was held back.
    drain(to_socket);
    char* rest = nullptr;
    long n = BIO_get_mem_data(in_, &rest);
    std::string unread(rest ? rest : "", n > 0 ? static_cast<size_t>(n) : 0);
    (void)BIO_reset(in_);
    auto opened = from_records(records_->open(unread, plain, to_socket));
    opened.handshake_completed = r.handshake_completed;
    if (!opened.failed && !held_back_.empty()) {
      std::string pending;
      pending.swap(held_back_);
      auto sent = send(pending, to_socket);
      if (sent.failed) return sent;
    }
    return opened;
  }
  if (established_) {
    char buffer[16384];
    for (;;) {
      ERR_clear_error();
      int n = SSL_read(ssl_.get(), buffer, sizeof buffer);
      if (n > 0) {
        plain.append(buffer, static_cast<size_t>(n));
        continue;
      }
      int err = SSL_get_error(ssl_.get(), n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
      if (err == SSL_ERROR_ZERO_RETURN) {
        r.peer_closed = true;
        break;
      }
      r.failed = true;
      r.error = handshake_error(ssl_.get(), n);
      dead_ = true;
      break;
    }
    if (!dead_ && !held_back_.empty()) {
      std::string pending;
      pending.swap(held_back_);
      auto sent = send(pending, to_socket);
      if (sent.failed) return sent;
    }
  }
  drain(to_socket);
  return r;
}

tls_stream::result tls_stream::receive(std::string_view ciphertext, std::string& plain,
                                       std::string& to_socket) {
  if (records_) return from_records(records_->open(ciphertext, plain, to_socket));
  if (!ciphertext.empty()) BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
  return advance(plain, to_socket);
}

tls_stream::result tls_stream::send(std::string_view plain, std::string& to_socket) {
  result r;
  if (dead_) {
    r.failed = true;
    r.error = "TLS session already failed";
    return r;
  }
  if (!established_) {
    held_back_.append(plain);
    return r;
  }
  if (records_) return from_records(records_->seal(plain, to_socket));
  while (!plain.empty()) {
    ERR_clear_error();
    size_t written = 0;
    if (SSL_write_ex(ssl_.get(), plain.data(), plain.size(), &written) != 1) {
      r.failed = true;
      r.error = handshake_error(ssl_.get(), 0);
      dead_ = true;
      break;
    }
    plain.remove_prefix(written);
  }
  drain(to_socket);
  return r;
}

void tls_stream::shutdown(std::string& to_socket) {
  if (!established_ || dead_) return;
  if (records_) return records_->close_notify(to_socket);
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
  drain(to_socket);
}

std::string tls_stream::description() const {
  return established_ ? description_ : "handshaking";
}

}  // namespace fedgw::tls
