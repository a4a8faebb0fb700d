// Helpers for gateway-generated responses and the request checks of a proxy
// (RFC 3261 §16.3): Max-Forwards (483), Proxy-Require/Require (420).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/sip/error.h"
#include "gateway/sip/message.h"

namespace fedgw::sip {

// Random token suitable for a To/From tag (16 hex digits).
std::string generate_tag();

// Builds a response to `request` (RFC 3261 §8.2.6): status line
// "SIP/2.0 <code> <reason>", every Via line copied verbatim and in order,
// From, To (";tag=" added when the request's To has none and code > 100:
// `to_tag`, or a generated one when empty), Call-ID, CSeq, and
// "Content-Length: 0". Add more headers with Message::add_header().
Result<Message> make_response(const Message& request, int code, std::string_view reason,
                              std::string_view to_tag = {});

// make_response() with error.status and error.reason (e.g. 400 "Malformed Via
// header", 416, 505, 483). Fails for errors that have no status (0).
Result<Message> make_error_response(const Message& request, const Error& error,
                                    std::string_view to_tag = {});

// RFC 3261 §16.3 step 3: Error kTooManyHops (483 Too Many Hops) when the
// request's Max-Forwards is 0; ok otherwise (also when absent).
Status check_max_forwards(const Message& request);

// Option tags listed in `which` (Require or Proxy-Require) that are not in
// `supported` (compared case-insensitively), in order, without duplicates.
std::vector<std::string> unsupported_option_tags(const Message& request, HeaderId which,
                                                 const std::vector<std::string_view>& supported);

// RFC 3261 §16.3 step 5 / §8.2.2.3: Error kBadExtension (420 Bad Extension)
// naming the unsupported tags of `which` (Proxy-Require for a proxy).
Status check_option_tags(const Message& request, HeaderId which,
                         const std::vector<std::string_view>& supported);

// 420 Bad Extension response with "Unsupported: a, b" listing the request's
// option tags (from `which`) missing from `supported`.
Result<Message> make_bad_extension_response(const Message& request, HeaderId which,
                                            const std::vector<std::string_view>& supported,
                                            std::string_view to_tag = {});

}  // namespace fedgw::sip
