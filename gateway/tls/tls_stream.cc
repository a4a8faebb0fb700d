#include "gateway/tls/tls_stream.h"

#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "gateway/tls/errors.h"

namespace fedgw::tls {

namespace {
BIO* new_input_bio() {
  BIO* bio = BIO_new(BIO_s_mem());
  // An empty input BIO means "wait for more", not end of file.
  if (bio) BIO_set_mem_eof_return(bio, -1);
  return bio;
}
}  // namespace

tls_stream::tls_stream(ssl_ptr session) : ssl_(std::move(session)) {
  in_ = new_input_bio();
  out_ = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl_.get(), in_, out_);
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

size_t tls_stream::buffer_capacity() const { return capacity(in_) + capacity(out_); }

void tls_stream::keep_buffers() { SSL_clear_mode(ssl_.get(), SSL_MODE_RELEASE_BUFFERS); }

void tls_stream::release_buffers() {
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
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
  drain(to_socket);
}

std::string tls_stream::description() const {
  if (!established_) return "handshaking";
  return std::string(SSL_get_version(ssl_.get())) + " " + SSL_get_cipher_name(ssl_.get());
}

}  // namespace fedgw::tls
