// TLS 1.3 record protection (RFC 8446 §5, §4.6.3) for a session whose handshake OpenSSL has done and
// verified. An established connection then needs only its traffic secrets, keys and sequence numbers
// (a few hundred bytes) instead of OpenSSL's SSL object (≈ 25 KiB with a client certificate chain): most
// partner connections are idle, and this is what makes 10,000 of them cheap. The crypto is OpenSSL's
// (EVP AEAD, HKDF); this is only the framing, the nonce and the post-handshake messages.
// Plain and synchronous: no socket, no actor; fuzzed alone (tests/gateway/tls/record_layer_fuzz.cc).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace fedgw::tls {

enum class content_type : uint8_t { change_cipher_spec = 20, alert = 21, handshake = 22, application_data = 23 };

class record_layer {
public:
  // The largest plaintext of one record, and of one protected record on the wire (RFC 8446 §5.1, §5.2).
  static constexpr size_t max_plaintext = 16384;
  static constexpr size_t max_ciphertext = max_plaintext + 256;
  // A KeyUpdate of the write keys after this many records: well below AES-GCM's limit of 2^24.5 full
  // records per key (RFC 8446 §5.5).
  static constexpr uint64_t key_update_after = uint64_t{1} << 23;

  struct result {
    bool failed = false;  // the session is dead; `error` says why (a fatal alert went to the peer when we found it)
    std::string error;
    bool peer_closed = false;  // close_notify received
  };

  // `suite`: the negotiated TLS 1.3 cipher suite (0x1301 AES-128-GCM-SHA256, 0x1302 AES-256-GCM-SHA384,
  // 0x1303 CHACHA20-POLY1305-SHA256); the secrets: client/server_application_traffic_secret_0, ours to
  // write and the peer's to read. nullptr for another suite or a secret of the wrong length.
  static std::unique_ptr<record_layer> create(uint16_t suite, bool is_client, std::string_view read_secret,
                                              std::string_view write_secret);
  ~record_layer();
  record_layer(const record_layer&) = delete;
  record_layer& operator=(const record_layer&) = delete;

  // Protected records from the socket, in any chunking: application data is appended to `plain`; a
  // KeyUpdate that asks for ours appends it to `to_socket`; close_notify sets peer_closed (later bytes
  // are ignored). Anything else that TLS 1.3 forbids here fails with the matching alert.
  result open(std::string_view ciphertext, std::string& plain, std::string& to_socket);
  // Application data into records of at most max_plaintext bytes.
  result seal(std::string_view plain, std::string& to_socket);
  // One record of `type` (at most max_plaintext bytes); for alerts, KeyUpdate, and the fuzz target.
  void seal_record(content_type type, std::string_view payload, std::string& to_socket);
  void close_notify(std::string& to_socket);
  // Sends a KeyUpdate and moves to the next write keys; `request_peer`: asks the peer to do the same.
  void update_write_keys(bool request_peer, std::string& to_socket);

  // Frees the cipher contexts (made again on the next record) and the capacity of empty buffers.
  void release();
  // Heap bytes held by the buffers (a short string's own bytes do not count).
  size_t buffer_capacity() const;

  bool failed() const { return failed_; }
  uint64_t records_read() const { return read_.seq + read_.seq_before_updates; }
  uint64_t records_written() const { return write_.seq + write_.seq_before_updates; }
  unsigned tickets_ignored() const { return tickets_ignored_; }
  unsigned key_updates_read() const { return key_updates_read_; }

private:
  struct direction {
    std::array<unsigned char, 48> secret{};
    std::array<unsigned char, 32> key{};
    std::array<unsigned char, 12> iv{};
    uint64_t seq = 0;
    uint64_t seq_before_updates = 0;  // records under earlier keys, for the counters only
    EVP_CIPHER_CTX* ctx = nullptr;    // keyed; nullptr while released
  };

  record_layer(uint16_t suite, bool is_client);
  bool set_secret(direction& d, const unsigned char* secret);
  bool next_generation(direction& d);
  EVP_CIPHER_CTX* context(direction& d, bool encrypt);
  void nonce(const direction& d, unsigned char out[12]) const;
  // One complete record at `record` (header included); false when the session failed.
  bool open_record(const unsigned char* record, size_t length, std::string& plain, std::string& to_socket,
                   result& r);
  bool on_handshake(std::string_view bytes, std::string& to_socket, result& r);
  bool on_alert(std::string_view bytes, std::string& to_socket, result& r);
  bool fail(uint8_t alert, std::string why, std::string& to_socket, result& r);

  const EVP_CIPHER* cipher_ = nullptr;
  const EVP_MD* digest_ = nullptr;
  size_t secret_length_ = 0;
  size_t key_length_ = 0;
  bool is_client_ = false;
  bool failed_ = false;
  bool closed_ = false;  // close_notify received
  direction read_, write_;
  std::string partial_;    // an incomplete record from the socket (at most one)
  std::string handshake_;  // an incomplete post-handshake message
  unsigned tickets_ignored_ = 0;
  unsigned key_updates_read_ = 0;
};

}  // namespace fedgw::tls
