#include "gateway/sip/uri.h"

#include <array>

#include "gateway/sip/syntax.h"

namespace fedgw::sip {

using namespace detail;

// ---------------------------------------------------------------- ParamList

bool ParamList::next(std::string_view& rest, Param& out) {
  // Skip separators and whitespace.
  size_t i = 0;
  while (i < rest.size() && (rest[i] == ';' || is_ws(rest[i]))) ++i;
  if (i >= rest.size()) {
    rest = {};
    return false;
  }
  // Find the end of this param: ';' outside a quoted string.
  size_t j = i;
  bool quoted = false;
  for (; j < rest.size(); ++j) {
    char c = rest[j];
    if (quoted) {
      if (c == '\\') { ++j; continue; }
      if (c == '"') quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ';') {
      break;
    }
  }
  if (j > rest.size()) j = rest.size();
  std::string_view item = rest.substr(i, j - i);
  rest = j < rest.size() ? rest.substr(j) : std::string_view();
  size_t eq = item.find('=');
  if (eq == std::string_view::npos) {
    out.name = trim_ws(item);
    out.value = {};
    out.has_value = false;
  } else {
    out.name = trim_ws(item.substr(0, eq));
    out.value = trim_ws(item.substr(eq + 1));
    out.has_value = true;
  }
  return true;
}

std::optional<ParamList::Param> ParamList::find(std::string_view name) const {
  std::string_view rest = raw_;
  Param p;
  while (next(rest, p))
    if (iequals(p.name, name)) return p;
  return std::nullopt;
}

std::optional<std::string_view> ParamList::get(std::string_view name) const {
  auto p = find(name);
  if (!p) return std::nullopt;
  return p->value;
}

size_t ParamList::size() const {
  size_t n = 0;
  std::string_view rest = raw_;
  Param p;
  while (next(rest, p)) ++n;
  return n;
}

// ---------------------------------------------------------------- hosts

bool is_valid_ipv4(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (true) {
    size_t j = i;
    int v = 0;
    while (j < s.size() && is_digit(s[j]) && j - i < 3) v = v * 10 + (s[j++] - '0');
    if (j == i || v > 255) return false;
    ++parts;
    if (j == s.size()) return parts == 4;
    if (s[j] != '.' || parts == 4) return false;
    i = j + 1;
  }
}

bool is_valid_ipv6(std::string_view s) {
  size_t n = s.size();
  if (n < 2) return false;
  int groups = 0;
  bool dcolon = false;
  size_t i = 0;
  if (s[0] == ':') {
    if (s[1] != ':') return false;
    dcolon = true;
    i = 2;
    if (i == n) return true;
  }
  while (i < n) {
    size_t j = i;
    while (j < n && s[j] != ':') ++j;
    std::string_view tok = s.substr(i, j - i);
    if (tok.find('.') != std::string_view::npos) {
      if (j != n || !is_valid_ipv4(tok)) return false;
      groups += 2;
      break;
    }
    if (tok.empty() || tok.size() > 4) return false;
    for (char c : tok)
      if (hex_value(c) < 0) return false;
    ++groups;
    if (groups > 8) return false;
    if (j == n) break;
    if (j + 1 < n && s[j + 1] == ':') {
      if (dcolon) return false;
      dcolon = true;
      i = j + 2;
    } else {
      i = j + 1;
      if (i == n) return false;  // trailing single ':'
    }
  }
  return dcolon ? groups <= 7 : groups == 8;
}

namespace {
// Byte classes for is_valid_hostname().
enum : uint8_t { kHnOther = 0, kHnAlnum = 1, kHnDash = 2, kHnDot = 3 };
constexpr std::array<uint8_t, 256> make_hostname_table() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c)
    if (is(static_cast<char>(c), kAlnum)) t[c] = kHnAlnum;
  t['-'] = kHnDash;
  t['.'] = kHnDot;
  return t;
}
constexpr std::array<uint8_t, 256> kHostnameClass = make_hostname_table();
}  // namespace

bool is_valid_hostname(std::string_view s) {
  // hostname = *( domainlabel "." ) toplabel [ "." ]; labels of 1-63
  // alphanum / "-", starting and ending with alphanum; the last label starts
  // with a letter. One pass over the bytes.
  if (s.empty() || s.size() > 255) return false;
  if (s.back() == '.') s.remove_suffix(1);
  if (s.empty()) return false;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t label = 0;  // start of the current label
  for (size_t i = 0; i < n; ++i) {
    uint8_t t = kHostnameClass[p[i]];
    if (t == kHnAlnum) continue;
    if (t != kHnDot) {
      if (t == kHnDash) continue;
      return false;
    }
    size_t len = i - label;
    if (len == 0 || len > 63 || kHostnameClass[p[label]] != kHnAlnum ||
        kHostnameClass[p[i - 1]] != kHnAlnum)
      return false;
    label = i + 1;
  }
  size_t len = n - label;
  if (len == 0 || len > 63 || kHostnameClass[p[label]] != kHnAlnum ||
      kHostnameClass[p[n - 1]] != kHnAlnum)
    return false;
  return is_alpha(static_cast<char>(p[label]));
}

HostType classify_host(std::string_view s) {
  if (s.empty()) return HostType::kNone;
  if (s.front() == '[') {
    if (s.size() < 4 || s.back() != ']') return HostType::kNone;
    return is_valid_ipv6(s.substr(1, s.size() - 2)) ? HostType::kIPv6 : HostType::kNone;
  }
  bool digits_dots = true;
  for (char c : s)
    if (!is_digit(c) && c != '.') { digits_dots = false; break; }
  if (digits_dots) return is_valid_ipv4(s) ? HostType::kIPv4 : HostType::kNone;
  return is_valid_hostname(s) ? HostType::kHostname : HostType::kNone;
}

// ---------------------------------------------------------------- escapes

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int h = hex_value(s[i + 1]), l = hex_value(s[i + 2]);
      if (h < 0 || l < 0) return std::nullopt;
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string unquote(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::string(s);
  std::string out;
  out.reserve(s.size() - 2);
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] == '\\' && i + 2 < s.size()) ++i;
    out.push_back(s[i]);
  }
  return out;
}

// ---------------------------------------------------------------- Uri

std::string_view Uri::host_unbracketed() const {
  if (host_type == HostType::kIPv6 && host.size() >= 2) return host.substr(1, host.size() - 2);
  return host;
}

std::string Uri::user_decoded() const {
  auto d = percent_decode(user);
  return d ? *d : std::string(user);
}

std::optional<std::string> Uri::param_decoded(std::string_view name) const {
  auto v = params.get(name);
  if (!v) return std::nullopt;
  auto d = percent_decode(*v);
  return d ? d : std::optional<std::string>(std::string(*v));
}

std::optional<std::string_view> Uri::header(std::string_view name) const {
  std::string_view rest = headers;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    size_t eq = item.find('=');
    std::string_view n = item.substr(0, eq);
    if (iequals(n, name))
      return eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
  }
  return std::nullopt;
}

namespace {

Error uri_error(std::string_view text, std::string_view what) {
  std::string m = "URI \"";
  m.append(text.substr(0, 200));
  m += "\": ";
  m += what;
  return make_error(ErrorKind::kMalformedUri, std::move(m));
}

// ;pname[=pvalue] list, paramchar = param-unreserved / unreserved / escaped.
bool valid_uri_params(std::string_view s) {
  // s is the text after the first ';'
  size_t i = 0;
  while (true) {
    size_t j = s.find(';', i);
    if (j == std::string_view::npos) j = s.size();
    std::string_view item = s.substr(i, j - i);
    size_t eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    if (name.empty() || !valid_escaped(name, kUnreserved | kParamExtra)) return false;
    if (eq != std::string_view::npos) {
      std::string_view value = item.substr(eq + 1);
      if (value.empty() || !valid_escaped(value, kUnreserved | kParamExtra)) return false;
    }
    if (j == s.size()) return true;
    i = j + 1;
  }
}

bool valid_uri_headers(std::string_view s) {
  size_t i = 0;
  while (true) {
    size_t j = s.find('&', i);
    if (j == std::string_view::npos) j = s.size();
    std::string_view item = s.substr(i, j - i);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
    if (name.empty() || !valid_escaped(name, kUnreserved | kHnvExtra)) return false;
    if (!valid_escaped(value, kUnreserved | kHnvExtra)) return false;
    if (j == s.size()) return true;
    i = j + 1;
  }
}

// Bytes that end the host of a sip/sips URI.
constexpr std::array<bool, 256> make_host_end() {
  std::array<bool, 256> t{};
  t[':'] = t[';'] = t['?'] = true;
  return t;
}
constexpr std::array<bool, 256> kHostEnd = make_host_end();

Result<Uri> parse_sip(std::string_view text, Uri u) {
  std::string_view rest = u.opaque;
  size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    size_t colon = userinfo.find(':');
    u.user = userinfo.substr(0, colon);
    if (u.user.empty()) return uri_error(text, "empty user part");
    if (!valid_escaped(u.user, kUnreserved | kUserExtra))
      return uri_error(text, "bad character or %-escape in user part");
    if (colon != std::string_view::npos) {
      u.has_password = true;
      u.password = userinfo.substr(colon + 1);
      if (!valid_escaped(u.password, kUnreserved | kPasswordExtra))
        return uri_error(text, "bad character or %-escape in password");
    }
    rest = rest.substr(at + 1);
  }
  // host
  size_t hend;
  if (!rest.empty() && rest.front() == '[') {
    size_t rb = rest.find(']');
    if (rb == std::string_view::npos) return uri_error(text, "unterminated IPv6 reference");
    hend = rb + 1;
  } else {
    hend = 0;
    const char* r = rest.data();
    const size_t rn = rest.size();
    while (hend < rn && !kHostEnd[static_cast<unsigned char>(r[hend])]) ++hend;
  }
  u.host = rest.substr(0, hend);
  if (u.host.empty()) return uri_error(text, "missing host");
  u.host_type = classify_host(u.host);
  if (u.host_type == HostType::kNone) {
    if (u.host.front() == '[') return uri_error(text, "invalid IPv6 reference");
    return uri_error(text, "invalid host");
  }
  rest = rest.substr(hend);
  if (!rest.empty() && rest.front() == ':') {
    size_t pend = 1;
    while (pend < rest.size() && rest[pend] != ';' && rest[pend] != '?') ++pend;
    int64_t p = parse_uint(rest.substr(1, pend - 1), 5);
    if (p < 1 || p > 65535) return uri_error(text, "invalid port");
    u.port = static_cast<uint16_t>(p);
    rest = rest.substr(pend);
  }
  if (!rest.empty() && rest.front() == ';') {
    size_t q = rest.find('?');
    std::string_view p = rest.substr(1, q == std::string_view::npos ? std::string_view::npos : q - 1);
    if (!valid_uri_params(p)) return uri_error(text, "malformed uri-parameter");
    u.params = ParamList(p);
    rest = q == std::string_view::npos ? std::string_view() : rest.substr(q);
  }
  if (!rest.empty() && rest.front() == '?') {
    u.headers = rest.substr(1);
    if (!valid_uri_headers(u.headers)) return uri_error(text, "malformed URI headers");
    rest = {};
  }
  if (!rest.empty()) return uri_error(text, "unexpected characters after host");
  return u;
}

Result<Uri> parse_tel(std::string_view text, Uri u) {
  std::string_view rest = u.opaque;
  size_t semi = rest.find(';');
  std::string_view number = rest.substr(0, semi);
  if (number.empty()) return uri_error(text, "empty telephone number");
  bool global = number.front() == '+';
  size_t digits = 0;
  for (size_t i = global ? 1 : 0; i < number.size(); ++i) {
    char c = number[i];
    if (is_digit(c) || (!global && (hex_value(c) >= 0 || c == '*' || c == '#'))) {
      ++digits;
    } else if (c != '-' && c != '.' && c != '(' && c != ')') {
      return uri_error(text, "invalid character in telephone number");
    }
  }
  if (digits == 0) return uri_error(text, "telephone number has no digits");
  u.user = number;
  if (semi != std::string_view::npos) {
    std::string_view p = rest.substr(semi + 1);
    if (!valid_uri_params(p)) return uri_error(text, "malformed tel parameter");
    u.params = ParamList(p);
  }
  return u;
}

}  // namespace

Result<Uri> parse_uri(std::string_view text) {
  Uri u;
  u.raw = text;
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return uri_error(text, "missing scheme");
  u.scheme_text = text.substr(0, colon);
  if (!is_alpha(u.scheme_text.front()) || !all_of(u.scheme_text, kSchemeChar))
    return uri_error(text, "invalid scheme");
  u.opaque = text.substr(colon + 1);
  if (u.opaque.empty()) return uri_error(text, "empty after scheme");
  if (iequals(u.scheme_text, "sip")) {
    u.scheme = Scheme::kSip;
    return parse_sip(text, u);
  }
  if (iequals(u.scheme_text, "sips")) {
    u.scheme = Scheme::kSips;
    return parse_sip(text, u);
  }
  if (iequals(u.scheme_text, "tel")) {
    u.scheme = Scheme::kTel;
    return parse_tel(text, u);
  }
  u.scheme = Scheme::kOther;
  for (size_t i = 0; i < u.opaque.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(u.opaque[i]);
    if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"')
      return uri_error(text, "invalid character in URI");
    if (c == '%') {
      if (i + 2 >= u.opaque.size() || hex_value(u.opaque[i + 1]) < 0 ||
          hex_value(u.opaque[i + 2]) < 0)
        return uri_error(text, "bad %-escape");
      i += 2;
    }
  }
  return u;
}

}  // namespace fedgw::sip
