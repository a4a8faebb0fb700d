// URIs: sip:/sips: fully parsed (RFC 3261 §19.1, IPv6 references per
// RFC 5118), tel: (RFC 3966: number + params), any other scheme kept opaque.
// All string_views point into the text given to parse_uri(); they stay valid
// as long as that text does (for a Message: until its next edit).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/sip/error.h"

namespace fedgw::sip {

enum class Scheme : uint8_t { kSip, kSips, kTel, kOther };
enum class HostType : uint8_t { kNone, kHostname, kIPv4, kIPv6 };

// A validated ";name[=value]" list (URI params or header params). Names are
// matched case-insensitively; values are returned raw (a header param value
// may be a quoted string, quotes included; see unquote()).
class ParamList {
 public:
  struct Param {
    std::string_view name;
    std::string_view value;  // "" when valueless
    bool has_value = false;
  };
  ParamList() = default;
  // `raw` is the text after the first ';' ("lr;transport=tcp").
  explicit ParamList(std::string_view raw) : raw_(raw) {}

  std::string_view raw() const { return raw_; }
  bool empty() const { return raw_.empty(); }
  bool has(std::string_view name) const { return find(name).has_value(); }
  // Value of the first param called `name` ("" if valueless); nullopt if absent.
  std::optional<std::string_view> get(std::string_view name) const;
  std::optional<Param> find(std::string_view name) const;
  // Calls f(const Param&) for every param, in order.
  template <class F>
  void for_each(F&& f) const {
    std::string_view rest = raw_;
    Param p;
    while (next(rest, p)) f(static_cast<const Param&>(p));
  }
  size_t size() const;

 private:
  static bool next(std::string_view& rest, Param& out);
  std::string_view raw_;
};

struct Uri {
  Scheme scheme = Scheme::kOther;
  std::string_view raw;          // whole URI
  std::string_view scheme_text;  // as written ("sip", "SIPS", "urn", ...)
  // sip/sips: user part (raw, may hold %HEX). tel: the telephone number.
  std::string_view user;
  std::string_view password;
  bool has_password = false;
  std::string_view host;  // IPv6 references keep their brackets
  HostType host_type = HostType::kNone;
  uint16_t port = 0;  // 0 when absent
  ParamList params;   // uri-parameters (sip/sips/tel)
  std::string_view headers;  // after '?' (raw, "a=b&c=d")
  std::string_view opaque;   // everything after "scheme:" (all schemes)

  bool is_sip() const { return scheme == Scheme::kSip || scheme == Scheme::kSips; }
  bool has_port() const { return port != 0; }
  // Host without IPv6 brackets.
  std::string_view host_unbracketed() const;
  // Decoded user part (%HEX resolved).
  std::string user_decoded() const;
  std::optional<std::string_view> param(std::string_view name) const {
    return params.get(name);
  }
  std::optional<std::string> param_decoded(std::string_view name) const;
  bool lr() const { return params.has("lr"); }
  std::optional<std::string_view> transport() const { return params.get("transport"); }
  // Value of URI header `name` (raw); nullopt if absent.
  std::optional<std::string_view> header(std::string_view name) const;
};

// Parses a URI. Unknown schemes are valid and opaque.
Result<Uri> parse_uri(std::string_view text);

// Host syntax helpers. IPv6 without brackets.
bool is_valid_ipv4(std::string_view s);
bool is_valid_ipv6(std::string_view s);
bool is_valid_hostname(std::string_view s);
// hostname / IPv4 / "[" IPv6 "]"; kNone when invalid.
HostType classify_host(std::string_view s);

// %HEX decoding; nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view s);
// Removes quotes and backslash escapes of a quoted-string; returns the input
// unchanged when it is not quoted.
std::string unquote(std::string_view s);

}  // namespace fedgw::sip
