#include "gateway/tls/record_layer.h"

#include <algorithm>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>

namespace fedgw::tls {

namespace {

constexpr size_t tag_length = 16;
constexpr size_t header_length = 5;
constexpr size_t max_handshake_message = 65536;  // a NewSessionTicket is far smaller

// Alert descriptions (RFC 8446 §6).
constexpr uint8_t alert_close_notify = 0;
constexpr uint8_t alert_unexpected_message = 10;
constexpr uint8_t alert_bad_record_mac = 20;
constexpr uint8_t alert_record_overflow = 22;
constexpr uint8_t alert_illegal_parameter = 47;
constexpr uint8_t alert_decode_error = 50;
constexpr uint8_t alert_internal_error = 80;
constexpr uint8_t alert_user_canceled = 90;

// Handshake message types after the handshake (RFC 8446 §4).
constexpr uint8_t new_session_ticket = 4;
constexpr uint8_t key_update = 24;

// The AEAD of a TLS 1.3 suite, fetched once per process (fetched objects are thread-safe to share).
const EVP_CIPHER* cipher_of(uint16_t suite) {
  static EVP_CIPHER* aes128 = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  static EVP_CIPHER* aes256 = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  static EVP_CIPHER* chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  switch (suite) {
    case 0x1301: return aes128;
    case 0x1302: return aes256;
    case 0x1303: return chacha;
    default: return nullptr;
  }
}

EVP_KDF* hkdf() {
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr);
  return kdf;
}

// HKDF-Expand-Label(secret, label, "", length) (RFC 8446 §7.1).
bool expand_label(const EVP_MD* digest, const unsigned char* secret, size_t secret_length, std::string_view label,
                  unsigned char* out, size_t length) {
  std::string info;
  info.push_back(static_cast<char>(length >> 8));
  info.push_back(static_cast<char>(length & 0xff));
  info.push_back(static_cast<char>(6 + label.size()));
  info += "tls13 ";
  info += label;
  info.push_back(0);  // empty context
  EVP_KDF_CTX* ctx = hkdf() ? EVP_KDF_CTX_new(hkdf()) : nullptr;
  if (!ctx) return false;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  char* digest_name = const_cast<char*>(EVP_MD_get0_name(digest));
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(secret), secret_length),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_end(),
  };
  bool ok = EVP_KDF_derive(ctx, out, length, params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

// RFC 8446 §6 names, worded as OpenSSL's reasons ("tlsv13 alert certificate required"), which the logs and
// the metrics' handshake reasons already know. OpenSSL 3.0's SSL_alert_desc_string_long() lacks the TLS 1.3 ones.
std::string alert_name(uint8_t description) {
  switch (description) {
    case 10: return "unexpected message";
    case 20: return "bad record mac";
    case 22: return "record overflow";
    case 40: return "handshake failure";
    case 42: return "bad certificate";
    case 43: return "unsupported certificate";
    case 44: return "certificate revoked";
    case 45: return "certificate expired";
    case 46: return "certificate unknown";
    case 47: return "illegal parameter";
    case 48: return "unknown ca";
    case 49: return "access denied";
    case 50: return "decode error";
    case 51: return "decrypt error";
    case 70: return "protocol version";
    case 71: return "insufficient security";
    case 80: return "internal error";
    case 86: return "inappropriate fallback";
    case 109: return "missing extension";
    case 110: return "unsupported extension";
    case 112: return "unrecognized name";
    case 113: return "bad certificate status response";
    case 115: return "unknown psk identity";
    case 116: return "certificate required";
    case 120: return "no application protocol";
    default: return "number " + std::to_string(description);
  }
}

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

record_layer::record_layer(uint16_t suite, bool is_client) : cipher_(cipher_of(suite)), is_client_(is_client) {
  if (!cipher_) return;
  digest_ = suite == 0x1302 ? EVP_sha384() : EVP_sha256();
  secret_length_ = static_cast<size_t>(EVP_MD_get_size(digest_));
  key_length_ = static_cast<size_t>(EVP_CIPHER_get_key_length(cipher_));
}

std::unique_ptr<record_layer> record_layer::create(uint16_t suite, bool is_client, std::string_view read_secret,
                                                   std::string_view write_secret) {
  std::unique_ptr<record_layer> layer(new record_layer(suite, is_client));
  if (!layer->cipher_ || !layer->digest_ || read_secret.size() != layer->secret_length_ ||
      write_secret.size() != layer->secret_length_)
    return nullptr;
  if (!layer->set_secret(layer->read_, bytes(read_secret)) || !layer->set_secret(layer->write_, bytes(write_secret)))
    return nullptr;
  return layer;
}

record_layer::~record_layer() {
  for (direction* d : {&read_, &write_}) {
    EVP_CIPHER_CTX_free(d->ctx);
    OPENSSL_cleanse(d->secret.data(), d->secret.size());
    OPENSSL_cleanse(d->key.data(), d->key.size());
    OPENSSL_cleanse(d->iv.data(), d->iv.size());
  }
}

bool record_layer::set_secret(direction& d, const unsigned char* secret) {
  std::memmove(d.secret.data(), secret, secret_length_);
  EVP_CIPHER_CTX_free(d.ctx);
  d.ctx = nullptr;
  d.seq_before_updates += d.seq;
  d.seq = 0;
  return expand_label(digest_, d.secret.data(), secret_length_, "key", d.key.data(), key_length_) &&
         expand_label(digest_, d.secret.data(), secret_length_, "iv", d.iv.data(), d.iv.size());
}

// application_traffic_secret_N+1 = HKDF-Expand-Label(application_traffic_secret_N, "traffic upd", "", Hash.length)
bool record_layer::next_generation(direction& d) {
  std::array<unsigned char, 48> next{};
  bool ok = expand_label(digest_, d.secret.data(), secret_length_, "traffic upd", next.data(), secret_length_) &&
            set_secret(d, next.data());
  OPENSSL_cleanse(next.data(), next.size());
  return ok;
}

EVP_CIPHER_CTX* record_layer::context(direction& d, bool encrypt) {
  if (d.ctx) return d.ctx;
  d.ctx = EVP_CIPHER_CTX_new();
  if (d.ctx && EVP_CipherInit_ex2(d.ctx, cipher_, d.key.data(), nullptr, encrypt ? 1 : 0, nullptr) != 1) {
    EVP_CIPHER_CTX_free(d.ctx);
    d.ctx = nullptr;
  }
  return d.ctx;
}

// The per-record nonce: the IV XOR the 64-bit sequence number, left-padded (RFC 8446 §5.3).
void record_layer::nonce(const direction& d, unsigned char out[12]) const {
  std::memcpy(out, d.iv.data(), 12);
  for (int i = 0; i < 8; ++i) out[11 - i] ^= static_cast<unsigned char>(d.seq >> (8 * i));
}

void record_layer::seal_record(content_type type, std::string_view payload, std::string& to_socket) {
  if (failed_) return;
  const size_t n = std::min(payload.size(), max_plaintext);
  const size_t length = n + 1 + tag_length;
  const size_t at = to_socket.size();
  to_socket.resize(at + header_length + length);
  auto* out = reinterpret_cast<unsigned char*>(to_socket.data()) + at;
  out[0] = static_cast<unsigned char>(content_type::application_data);  // the outer type is always this
  out[1] = 0x03;
  out[2] = 0x03;
  out[3] = static_cast<unsigned char>(length >> 8);
  out[4] = static_cast<unsigned char>(length & 0xff);
  unsigned char iv[12];
  nonce(write_, iv);
  const unsigned char inner_type = static_cast<unsigned char>(type);
  EVP_CIPHER_CTX* ctx = context(write_, true);
  int l = 0;
  bool ok = ctx && EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv, 1, nullptr) == 1 &&
            EVP_EncryptUpdate(ctx, nullptr, &l, out, header_length) == 1 &&
            EVP_EncryptUpdate(ctx, out + header_length, &l, bytes(payload), static_cast<int>(n)) == 1 &&
            EVP_EncryptUpdate(ctx, out + header_length + n, &l, &inner_type, 1) == 1 &&
            EVP_EncryptFinal_ex(ctx, out + header_length + n + 1, &l) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, tag_length, out + header_length + n + 1) == 1;
  if (!ok) {
    to_socket.resize(at);
    failed_ = true;
    return;
  }
  ++write_.seq;
}

record_layer::result record_layer::seal(std::string_view plain, std::string& to_socket) {
  result r;
  while (!plain.empty() && !failed_) {
    if (write_.seq >= key_update_after) update_write_keys(false, to_socket);
    const size_t n = std::min(plain.size(), max_plaintext);
    seal_record(content_type::application_data, plain.substr(0, n), to_socket);
    plain.remove_prefix(n);
  }
  if (failed_) {
    r.failed = true;
    r.error = "TLS record layer: cannot encrypt";
  }
  return r;
}

void record_layer::close_notify(std::string& to_socket) {
  const char alert[2] = {1, static_cast<char>(alert_close_notify)};
  seal_record(content_type::alert, std::string_view(alert, 2), to_socket);
}

void record_layer::update_write_keys(bool request_peer, std::string& to_socket) {
  const char message[5] = {static_cast<char>(key_update), 0, 0, 1, request_peer ? char(1) : char(0)};
  seal_record(content_type::handshake, std::string_view(message, 5), to_socket);
  if (!failed_ && !next_generation(write_)) failed_ = true;
}

void record_layer::release() {
  for (direction* d : {&read_, &write_}) {
    EVP_CIPHER_CTX_free(d->ctx);
    d->ctx = nullptr;
  }
  if (partial_.empty()) std::string().swap(partial_);
  if (handshake_.empty()) std::string().swap(handshake_);
}

size_t record_layer::buffer_capacity() const {
  auto heap = [](const std::string& s) { return s.capacity() > std::string().capacity() ? s.capacity() : 0; };
  return heap(partial_) + heap(handshake_);
}

bool record_layer::fail(uint8_t alert, std::string why, std::string& to_socket, result& r) {
  if (!failed_) {
    const char fatal[2] = {2, static_cast<char>(alert)};
    seal_record(content_type::alert, std::string_view(fatal, 2), to_socket);
  }
  failed_ = true;
  r.failed = true;
  r.error = "TLS record layer: " + why;
  return false;
}

record_layer::result record_layer::open(std::string_view in, std::string& plain, std::string& to_socket) {
  result r;
  if (failed_) {
    r.failed = true;
    r.error = "TLS session already failed";
    return r;
  }
  // A record header is checked as soon as it is complete, so that no more than one record is ever buffered.
  auto header_ok = [&](const unsigned char* h) {
    if (h[0] != static_cast<unsigned char>(content_type::application_data))
      return fail(alert_unexpected_message,
                  "a record of type " + std::to_string(h[0]) + " after the handshake (TLS 1.3 protects every record)",
                  to_socket, r);
    const size_t length = (size_t{h[3]} << 8) | h[4];
    if (length > max_ciphertext)
      return fail(alert_record_overflow, "a record of " + std::to_string(length) + " bytes (at most " +
                                             std::to_string(max_ciphertext) + ")",
                  to_socket, r);
    if (length < tag_length + 1)
      return fail(alert_decode_error, "a record of " + std::to_string(length) + " bytes, too short", to_socket, r);
    return true;
  };
  auto length_of = [](const unsigned char* h) { return header_length + ((size_t{h[3]} << 8) | h[4]); };

  while (!closed_ && !failed_ && !in.empty()) {
    if (!partial_.empty() || in.size() < header_length) {
      // Completing a record split across reads.
      if (partial_.size() < header_length) {
        const size_t take = std::min(header_length - partial_.size(), in.size());
        partial_.append(in.substr(0, take));
        in.remove_prefix(take);
        if (partial_.size() < header_length) break;
        if (!header_ok(bytes(partial_))) break;
      }
      const size_t total = length_of(bytes(partial_));
      const size_t take = std::min(total - partial_.size(), in.size());
      partial_.append(in.substr(0, take));
      in.remove_prefix(take);
      if (partial_.size() < total) break;
      std::string record;
      record.swap(partial_);
      open_record(bytes(record), record.size(), plain, to_socket, r);
      continue;
    }
    if (!header_ok(bytes(in))) break;
    const size_t total = length_of(bytes(in));
    if (in.size() < total) {
      partial_.reserve(total);
      partial_.assign(in);
      break;
    }
    open_record(bytes(in), total, plain, to_socket, r);
    in.remove_prefix(total);
  }
  if (closed_) r.peer_closed = true;
  return r;
}

bool record_layer::open_record(const unsigned char* record, size_t length, std::string& plain,
                               std::string& to_socket, result& r) {
  const size_t body = length - header_length - tag_length;
  if (body > max_plaintext + 1)
    return fail(alert_record_overflow, "a record with " + std::to_string(body) + " bytes of plaintext", to_socket, r);
  // Decrypted straight into `plain` (the common case is application data); taken out again otherwise.
  const size_t at = plain.size();
  plain.resize(at + body);
  auto* out = reinterpret_cast<unsigned char*>(plain.data()) + at;
  unsigned char iv[12];
  nonce(read_, iv);
  EVP_CIPHER_CTX* ctx = context(read_, false);
  int l = 0;
  bool ok =
      ctx && EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv, 0, nullptr) == 1 &&
      EVP_DecryptUpdate(ctx, nullptr, &l, record, header_length) == 1 &&
      EVP_DecryptUpdate(ctx, out, &l, record + header_length, static_cast<int>(body)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tag_length, const_cast<unsigned char*>(record + header_length + body)) ==
          1 &&
      EVP_DecryptFinal_ex(ctx, out + l, &l) == 1;
  if (!ok) {
    plain.resize(at);
    return fail(alert_bad_record_mac, "a record failed authentication (bad record MAC)", to_socket, r);
  }
  ++read_.seq;
  // TLSInnerPlaintext: content, its type, zero padding.
  size_t n = body;
  while (n > 0 && out[n - 1] == 0) --n;
  if (n == 0) {
    plain.resize(at);
    return fail(alert_unexpected_message, "a record without a content type", to_socket, r);
  }
  const uint8_t type = out[--n];
  if (type == static_cast<uint8_t>(content_type::application_data)) {
    plain.resize(at + n);
    if (!handshake_.empty())
      return fail(alert_unexpected_message, "application data inside a handshake message", to_socket, r);
    return true;
  }
  std::string payload(reinterpret_cast<const char*>(out), n);
  plain.resize(at);
  if (type == static_cast<uint8_t>(content_type::handshake)) return on_handshake(payload, to_socket, r);
  if (!handshake_.empty())
    return fail(alert_unexpected_message, "a record of type " + std::to_string(type) + " inside a handshake message",
                to_socket, r);
  if (type == static_cast<uint8_t>(content_type::alert)) return on_alert(payload, to_socket, r);
  return fail(alert_unexpected_message, "a protected record of type " + std::to_string(type), to_socket, r);
}

bool record_layer::on_alert(std::string_view alert, std::string& to_socket, result& r) {
  if (alert.size() != 2) return fail(alert_decode_error, "an alert of " + std::to_string(alert.size()) + " bytes", to_socket, r);
  const auto description = static_cast<uint8_t>(alert[1]);
  if (description == alert_close_notify) {
    closed_ = true;
    return true;
  }
  if (description == alert_user_canceled) return true;  // a warning; close_notify follows
  // Every other alert is fatal in TLS 1.3 (§6.2); nothing is sent back.
  failed_ = true;
  r.failed = true;
  r.error = "TLS alert from the peer: " + alert_name(description);
  return false;
}

bool record_layer::on_handshake(std::string_view bytes_in, std::string& to_socket, result& r) {
  if (bytes_in.empty()) return fail(alert_unexpected_message, "an empty handshake record", to_socket, r);
  handshake_.append(bytes_in);
  while (handshake_.size() >= 4) {
    const auto* h = bytes(handshake_);
    const size_t length = (size_t{h[1]} << 16) | (size_t{h[2]} << 8) | h[3];
    if (length > max_handshake_message)
      return fail(alert_unexpected_message, "a post-handshake message of " + std::to_string(length) + " bytes",
                  to_socket, r);
    if (handshake_.size() < 4 + length) break;
    const uint8_t type = h[0];
    if (type == new_session_ticket && is_client_) {
      // No resumption here: every connection is a full, verified handshake.
      ++tickets_ignored_;
      handshake_.erase(0, 4 + length);
      continue;
    }
    if (type != key_update)
      return fail(alert_unexpected_message, "a post-handshake message of type " + std::to_string(type), to_socket,
                  r);
    if (length != 1) return fail(alert_decode_error, "a KeyUpdate of " + std::to_string(length) + " bytes", to_socket, r);
    const uint8_t request = h[4];
    if (request > 1) return fail(alert_illegal_parameter, "a KeyUpdate with request_update " + std::to_string(request), to_socket, r);
    handshake_.erase(0, 5);
    // The new keys start with the next record: nothing may follow in this one (§5.1).
    if (!handshake_.empty())
      return fail(alert_unexpected_message, "a KeyUpdate not at the end of its record", to_socket, r);
    if (!next_generation(read_)) return fail(alert_internal_error, "cannot derive the next read keys", to_socket, r);
    ++key_updates_read_;
    if (request == 1) update_write_keys(false, to_socket);
  }
  return true;
}

}  // namespace fedgw::tls
