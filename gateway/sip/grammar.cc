#include "gateway/sip/grammar.h"

#include "gateway/sip/syntax.h"

namespace fedgw::sip {

using namespace detail;

namespace {

Error header_error(std::string_view header, std::string_view what) {
  std::string m(header.empty() ? std::string_view("header") : header);
  m += ": ";
  m += what;
  return make_error(ErrorKind::kMalformedHeader, std::move(m), header);
}

Error header_uri_error(std::string_view header, const Error& uri_err) {
  std::string m(header.empty() ? std::string_view("header") : header);
  m += ": ";
  m += uri_err.message;
  return make_error(ErrorKind::kMalformedHeader, std::move(m), header);
}

size_t skip_ws(std::string_view s, size_t i) {
  while (i < s.size() && is_ws(s[i])) ++i;
  return i;
}

}  // namespace

bool is_token(std::string_view s) { return detail::is_token(s); }

size_t quoted_string_length(std::string_view s) {
  if (s.empty() || s[0] != '"') return 0;
  for (size_t i = 1; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (i + 1 >= s.size()) return 0;
      unsigned char e = static_cast<unsigned char>(s[i + 1]);
      if (e == '\r' || e == '\n' || e > 0x7f) return 0;
      ++i;
      continue;
    }
    // qdtext: LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
    if (c < 0x20 && c != '\t') return 0;
    if (c == 0x7f) return 0;
  }
  return 0;
}

namespace {

// Validates ;name[=value] params and calls on_param(name, value, has_value)
// for each; on_param returns false to stop with an error.
template <class F>
std::optional<std::string_view> scan_params(std::string_view s, F&& on_param) {
  size_t i = skip_ws(s, 0);
  if (i == s.size()) return std::string_view();
  if (s[i] != ';') return std::nullopt;
  size_t first = i + 1;
  while (i < s.size()) {
    if (s[i] != ';') return std::nullopt;
    i = skip_ws(s, i + 1);
    size_t n0 = i;
    while (i < s.size() && is(s[i], kToken)) ++i;
    if (i == n0) return std::nullopt;
    std::string_view pname = s.substr(n0, i - n0);
    i = skip_ws(s, i);
    if (i < s.size() && s[i] == '=') {
      i = skip_ws(s, i + 1);
      size_t val0 = i;
      if (i >= s.size()) return std::nullopt;
      if (s[i] == '"') {
        size_t q = quoted_string_length(s.substr(i));
        if (q == 0) return std::nullopt;
        i += q;
      } else if (s[i] == '[') {
        size_t rb = s.find(']', i);
        if (rb == std::string_view::npos || !is_valid_ipv6(s.substr(i + 1, rb - i - 1)))
          return std::nullopt;
        i = rb + 1;
      } else {
        // token / host; ':' admits an unbracketed IPv6address
        // (via-received, RFC 3261 §25.1).
        size_t v0 = i;
        while (i < s.size() && (is(s[i], kToken) || s[i] == ':')) ++i;
        if (i == v0) return std::nullopt;
      }
      if (!on_param(pname, s.substr(val0, i - val0), true)) return std::nullopt;
      i = skip_ws(s, i);
    } else if (!on_param(pname, std::string_view(), false)) {
      return std::nullopt;
    }
  }
  return s.substr(first);
}

}  // namespace

std::optional<std::string_view> scan_header_params(std::string_view s) {
  return scan_params(s, [](std::string_view, std::string_view, bool) { return true; });
}

Result<NameAddr> parse_name_addr(std::string_view value, std::string_view header,
                                 bool allow_star) {
  NameAddr na;
  std::string_view v = trim_ws(value);
  if (v.empty()) return header_error(header, "empty value");
  if (allow_star && v == "*") {
    na.star = true;
    return na;
  }
  size_t i = 0;
  size_t after_uri;
  if (v[0] == '"') {
    size_t q = quoted_string_length(v);
    if (q == 0) return header_error(header, "bad quoted display name");
    na.display_name = v.substr(0, q);
    i = skip_ws(v, q);
    if (i >= v.size() || v[i] != '<') return header_error(header, "expected '<' after display name");
  } else {
    size_t lt = v.find('<');
    if (lt != std::string_view::npos) {
      std::string_view dn = trim_ws(v.substr(0, lt));
      // *(token LWS)
      for (char c : dn)
        if (!is(c, kToken) && !is_ws(c)) return header_error(header, "bad display name");
      na.display_name = dn;
      i = lt;
    } else {
      i = v.size();  // addr-spec
    }
  }
  if (i < v.size()) {
    // name-addr: '<' addr-spec '>'
    size_t gt = v.find('>', i + 1);
    if (gt == std::string_view::npos) return header_error(header, "missing '>'");
    na.angle_brackets = true;
    na.uri_text = v.substr(i + 1, gt - i - 1);
    after_uri = gt + 1;
  } else {
    // addr-spec: URI ends at the first ';' or whitespace; params follow.
    size_t e = 0;
    while (e < v.size() && v[e] != ';' && !is_ws(v[e])) ++e;
    na.uri_text = v.substr(0, e);
    after_uri = e;
  }
  if (na.uri_text.empty()) return header_error(header, "empty URI");
  auto uri = parse_uri(na.uri_text);
  if (!uri) return header_uri_error(header, uri.error());
  na.uri = uri.value();
  auto params = scan_header_params(v.substr(after_uri));
  if (!params) return header_error(header, "malformed header parameters");
  na.params = ParamList(*params);
  return na;
}

std::optional<uint16_t> Via::rport() const {
  auto p = params.get("rport");
  if (!p || p->empty()) return std::nullopt;
  int64_t v = parse_uint(*p, 5);
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

std::optional<int> Via::ttl() const {
  auto p = params.get("ttl");
  if (!p) return std::nullopt;
  int64_t v = parse_uint(*p, 3);
  if (v < 0 || v > 255) return std::nullopt;
  return static_cast<int>(v);
}

Result<Via> parse_via(std::string_view value) { return detail::parse_via_branch(value, nullptr); }

namespace detail {

Result<Via> parse_via_branch(std::string_view value, bool* has_branch) {
  static constexpr std::string_view kH = "Via";
  Via via;
  std::string_view s = value;
  size_t i = skip_ws(s, 0);
  std::string_view* parts[3] = {&via.protocol_name, &via.protocol_version, &via.transport};
  for (int k = 0; k < 3; ++k) {
    size_t t0 = i;
    while (i < s.size() && is(s[i], kToken)) ++i;
    if (i == t0) return header_error(kH, "malformed sent-protocol");
    *parts[k] = s.substr(t0, i - t0);
    i = skip_ws(s, i);
    if (k < 2) {
      if (i >= s.size() || s[i] != '/') return header_error(kH, "malformed sent-protocol");
      i = skip_ws(s, i + 1);
    }
  }
  if (i == 0 || !is_ws(s[i - 1])) return header_error(kH, "missing sent-by");
  // sent-by = host [ COLON port ]
  size_t h0 = i;
  if (i < s.size() && s[i] == '[') {
    size_t rb = s.find(']', i);
    if (rb == std::string_view::npos) return header_error(kH, "unterminated IPv6 reference");
    i = rb + 1;
  } else {
    while (i < s.size() && (is(s[i], kHostChar))) ++i;
  }
  via.host = s.substr(h0, i - h0);
  if (via.host.empty()) return header_error(kH, "missing sent-by host");
  via.host_type = classify_host(via.host);
  if (via.host_type == HostType::kNone)
    return header_error(kH, via.host.front() == '[' ? "invalid IPv6 reference" : "invalid host");
  size_t j = skip_ws(s, i);
  if (j < s.size() && s[j] == ':') {
    j = skip_ws(s, j + 1);
    size_t p0 = j;
    while (j < s.size() && is_digit(s[j])) ++j;
    int64_t port = parse_uint(s.substr(p0, j - p0), 5);
    if (port < 1 || port > 65535) return header_error(kH, "invalid port");
    via.port = static_cast<uint16_t>(port);
    i = j;
  }
  // Typed checks of the well-known params while scanning them.
  const char* bad = nullptr;
  auto params = scan_params(s.substr(i), [&](std::string_view name, std::string_view value,
                                              bool has_value) {
    switch (name.size()) {  // most params are none of these
      case 6:
        if (iequals(name, "branch")) {
          if (!has_value || !detail::is_token(value)) bad = "invalid branch";
          if (has_branch) *has_branch = true;
        }
        break;
      case 5:
        if (iequals(name, "rport")) {
          if (has_value) {
            int64_t v = parse_uint(value, 5);
            if (v < 1 || v > 65535) bad = "invalid rport";
          }
        } else if (iequals(name, "maddr")) {
          if (classify_host(value) == HostType::kNone) bad = "invalid maddr";
        }
        break;
      case 8:
        if (iequals(name, "received")) {
          std::string_view r = value;
          if (r.size() > 2 && r.front() == '[' && r.back() == ']') r = r.substr(1, r.size() - 2);
          if (!is_valid_ipv4(r) && !is_valid_ipv6(r)) bad = "invalid received address";
        }
        break;
      case 3:
        if (iequals(name, "ttl")) {
          int64_t v = parse_uint(value, 3);
          if (v < 0 || v > 255) bad = "invalid ttl";
        }
        break;
      default:
        break;
    }
    return bad == nullptr;
  });
  if (bad) return header_error(kH, bad);
  if (!params) return header_error(kH, "malformed parameters");
  via.params = ParamList(*params);
  return via;
}

}  // namespace detail

Result<CSeq> parse_cseq(std::string_view value) {
  static constexpr std::string_view kH = "CSeq";
  std::string_view s = trim_ws(value);
  size_t i = 0;
  while (i < s.size() && is_digit(s[i])) ++i;
  int64_t n = parse_uint(s.substr(0, i), 10);
  if (n < 0) return header_error(kH, "sequence number is not a number");
  if (n > 0x7fffffffLL) return header_error(kH, "sequence number out of range");
  size_t m = skip_ws(s, i);
  if (m == i) return header_error(kH, "missing method");
  std::string_view method = s.substr(m);
  if (!detail::is_token(method)) return header_error(kH, "invalid method");
  CSeq c;
  c.number = static_cast<uint32_t>(n);
  c.method = method;
  return c;
}

}  // namespace fedgw::sip
