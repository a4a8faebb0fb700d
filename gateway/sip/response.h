// Helpers for gateway-generated responses and the request checks of a proxy
// (RFC 3261 §16.3): Max-Forwards (483), Proxy-Require/Require (420).
#pragma once

#include <initializer_list>
#include <optional>
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
//
// A final response must never be lost to its own text, so: control
// characters in `reason` (it embeds DNS and TLS texts) become spaces, and the
// reason is shortened (at a UTF-8 boundary) so that the status line and the
// head fit `limits` (pass the configured limits). The other lines come from a
// request that was accepted, and the result is re-parsed with limits widened
// to what was built, so only a bad code, tag or a non-request fails.
Result<Message> make_response(const Message& request, int code, std::string_view reason,
                              std::string_view to_tag = {}, const Limits& limits = {});

// The answer to a request whose head failed to parse (`raw`: its bytes as
// received, from the start line at least up to the blank line; a body after
// it is ignored): "SIP/2.0 <error.status> <phrase> - <what is wrong>", e.g.
// "400 Bad Request - missing To header" or "505 Version Not Supported -
// SIP version "SIP/7.0" is not supported", then every Via value (folded
// lines joined), the first From, To (with a tag added when it has none:
// `to_tag`, or a generated one), Call-ID and CSeq that exist, and
// "Content-Length: 0". Lines holding control characters are not copied.
// Returns nullopt where RFC 3261 / RFC 4475 ask for silence: the start line
// is not a request line (a response, garbage), the request is an ACK, the
// top Via is missing or unreadable, or `error` has no SIP status.
std::optional<std::string> make_response_to_malformed(std::string_view raw, const Error& error,
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
