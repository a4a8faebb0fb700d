// Internal character classes and small lexical helpers for the SIP codec
// (RFC 3261 §25). Not part of the public API; shared by the codec sources.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fedgw::sip::detail {

enum CharClass : uint16_t {
  kAlnum = 1 << 0,
  kToken = 1 << 1,         // token chars
  kUnreserved = 1 << 2,    // alphanum / mark
  kUserExtra = 1 << 3,     // user-unreserved
  kPasswordExtra = 1 << 4, // "&" / "=" / "+" / "$" / ","
  kParamExtra = 1 << 5,    // param-unreserved
  kHnvExtra = 1 << 6,      // hnv-unreserved
  kWord = 1 << 7,          // word (Call-ID)
  kHex = 1 << 8,
  kDigit = 1 << 9,
  kHostChar = 1 << 10,     // alphanum / "-" / "."
  kSchemeChar = 1 << 11,   // ALPHA / DIGIT / "+" / "-" / "."
};

constexpr std::array<uint16_t, 256> make_char_table() {
  std::array<uint16_t, 256> t{};
  auto add = [&t](const char* s, uint16_t bits) {
    for (; *s; ++s) t[static_cast<unsigned char>(*s)] |= bits;
  };
  for (int c = 0; c < 256; ++c) {
    bool digit = c >= '0' && c <= '9';
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    uint16_t v = 0;
    if (digit) v |= kDigit | kHex;
    if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) v |= kHex;
    if (digit || alpha)
      v |= kAlnum | kToken | kUnreserved | kWord | kHostChar | kSchemeChar;
    t[c] = v;
  }
  add("-.!%*_+`'~", kToken);
  add("-_.!~*'()", kUnreserved);
  add("&=+$,;?/", kUserExtra);
  add("&=+$,", kPasswordExtra);
  add("[]/:&+$", kParamExtra);
  add("[]/?:+$", kHnvExtra);
  add("-.!%*_+`'~()<>:\\\"/[]?{}", kWord);
  add("-.", kHostChar);
  add("+-.", kSchemeChar);
  return t;
}

inline constexpr std::array<uint16_t, 256> kCharTable = make_char_table();

// Per-HeaderId flags (indexed by the id's value; defined in headers.cc) so
// the parser's hot path needs no call for is_list_header() and
// is_single_instance().
inline constexpr uint8_t kHeaderFlagList = 1, kHeaderFlagSingle = 2;
extern const std::array<uint8_t, 256> kHeaderFlags;
inline bool header_is_list(uint8_t id) { return (kHeaderFlags[id] & kHeaderFlagList) != 0; }
inline bool header_is_single(uint8_t id) { return (kHeaderFlags[id] & kHeaderFlagSingle) != 0; }

constexpr bool is(char c, uint16_t cls) {
  return (kCharTable[static_cast<unsigned char>(c)] & cls) != 0;
}
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_ws(char c) { return c == ' ' || c == '\t'; }
constexpr char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  for (size_t i = 0, n = a.size(); i < n; ++i) {
    char x = p[i], y = q[i];
    if (x != y && lower(x) != lower(y)) return false;  // equal bytes: the common case
  }
  return true;
}

inline bool all_of(std::string_view s, uint16_t cls) {
  for (char c : s)
    if (!is(c, cls)) return false;
  return true;
}

inline bool is_token(std::string_view s) {
  return !s.empty() && all_of(s, kToken);
}

inline std::string_view trim_ws(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Every char is in `cls` or starts a valid %HEX escape.
inline bool valid_escaped(std::string_view s, uint16_t cls) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return false;
      if (hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0) return false;
      i += 2;
      continue;
    }
    if (!is(c, cls)) return false;
  }
  return true;
}

// Parses an unsigned decimal of at most `max_digits` digits; the whole string
// must be digits. Returns -1 on error.
inline int64_t parse_uint(std::string_view s, size_t max_digits = 18) {
  if (s.empty() || s.size() > max_digits) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace fedgw::sip::detail
