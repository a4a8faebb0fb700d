// Header value grammars: name-addr / addr-spec (From, To, Contact, Route,
// Record-Route, Refer-To, ...), Via, CSeq, Max-Forwards, Content-Length.
// Results hold string_views into the parsed text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/sip/error.h"
#include "gateway/sip/uri.h"

namespace fedgw::sip {

// `"Display \"Name\"" <sip:...>;params` or `sip:...;params` (addr-spec form:
// params after the URI belong to the header, RFC 3261 §20).
struct NameAddr {
  std::string_view display_name;  // raw; a quoted-string keeps its quotes
  bool angle_brackets = false;    // name-addr form
  bool star = false;              // Contact: *
  std::string_view uri_text;
  Uri uri;
  ParamList params;  // header params

  std::string display_name_decoded() const { return unquote(display_name); }
  std::optional<std::string_view> tag() const { return params.get("tag"); }
  std::optional<std::string_view> param(std::string_view n) const { return params.get(n); }
};

// `header` names the header in error messages. `allow_star` accepts a bare
// "*" (Contact).
Result<NameAddr> parse_name_addr(std::string_view value, std::string_view header = "",
                                 bool allow_star = false);

struct Via {
  std::string_view protocol_name;     // "SIP"
  std::string_view protocol_version;  // "2.0"
  std::string_view transport;         // "UDP", "TCP", "TLS", "WS", any token
  std::string_view host;              // IPv6 references keep brackets
  HostType host_type = HostType::kNone;
  uint16_t port = 0;  // 0 when absent
  ParamList params;

  std::optional<std::string_view> branch() const { return params.get("branch"); }
  std::optional<std::string_view> received() const { return params.get("received"); }
  std::optional<std::string_view> maddr() const { return params.get("maddr"); }
  bool has_rport() const { return params.has("rport"); }
  // rport value when one is given ("rport=5060"); nullopt when valueless/absent.
  std::optional<uint16_t> rport() const;
  bool alias() const { return params.has("alias"); }
  std::optional<int> ttl() const;
};

Result<Via> parse_via(std::string_view value);

namespace detail {
// parse_via() that also sets *has_branch (when not null) if a "branch"
// param is present, i.e. when the result's branch() has a value.
Result<Via> parse_via_branch(std::string_view value, bool* has_branch);
}  // namespace detail

struct CSeq {
  uint32_t number = 0;
  std::string_view method;
};
Result<CSeq> parse_cseq(std::string_view value);

// Validates `;name[=value]...` header params starting at text[pos] (which
// must be ';' or whitespace). On success returns the text after the first
// ';' (for ParamList).
std::optional<std::string_view> scan_header_params(std::string_view text);

// Length of a quoted-string starting at s[0] == '"' (including both quotes),
// or 0 when it is unterminated or holds an invalid char/escape.
size_t quoted_string_length(std::string_view s);

// True when `s` is a token (RFC 3261 §25.1).
bool is_token(std::string_view s);

}  // namespace fedgw::sip
