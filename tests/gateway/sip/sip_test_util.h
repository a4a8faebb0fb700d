// Shared helpers for the SIP codec tests.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gateway/sip/framer.h"
#include "gateway/sip/message.h"

namespace fedgw::sip::test {

// Builds a request with CRLF line ends from lines joined by "\r\n"; the body
// gets a correct Content-Length unless `content_length` is given.
inline std::string make_request(std::vector<std::string> headers, std::string body = "",
                                std::string start = "MESSAGE sip:bob@example.org SIP/2.0",
                                bool add_content_length = true) {
  std::string m = start + "\r\n";
  for (auto& h : headers) m += h + "\r\n";
  if (add_content_length) m += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  m += "\r\n" + body;
  return m;
}

inline std::vector<std::string> base_headers(std::string method = "MESSAGE") {
  return {"Via: SIP/2.0/TLS a.example.com:5061;branch=z9hG4bK1",
          "Max-Forwards: 70",
          "From: \"Alice\" <sip:alice@example.com>;tag=1928",
          "To: <sip:bob@example.org>",
          "Call-ID: abc123@a.example.com",
          "CSeq: 1 " + method};
}

inline std::string simple_request(std::string body = "hello") {
  return make_request(base_headers(), body);
}

// Records framer events as text, for comparisons.
struct Recorder : StreamFramer::Callbacks {
  std::vector<std::string> events;
  std::vector<Message> messages;
  std::vector<Error> errors;
  void on_message(Message&& m) override {
    events.push_back("msg:" + std::string(m.raw()));
    messages.push_back(std::move(m));
  }
  void on_message_error(const Error& e, std::string_view raw) override {
    events.push_back("bad:" + e.reason + ":" + std::string(raw));
    errors.push_back(e);
  }
  void on_ping() override { events.push_back("ping"); }
  void on_pong() override { events.push_back("pong"); }
  void on_stream_error(const Error& e) override {
    events.push_back("close:" + std::string(error_kind_name(e.kind)));
    errors.push_back(e);
  }
};

}  // namespace fedgw::sip::test
