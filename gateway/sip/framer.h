// Stream framer for SIP over TCP/TLS (RFC 3261 §18.3, RFC 5626 §3.5.1).
// Bytes arrive in arbitrary chunks; feed() delivers every complete message,
// keep-alive and error synchronously through Callbacks. It buffers at most one
// partial message, bounded by Limits (header section + body).
//
//   struct Conn : fedgw::sip::StreamFramer::Callbacks {
//     void on_message(Message&& m) override { ... }
//     void on_message_error(const Error& e, std::string_view raw) override {
//       // well framed but invalid: reply e.status/e.reason if it was a
//       // request; the stream continues
//     }
//     void on_ping() override { send(StreamFramer::kPong); }
//     void on_pong() override { ... }
//     void on_stream_error(const Error& e) override { close(); }
//   };
//   StreamFramer framer;            // ParseOptions{}.stream forced to true
//   if (!framer.feed(bytes, conn)) close();
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "gateway/sip/error.h"
#include "gateway/sip/message.h"

namespace fedgw::sip {

class StreamFramer {
 public:
  static constexpr std::string_view kPing = "\r\n\r\n";
  static constexpr std::string_view kPong = "\r\n";

  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    // A complete, valid message.
    virtual void on_message(Message&& message) = 0;
    // A complete message (correctly framed by Content-Length) that failed
    // validation. `error.close_connection` is false: the stream goes on.
    // `raw` holds the message's bytes (valid during the call only).
    virtual void on_message_error(const Error& error, std::string_view raw) = 0;
    // RFC 5626 double-CRLF ping; answer with kPong.
    virtual void on_ping() {}
    // RFC 5626 single-CRLF pong.
    virtual void on_pong() {}
    // Unrecoverable framing error (error.close_connection == true). No
    // further events are delivered; close the connection.
    virtual void on_stream_error(const Error& error) = 0;
  };

  explicit StreamFramer(ParseOptions options = {});

  // Consumes all of `data`. Returns false once the stream is dead (after
  // on_stream_error, now or earlier).
  bool feed(std::string_view data, Callbacks& callbacks);

  bool closed() const { return state_ == State::kClosed; }
  // Bytes of the current partial message held in memory.
  size_t buffered_bytes() const { return buf_.size(); }
  // True while a lone CRLF waits for the next byte (ping or pong?).
  bool keepalive_pending() const { return state_ == State::kCRLF; }
  // A lone CRLF can only be told from the first half of a ping by the next
  // byte. While we await a pong for our own ping, report a CRLF that ends
  // the input as a pong at once instead of waiting.
  void set_awaiting_pong(bool on) { awaiting_pong_ = on; }
  const ParseOptions& options() const { return options_; }
  // After on_stream_error caused by a complete but unacceptable header section
  // (body too large, bad Content-Length, ...): that header section, so the
  // owner can answer the request before closing. Empty otherwise.
  std::string_view failed_head() const { return failed_head_; }

 private:
  enum class State { kIdle, kCR, kCRLF, kCRLFCR, kHead, kBody, kClosed };

  void fail(Callbacks& cb, Error error);
  // Head complete in `head` (bytes [0, head_len)); prepares pending_.
  bool start_message(std::string_view head, Callbacks& cb);
  void finish(Callbacks& cb);

  ParseOptions options_;
  State state_ = State::kIdle;
  bool awaiting_pong_ = false;
  std::string buf_;       // partial message
  std::string failed_head_;
  size_t head_len_ = 0;   // once the head is complete
  size_t total_len_ = 0;  // head + body
  Message pending_;
};

}  // namespace fedgw::sip
