// Requests and responses for the proxy-layer tests, built as a UC server or a
// partner would send them.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "gateway/sip/message.h"

namespace fedgw::proxy::testing {

inline sip::Message parse(const std::string& text) {
  auto m = sip::parse_message(text);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message) << "\n" << text;
  return m.ok() ? std::move(*m) : sip::Message();
}

struct request_text {
  std::string method = "MESSAGE";
  std::string uri = "sip:bob@b.test";
  std::string from = "<sip:alice@a.test>;tag=ft1";
  std::string to = "<sip:bob@b.test>";
  std::string call_id = "call-1@a.test";
  std::string vias = "Via: SIP/2.0/TCP 10.0.0.5:5060;branch=z9hG4bK-uac1\r\n";
  std::string extra;  // more header lines, each ending in CRLF

  std::string str() const {
    return method + " " + uri + " SIP/2.0\r\n" + vias + "Max-Forwards: 70\r\nFrom: " + from + "\r\nTo: " + to +
           "\r\nCall-ID: " + call_id + "\r\nCSeq: 1 " + method + "\r\n" + extra + "Content-Length: 0\r\n\r\n";
  }
  sip::Message message() const { return parse(str()); }
};

// A response to `forwarded` (a request with the gateway's Via on top and the origin's below).
inline sip::Message response_to(const sip::Message& forwarded, int code, const std::string& to_tag = "tt1") {
  std::string text = "SIP/2.0 " + std::to_string(code) + " Whatever\r\n";
  for (auto v : forwarded.get_all("Via")) text += "Via: " + std::string(v) + "\r\n";
  text += "From: " + std::string(forwarded.get("From").value_or("")) + "\r\n";
  std::string to(forwarded.get("To").value_or(""));
  if (code > 100 && to.find(";tag=") == std::string::npos) to += ";tag=" + to_tag;
  text += "To: " + to + "\r\nCall-ID: " + std::string(forwarded.call_id()) + "\r\nCSeq: " +
          std::to_string(forwarded.cseq().number) + " " + std::string(forwarded.cseq().method) +
          "\r\nContent-Length: 0\r\n\r\n";
  return parse(text);
}

}  // namespace fedgw::proxy::testing
