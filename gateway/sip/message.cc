#include "gateway/sip/message.h"

#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "gateway/sip/syntax.h"

namespace fedgw::sip {

using namespace detail;

namespace {

std::string clip(std::string_view s, size_t n = 64) {
  if (s.size() <= n) return std::string(s);
  std::string r(s.substr(0, n));
  r += "...";
  return r;
}

Error malformed(std::string_view header, std::string msg) {
  return make_error(ErrorKind::kMalformedHeader, std::string(header) + ": " + msg, header);
}

// Index of the first '\r' or '\n' in d[i, n), or n.
inline size_t find_cr_or_lf(const char* d, size_t i, size_t n) {
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i));
    unsigned mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf))));
    if (mask) return i + static_cast<size_t>(__builtin_ctz(mask));
  }
#endif
  for (; i < n; ++i)
    if (d[i] == '\r' || d[i] == '\n') return i;
  return n;
}

// Index of the first byte of value[i, n) that matters when splitting a list
// value on commas (',', '"', '<', '>'), or n.
inline size_t find_split_special(const char* d, size_t i, size_t n) {
#if defined(__SSE2__)
  const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"'),
                lt = _mm_set1_epi8('<'), gt = _mm_set1_epi8('>');
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i));
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, quote)),
                             _mm_or_si128(_mm_cmpeq_epi8(v, lt), _mm_cmpeq_epi8(v, gt)));
    unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(m));
    if (mask) return i + static_cast<size_t>(__builtin_ctz(mask));
  }
#endif
  for (; i < n; ++i) {
    char c = d[i];
    if (c == ',' || c == '"' || c == '<' || c == '>') return i;
  }
  return n;
}

// Headers with a typed check in Message::validate_field().
constexpr std::array<bool, static_cast<size_t>(HeaderId::kCount_)> make_validation_table() {
  std::array<bool, static_cast<size_t>(HeaderId::kCount_)> t{};
  for (HeaderId id : {HeaderId::kVia, HeaderId::kRoute, HeaderId::kRecordRoute, HeaderId::kFrom,
                      HeaderId::kTo, HeaderId::kCallId, HeaderId::kCSeq, HeaderId::kMaxForwards})
    t[static_cast<size_t>(id)] = true;
  return t;
}
constexpr auto kNeedsValidation = make_validation_table();

bool has_ctl_break(std::string_view s) {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return true;
  return false;
}

}  // namespace

// Parsing internals, shared by parse_message() and StreamFramer.
class MessageParser {
 public:
  // `head` is the start line through the blank line (ends with CRLFCRLF).
  // `head` may extend past the blank line; the head's length goes to
  // *head_len. Only the first max_header_bytes are searched.
  static Status parse_head(Message& m, std::string_view head, const ParseOptions& o,
                           size_t* head_len = nullptr);
  // Start-line and typed header validation; m.buf_ must hold the message.
  static Status validate(Message& m, const ParseOptions& o);
  static Status parse_start_line(Message& m);
  static Status check_content_length(Message& m, std::string_view value, const ParseOptions& o);
  static Result<Message> parse_complete(std::string_view data, const ParseOptions& o);
};

Status MessageParser::check_content_length(Message& m, std::string_view v,
                                           const ParseOptions& o) {
  static constexpr std::string_view kH = "Content-Length";
  if (m.content_length_ >= 0)
    return make_error(ErrorKind::kConflictingContentLength,
                      "Content-Length: header given more than once", kH);
  if (v.empty())
    return make_error(ErrorKind::kBadContentLength, "Content-Length: empty value", kH);
  bool digits = true;
  for (char c : v)
    if (!is_digit(c)) { digits = false; break; }
  if (!digits) {
    std::string_view rest = v.substr(1);
    bool neg = v[0] == '-' && !rest.empty() &&
               rest.find_first_not_of("0123456789") == std::string_view::npos;
    return make_error(ErrorKind::kBadContentLength,
                      "Content-Length: \"" + clip(v) + (neg ? "\" is negative" : "\" is not a number"),
                      kH);
  }
  size_t first_nz = v.find_first_not_of('0');
  std::string_view sig = first_nz == std::string_view::npos ? std::string_view() : v.substr(first_nz);
  if (sig.size() > 15)
    return make_error(ErrorKind::kBadContentLength,
                      "Content-Length: \"" + clip(v) + "\" overflows", kH);
  int64_t n = sig.empty() ? 0 : parse_uint(sig, 15);
  if (static_cast<uint64_t>(n) > o.limits.max_body_bytes)
    return make_error(ErrorKind::kBodyTooLarge,
                      "Content-Length: " + std::to_string(n) + " exceeds the body limit of " +
                          std::to_string(o.limits.max_body_bytes) + " bytes",
                      kH);
  m.content_length_ = n;
  return {};
}

Status MessageParser::parse_head(Message& m, std::string_view head, const ParseOptions& o,
                                 size_t* head_len) {
  const Limits& lim = o.limits;
  m.headers_.clear();
  m.values_.clear();
  m.headers_.reserve(16);
  m.values_.reserve(8);
  m.content_length_ = -1;
  const char* d = head.data();
  // Only the first max_header_bytes may hold the head.
  const size_t n = std::min(head.size(), lim.max_header_bytes);
  auto unterminated = [&]() {
    if (n < head.size())
      return make_error(ErrorKind::kHeaderSectionTooLarge,
                        "no end of header section within " +
                            std::to_string(lim.max_header_bytes) + " bytes");
    return make_error(ErrorKind::kMalformedHeader,
                      "header section not terminated by an empty line");
  };
  // Start line.
  const char* nlp = static_cast<const char*>(std::memchr(d, '\n', n));
  if (!nlp) return unterminated();
  size_t nl = static_cast<size_t>(nlp - d);
  if (nl == 0 || d[nl - 1] != '\r' || std::memchr(d, '\r', nl - 1))
    return make_error(ErrorKind::kMalformedStartLine, "start line not terminated by CRLF");
  if (nl + 1 > lim.max_line_bytes)
    return make_error(ErrorKind::kHeaderLineTooLong,
                      "start line exceeds " + std::to_string(lim.max_line_bytes) + " bytes");
  m.start_line_ = {0, static_cast<uint32_t>(nl + 1)};
  size_t pos = nl + 1;
  bool blank_found = false;
  // Every CR must be part of a CRLF. A CR not followed by LF is remembered
  // and reported once the header section has been scanned (other errors
  // found on the way take precedence).
  bool bare_cr = false;
  while (pos < n) {
    if (d[pos] == '\r' && pos + 1 < n && d[pos + 1] == '\n') {
      m.blank_ = {static_cast<uint32_t>(pos), 2};
      pos += 2;
      blank_found = true;
      break;
    }
    if (is_ws(d[pos]))
      return make_error(ErrorKind::kMalformedHeader, "continuation line without a header");
    // Logical line: physical lines joined by folding (CRLF followed by WS).
    size_t start = pos;
    bool folded = false;
    size_t end;  // index one past the final LF
    while (true) {
      // The physical line ends at the first LF; note bare CRs before it.
      size_t lf = pos;
      while (true) {
        lf = find_cr_or_lf(d, lf, n);
        if (lf == n) return unterminated();
        if (d[lf] == '\n') break;
        if (lf + 1 < n && d[lf + 1] == '\n') {  // CRLF
          ++lf;
          break;
        }
        bare_cr = true;
        ++lf;
      }
      if (lf == pos || d[lf - 1] != '\r')
        return make_error(ErrorKind::kMalformedHeader,
                          "header line not terminated by CRLF (bare LF)");
      end = lf + 1;
      if (end < n && is_ws(d[end])) {
        folded = true;
        pos = end;
        continue;
      }
      break;
    }
    if (end - start > lim.max_line_bytes)
      return make_error(ErrorKind::kHeaderLineTooLong,
                        "header line of " + std::to_string(end - start) +
                            " bytes exceeds the limit of " + std::to_string(lim.max_line_bytes));
    if (m.headers_.size() >= lim.max_header_count)
      return make_error(ErrorKind::kTooManyHeaders,
                        "more than " + std::to_string(lim.max_header_count) + " header lines");
    Message::Field f;
    Status st = m.scan_field(std::string_view(d + start, end - start), static_cast<uint32_t>(start), f,
                             folded);
    if (!st.ok()) return st;
    if (f.id == HeaderId::kContentLength) {
      std::string_view v = f.value.off & Message::kArenaBit
                               ? m.view(f.value)
                               : head.substr(f.value.off, f.value.len);
      st = check_content_length(m, v, o);
      if (!st.ok()) return st;
    }
    m.headers_.push_back(f);
    pos = end;
  }
  if (!blank_found) return unterminated();
  if (head_len) *head_len = pos;
  if (bare_cr)
    return make_error(ErrorKind::kMalformedHeader, "bare CR inside a header line");
  if (o.stream && m.content_length_ < 0)
    return make_error(ErrorKind::kMissingContentLength,
                      "Content-Length: header missing (mandatory on stream transports)",
                      "Content-Length");
  return {};
}

Status Message::scan_field(std::string_view text, uint32_t at, Field& f, bool folded) {
  // text = whole logical line including the final CRLF (every caller
  // guarantees it), so the CR stops the name and whitespace scans.
  const char* p = text.data();
  size_t i = 0;
  while (is(p[i], kToken)) ++i;
  size_t name_len = i;
  while (is_ws(p[i])) ++i;
  if (name_len == 0 || i >= text.size() || text[i] != ':') {
    if (name_len == 0 || (i < text.size() && text[i] != ':' && text[i] != '\r'))
      return make_error(ErrorKind::kMalformedHeader,
                        "invalid header name in line \"" + clip(text.substr(0, text.size() - 2)) + "\"");
    return make_error(ErrorKind::kMalformedHeader,
                      "header line without colon: \"" + clip(text.substr(0, text.size() - 2)) + "\"");
  }
  f.line = {at, static_cast<uint32_t>(text.size())};
  f.name = {at, static_cast<uint32_t>(name_len)};
  f.id = header_id(std::string_view(p, name_len));
  ++i;  // colon
  std::string_view raw_value(p + i, text.size() - 2 - i);
  uint32_t value_base;
  std::string_view value;
  if (folded) {
    // Unfold: every [WS] CRLF 1*WS becomes one SP.
    std::string tmp;
    tmp.reserve(raw_value.size());
    for (size_t k = 0; k < raw_value.size(); ++k) {
      char c = raw_value[k];
      if (c == '\r') {
        while (!tmp.empty() && is_ws(tmp.back())) tmp.pop_back();
        k += 1;  // skip LF
        while (k + 1 < raw_value.size() && is_ws(raw_value[k + 1])) ++k;
        tmp.push_back(' ');
        continue;
      }
      tmp.push_back(c);
    }
    std::string_view t = trim_ws(tmp);
    value_base = arena_append(t);
    value = std::string_view(arena_.data() + (value_base & ~kArenaBit), t.size());
  } else {
    size_t a = 0, b = raw_value.size();
    while (a < b && is_ws(raw_value[a])) ++a;
    while (b > a && is_ws(raw_value[b - 1])) --b;
    value = std::string_view(raw_value.data() + a, b - a);
    value_base = at + static_cast<uint32_t>(i + a);
  }
  f.value = {value_base, static_cast<uint32_t>(value.size())};
  f.values_begin = static_cast<uint32_t>(values_.size());
  f.values_count = 0;
  if (!header_is_list(static_cast<uint8_t>(f.id))) {
    f.values_begin = kInlineValue;  // the one value is f.value
    f.values_count = 1;
    return {};
  }
  // Split on commas outside quoted strings and <...>.
  bool quoted = false, angle = false;
  size_t s0 = 0;
  auto emit = [&](size_t s, size_t e) {
    while (s < e && is_ws(value[s])) ++s;
    while (e > s && is_ws(value[e - 1])) --e;
    if (e > s) {
      values_.push_back({value_base + static_cast<uint32_t>(s), static_cast<uint32_t>(e - s)});
      ++f.values_count;
    }
  };
  const size_t vn = value.size();
  for (size_t k = 0; k < vn; ++k) {
    if (!quoted) {
      k = find_split_special(value.data(), k, vn);
      if (k == vn) break;
    }
    char c = value[k];
    if (quoted) {
      if (c == '\\') ++k;
      else if (c == '"') quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == '<') {
      angle = true;
    } else if (c == '>') {
      angle = false;
    } else if (c == ',' && !angle) {
      emit(s0, k);
      s0 = k + 1;
    }
  }
  emit(s0, value.size());
  return {};
}

Status Message::validate_field(const Field& f, const Limits& lim, size_t& via_count,
                               size_t& route_count) {
  switch (f.id) {
    case HeaderId::kVia: {
      if (f.values_count == 0) return malformed("Via", "empty value");
      const bool first = via_count == 0;
      via_count += f.values_count;
      if (via_count > lim.max_via_values)
        return make_error(ErrorKind::kTooManyValues,
                          "Via: more than " + std::to_string(lim.max_via_values) + " values", "Via");
      for (uint32_t k = 0; k < f.values_count; ++k) {
        bool branch = false;
        auto v = parse_via_branch(view(value_span(f, k)), first && k == 0 ? &branch : nullptr);
        if (!v) return v.error();
        if (first && k == 0) top_via_branch_ = branch;
      }
      return {};
    }
    case HeaderId::kRoute:
    case HeaderId::kRecordRoute: {
      std::string_view h = canonical_name(f.id);
      if (f.values_count == 0) return malformed(h, "empty value");
      route_count += f.values_count;
      if (route_count > lim.max_route_values)
        return make_error(ErrorKind::kTooManyValues,
                          std::string(h) + ": more than " + std::to_string(lim.max_route_values) +
                              " Route/Record-Route values",
                          h);
      for (uint32_t k = 0; k < f.values_count; ++k) {
        auto na = parse_name_addr(view(value_span(f, k)), h);
        if (!na) return na.error();
      }
      return {};
    }
    case HeaderId::kFrom:
    case HeaderId::kTo: {
      std::string_view h = canonical_name(f.id);
      auto na = parse_name_addr(view(f.value), h);
      if (!na) return na.error();
      return {};
    }
    case HeaderId::kCallId: {
      std::string_view v = view(f.value);
      if (v.empty()) return malformed("Call-ID", "empty value");
      size_t ats = 0;
      for (char c : v) {
        if (c == '@') { ++ats; continue; }
        if (!is(c, kWord)) return malformed("Call-ID", "invalid character in \"" + clip(v) + "\"");
      }
      if (ats > 1 || v.front() == '@' || v.back() == '@')
        return malformed("Call-ID", "invalid value \"" + clip(v) + "\"");
      call_id_ = f.value;
      return {};
    }
    case HeaderId::kCSeq: {
      auto c = parse_cseq(view(f.value));
      if (!c) return c.error();
      cseq_number_ = c->number;
      const char* base = ((f.value.off & kArenaBit) ? arena_ : buf_).data();
      cseq_method_ = {static_cast<uint32_t>(f.value.off + (c->method.data() - (base + (f.value.off & ~kArenaBit)))),
                      static_cast<uint32_t>(c->method.size())};
      return {};
    }
    case HeaderId::kMaxForwards: {
      std::string_view v = view(f.value);
      int64_t mf = parse_uint(v, 10);
      if (mf < 0 || mf > 0x7fffffff)
        return malformed("Max-Forwards", "\"" + clip(v) + "\" is not a number");
      max_forwards_ = mf;
      return {};
    }
    default:
      return {};
  }
}

Status MessageParser::parse_start_line(Message& m) {
  std::string_view sl = m.view(m.start_line_);
  sl.remove_suffix(2);
  const uint32_t base = m.start_line_.off;
  auto span = [&](std::string_view part) {
    return Message::Span{base + static_cast<uint32_t>(part.data() - sl.data()),
                         static_cast<uint32_t>(part.size())};
  };
  // SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT
  auto version_form = [](std::string_view v) {
    if (v.size() < 7 || !iequals(v.substr(0, 4), "SIP/")) return false;
    std::string_view r = v.substr(4);
    size_t dot = r.find('.');
    if (dot == std::string_view::npos) return false;
    return parse_uint(r.substr(0, dot), 9) >= 0 && parse_uint(r.substr(dot + 1), 9) >= 0;
  };
  auto bad = [&](const std::string& what) {
    return make_error(ErrorKind::kMalformedStartLine, what + ": \"" + clip(sl) + "\"");
  };
  if (sl.size() >= 4 && iequals(sl.substr(0, 4), "SIP/")) {
    m.request_ = false;
    size_t sp = sl.find(' ');
    if (sp == std::string_view::npos) return bad("status line without status code");
    std::string_view ver = sl.substr(0, sp);
    if (!version_form(ver)) return bad("malformed SIP version");
    if (!iequals(ver, "SIP/2.0"))
      return make_error(ErrorKind::kVersionNotSupported,
                        "SIP version \"" + clip(ver) + "\" is not supported");
    std::string_view rest = sl.substr(sp + 1);
    if (rest.size() < 3 || !is_digit(rest[0]) || !is_digit(rest[1]) || !is_digit(rest[2]) ||
        (rest.size() > 3 && rest[3] != ' '))
      return bad("malformed status code");
    int code = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
    if (code < 100 || code > 699) return bad("status code out of range");
    m.status_ = code;
    m.version_ = span(ver);
    m.reason_ = span(rest.size() > 4 ? rest.substr(4) : rest.substr(rest.size()));
    m.method_ = {};
    m.ruri_ = {};
    return {};
  }
  m.request_ = true;
  size_t sp1 = sl.find(' ');
  size_t sp2 = sl.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == sp2) return bad("malformed request line");
  std::string_view method = sl.substr(0, sp1);
  std::string_view uri = sl.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view ver = sl.substr(sp2 + 1);
  if (!detail::is_token(method)) return bad("invalid method");
  if (!version_form(ver)) return bad("malformed SIP version");
  if (!iequals(ver, "SIP/2.0"))
    return make_error(ErrorKind::kVersionNotSupported,
                      "SIP version \"" + clip(ver) + "\" is not supported");
  if (uri.empty()) return bad("empty Request-URI");
  for (char c : uri)
    if (is_ws(c))
      return make_error(ErrorKind::kMalformedUri, "Request-URI contains whitespace");
  auto u = parse_uri(uri);
  if (!u) {
    Error e = u.error();
    e.message = "Request-URI: " + e.message;
    return e;
  }
  if (u->scheme == Scheme::kOther)
    return make_error(ErrorKind::kUnsupportedUriScheme,
                      "Request-URI scheme \"" + clip(u->scheme_text) + "\" is not supported");
  m.method_ = span(method);
  m.ruri_ = span(uri);
  m.version_ = span(ver);
  m.reason_ = {};
  m.status_ = 0;
  return {};
}

Status MessageParser::validate(Message& m, const ParseOptions& o) {
  Status st = parse_start_line(m);
  if (!st.ok()) return st;
  std::array<uint8_t, static_cast<size_t>(HeaderId::kCount_)> seen{};
  size_t vias = 0, routes = 0;
  for (const Message::Field& f : m.headers_) {
    uint8_t& s = seen[static_cast<size_t>(f.id)];
    if (s < 255) ++s;
    if (s > 1 && header_is_single(static_cast<uint8_t>(f.id)) &&
        f.id != HeaderId::kContentLength) {
      std::string_view h = canonical_name(f.id);
      return make_error(ErrorKind::kDuplicateHeader,
                        std::string(h) + ": header given more than once", h);
    }
    if (kNeedsValidation[static_cast<size_t>(f.id)]) {
      st = m.validate_field(f, o.limits, vias, routes);
      if (!st.ok()) return st;
    }
  }
  static constexpr HeaderId kMandatory[] = {HeaderId::kVia, HeaderId::kFrom, HeaderId::kTo,
                                            HeaderId::kCallId, HeaderId::kCSeq};
  for (HeaderId id : kMandatory) {
    if (!seen[static_cast<size_t>(id)]) {
      std::string_view h = canonical_name(id);
      return make_error(ErrorKind::kMissingHeader, std::string(h) + ": mandatory header missing", h);
    }
  }
  if (m.request_) {
    if (m.view(m.cseq_method_) != m.method())
      return make_error(ErrorKind::kCSeqMethodMismatch,
                        "CSeq: method \"" + clip(m.view(m.cseq_method_)) +
                            "\" does not match request method \"" + clip(m.method()) + "\"",
                        "CSeq");
    if (o.require_via_branch && !m.top_via_branch_)
      return make_error(ErrorKind::kMalformedHeader, "Via: missing branch", "Via");
  }
  return {};
}

// ---------------------------------------------------------------- entry

Result<Message> parse_message(std::string_view data, const ParseOptions& o) {
  return MessageParser::parse_complete(data, o);
}

Result<Message> MessageParser::parse_complete(std::string_view data, const ParseOptions& o) {
  while (data.size() >= 2 && data[0] == '\r' && data[1] == '\n') data.remove_prefix(2);
  if (data.empty()) return make_error(ErrorKind::kMalformedStartLine, "empty message");
  Message m;
  size_t head_len = 0;
  Status st = MessageParser::parse_head(m, data, o, &head_len);
  if (!st.ok()) return st.error();
  size_t avail = data.size() - head_len;
  size_t body_len;
  if (m.content_length_ >= 0) {
    body_len = static_cast<size_t>(m.content_length_);
    if (avail < body_len)
      return make_error(ErrorKind::kTruncatedBody,
                        "Content-Length: " + std::to_string(body_len) + " but only " +
                            std::to_string(avail) + " body bytes present",
                        "Content-Length");
  } else {
    body_len = avail;
    if (body_len > o.limits.max_body_bytes)
      return make_error(ErrorKind::kBodyTooLarge,
                        "body of " + std::to_string(body_len) + " bytes exceeds the limit of " +
                            std::to_string(o.limits.max_body_bytes));
  }
  m.buf_.assign(data.data(), head_len + body_len);
  m.raw_size_ = static_cast<uint32_t>(m.buf_.size());
  m.body_ = {static_cast<uint32_t>(head_len), static_cast<uint32_t>(body_len)};
  st = MessageParser::validate(m, o);
  if (!st.ok()) return st.error();
  return m;
}

Result<Message> parse_datagram(std::string_view data, const Limits& limits) {
  ParseOptions o;
  o.limits = limits;
  return parse_message(data, o);
}

// Used by StreamFramer (framer.cc).
Status framer_parse_head(Message& m, std::string_view head, const ParseOptions& o) {
  return MessageParser::parse_head(m, head, o);
}
Status framer_validate(Message& m, const ParseOptions& o) {
  return MessageParser::validate(m, o);
}

// ---------------------------------------------------------------- accessors

std::string_view Message::start_line() const {
  std::string_view s = view(start_line_);
  if (s.size() >= 2) s.remove_suffix(2);
  return s;
}

Message::Header Message::header(size_t i) const {
  const Field& f = headers_.at(i);
  return Header{view(f.name), view(f.value), view(f.line), f.id, f.values_count};
}

std::string_view Message::header_value(size_t i, size_t k) const {
  const Field& f = headers_.at(i);
  if (k >= f.values_count) return {};
  return view(value_span(f, k));
}

bool Message::matches(const Field& f, HeaderId id, std::string_view name) const {
  if (id != HeaderId::kOther) return f.id == id;
  return f.id == HeaderId::kOther && iequals(view(f.name), name);
}

int Message::find_first(HeaderId id) const {
  for (size_t i = 0; i < headers_.size(); ++i)
    if (headers_[i].id == id) return static_cast<int>(i);
  return -1;
}

bool Message::has(std::string_view name) const { return get(name).has_value(); }
bool Message::has(HeaderId id) const { return find_first(id) >= 0; }

std::optional<std::string_view> Message::get(std::string_view name) const {
  HeaderId id = header_id(name);
  for (const Field& f : headers_) {
    if (!matches(f, id, name)) continue;
    return f.values_count ? view(value_span(f, 0)) : std::string_view();
  }
  return std::nullopt;
}

std::optional<std::string_view> Message::get(HeaderId id) const {
  if (id == HeaderId::kOther) return std::nullopt;
  return get(canonical_name(id));
}

std::vector<std::string_view> Message::get_all(std::string_view name) const {
  HeaderId id = header_id(name);
  std::vector<std::string_view> out;
  for (const Field& f : headers_) {
    if (!matches(f, id, name)) continue;
    for (uint32_t k = 0; k < f.values_count; ++k) out.push_back(view(value_span(f, k)));
  }
  return out;
}

std::vector<std::string_view> Message::get_all(HeaderId id) const {
  if (id == HeaderId::kOther) return {};
  return get_all(canonical_name(id));
}

size_t Message::count(HeaderId id) const {
  size_t n = 0;
  for (const Field& f : headers_)
    if (f.id == id) n += f.values_count;
  return n;
}

std::optional<uint32_t> Message::max_forwards() const {
  if (max_forwards_ < 0) return std::nullopt;
  return static_cast<uint32_t>(max_forwards_);
}

std::optional<size_t> Message::content_length() const {
  if (content_length_ < 0) return std::nullopt;
  return static_cast<size_t>(content_length_);
}

NameAddr Message::from() const {
  int i = find_first(HeaderId::kFrom);
  if (i < 0) return {};
  auto r = parse_name_addr(view(headers_[i].value), "From");
  return r ? r.value() : NameAddr{};
}

NameAddr Message::to() const {
  int i = find_first(HeaderId::kTo);
  if (i < 0) return {};
  auto r = parse_name_addr(view(headers_[i].value), "To");
  return r ? r.value() : NameAddr{};
}

Via Message::top_via() const {
  for (const Field& f : headers_) {
    if (f.id != HeaderId::kVia || f.values_count == 0) continue;
    auto v = parse_via(view(value_span(f, 0)));
    return v ? v.value() : Via{};
  }
  return {};
}

std::optional<std::string_view> Message::via_branch(std::string_view v) {
  size_t semi = v.find(';');  // sent-protocol and sent-by hold no ';'
  if (semi == std::string_view::npos) return std::nullopt;
  return ParamList(v.substr(semi + 1)).get("branch");
}

std::optional<std::string_view> Message::top_via_branch() const {
  for (const Field& f : headers_)
    if (f.id == HeaderId::kVia && f.values_count != 0) return via_branch(view(value_span(f, 0)));
  return std::nullopt;
}

std::vector<Via> Message::vias() const {
  std::vector<Via> out;
  for (const Field& f : headers_) {
    if (f.id != HeaderId::kVia) continue;
    for (uint32_t k = 0; k < f.values_count; ++k) {
      auto v = parse_via(view(value_span(f, k)));
      if (v) out.push_back(v.value());
    }
  }
  return out;
}

namespace {
Result<std::vector<NameAddr>> name_addrs(const std::vector<std::string_view>& values,
                                         std::string_view h, bool allow_star) {
  std::vector<NameAddr> out;
  out.reserve(values.size());
  for (std::string_view v : values) {
    auto na = parse_name_addr(v, h, allow_star);
    if (!na) return na.error();
    out.push_back(na.value());
  }
  if (allow_star && out.size() > 1)
    for (const NameAddr& na : out)
      if (na.star) return malformed(h, "'*' combined with other values");
  return out;
}
}  // namespace

Result<std::vector<NameAddr>> Message::routes() const {
  return name_addrs(get_all(HeaderId::kRoute), "Route", false);
}
Result<std::vector<NameAddr>> Message::record_routes() const {
  return name_addrs(get_all(HeaderId::kRecordRoute), "Record-Route", false);
}
Result<std::vector<NameAddr>> Message::contacts() const {
  return name_addrs(get_all(HeaderId::kContact), "Contact", true);
}

// ---------------------------------------------------------------- edits

uint32_t Message::arena_append(std::string_view s) {
  uint32_t off = static_cast<uint32_t>(arena_.size());
  arena_.append(s);
  return off | kArenaBit;
}

Status Message::insert_line(size_t index, std::string_view name, std::string_view value) {
  if (!detail::is_token(name))
    return make_error(ErrorKind::kInvalidArgument, "invalid header name \"" + clip(name) + "\"");
  if (has_ctl_break(value))
    return make_error(ErrorKind::kInvalidArgument,
                      std::string(name) + ": value contains CR, LF or NUL");
  if (arena_.size() + name.size() + value.size() + 4 >= (kArenaBit >> 1))
    return make_error(ErrorKind::kInvalidArgument, "edit arena exhausted");
  std::string text;
  text.reserve(name.size() + value.size() + 4);
  text.append(name).append(": ").append(value).append("\r\n");
  uint32_t off = arena_append(text);
  Field f;
  Status st = scan_field(std::string_view(arena_.data() + (off & ~kArenaBit), text.size()), off, f,
                         false);
  if (!st.ok()) return st;
  size_t big = static_cast<size_t>(-1) / 2, vias = 0, routes = 0;
  Limits unlimited;
  unlimited.max_via_values = big;
  unlimited.max_route_values = big;
  // Keep the cached typed values of existing headers.
  auto saved_mf = max_forwards_;
  auto saved_cseq = cseq_method_;
  auto saved_cseq_n = cseq_number_;
  auto saved_callid = call_id_;
  st = validate_field(f, unlimited, vias, routes);
  if (!st.ok()) {
    max_forwards_ = saved_mf;
    cseq_method_ = saved_cseq;
    cseq_number_ = saved_cseq_n;
    call_id_ = saved_callid;
    Error e = st.error();
    e.kind = ErrorKind::kInvalidArgument;
    return e;
  }
  headers_.insert(headers_.begin() + static_cast<std::ptrdiff_t>(index), f);
  modified_ = true;
  return {};
}

void Message::set_line(size_t index, std::string_view name, std::string_view value) {
  std::string text;
  text.append(name).append(": ").append(value).append("\r\n");
  uint32_t off = arena_append(text);
  Field f;
  (void)scan_field(std::string_view(arena_.data() + (off & ~kArenaBit), text.size()), off, f,
                   false);
  headers_[index] = f;
  modified_ = true;
}

Status Message::prepend_via(std::string_view value) {
  auto v = parse_via(value);
  if (!v) {
    Error e = v.error();
    e.kind = ErrorKind::kInvalidArgument;
    return e;
  }
  return insert_line(0, "Via", value);
}

bool Message::remove_top_via() { return remove_first_value(HeaderId::kVia); }
bool Message::remove_top_route() { return remove_first_value(HeaderId::kRoute); }

bool Message::remove_first_value(HeaderId id) {
  int i = find_first(id);
  if (i < 0) return false;
  const Field f = headers_[i];
  if (f.values_count <= 1) {
    headers_.erase(headers_.begin() + i);
    modified_ = true;
    return true;
  }
  const Span v0 = value_span(f, 0);
  const Span v1 = value_span(f, 1);
  std::string text;
  bool same_buf = (v0.off & kArenaBit) == (f.line.off & kArenaBit);
  std::string_view line = view(f.line);
  if (same_buf && v0.off >= f.line.off && v1.off < f.line.off + f.line.len) {
    // Splice out [value0, value1) keeping every other byte of the line.
    text.append(line.substr(0, v0.off - f.line.off));
    text.append(line.substr(v1.off - f.line.off));
  } else {
    text.append(view(f.name)).append(": ");
    for (uint32_t k = 1; k < f.values_count; ++k) {
      if (k > 1) text.append(", ");
      text.append(view(value_span(f, k)));
    }
    text.append("\r\n");
  }
  uint32_t off = arena_append(text);
  Field nf;
  (void)scan_field(std::string_view(arena_.data() + (off & ~kArenaBit), text.size()), off, nf,
                   false);
  headers_[i] = nf;
  modified_ = true;
  return true;
}

Status Message::prepend_record_route(std::string_view value) {
  int i = find_first(HeaderId::kRecordRoute);
  return insert_line(i >= 0 ? static_cast<size_t>(i) : 0, "Record-Route", value);
}

void Message::set_max_forwards(uint32_t value) {
  if (value > 0x7fffffffu) value = 0x7fffffffu;
  std::string v = std::to_string(value);
  int i = find_first(HeaderId::kMaxForwards);
  if (i >= 0) {
    std::string name(view(headers_[i].name));
    set_line(static_cast<size_t>(i), name, v);
  } else {
    size_t pos = 0;
    for (size_t k = 0; k < headers_.size(); ++k)
      if (headers_[k].id == HeaderId::kVia) pos = k + 1;
    (void)insert_line(pos, "Max-Forwards", v);
  }
  max_forwards_ = value;
}

std::optional<uint32_t> Message::decrement_max_forwards() {
  if (max_forwards_ < 0) {
    set_max_forwards(70);
    return 70;
  }
  if (max_forwards_ == 0) return std::nullopt;
  uint32_t v = static_cast<uint32_t>(max_forwards_ - 1);
  set_max_forwards(v);
  return v;
}

Status Message::set_request_uri(std::string_view uri) {
  if (!request_) return make_error(ErrorKind::kInvalidArgument, "not a request");
  for (char c : uri)
    if (is_ws(c) || c == '\r' || c == '\n' || c == '\0')
      return make_error(ErrorKind::kInvalidArgument, "Request-URI contains whitespace or CR/LF");
  auto u = parse_uri(uri);
  if (!u) {
    Error e = u.error();
    e.kind = ErrorKind::kInvalidArgument;
    return e;
  }
  std::string method(this->method()), ver(version());
  std::string text;
  text.append(method).append(" ").append(uri).append(" ").append(ver).append("\r\n");
  uint32_t off = arena_append(text);
  start_line_ = {off, static_cast<uint32_t>(text.size())};
  method_ = {off, static_cast<uint32_t>(method.size())};
  ruri_ = {off + static_cast<uint32_t>(method.size() + 1), static_cast<uint32_t>(uri.size())};
  version_ = {off + static_cast<uint32_t>(method.size() + uri.size() + 2),
              static_cast<uint32_t>(ver.size())};
  modified_ = true;
  return {};
}

Status Message::add_header(std::string_view name, std::string_view value) {
  HeaderId id = header_id(name);
  if (id == HeaderId::kContentLength)
    return make_error(ErrorKind::kInvalidArgument,
                      "Content-Length is managed by the codec and cannot be added");
  if (is_single_instance(id) && has(id)) {
    std::string_view h = canonical_name(id);
    return make_error(ErrorKind::kInvalidArgument, std::string(h) + ": already present", h);
  }
  return insert_line(headers_.size(), name, value);
}

size_t Message::remove_header(std::string_view name) {
  HeaderId id = header_id(name);
  if (id == HeaderId::kContentLength) return 0;
  size_t removed = 0;
  for (size_t i = headers_.size(); i-- > 0;) {
    if (matches(headers_[i], id, name)) {
      headers_.erase(headers_.begin() + static_cast<std::ptrdiff_t>(i));
      ++removed;
    }
  }
  if (removed) {
    modified_ = true;
    if (id == HeaderId::kMaxForwards) max_forwards_ = -1;
    if (id == HeaderId::kCallId) call_id_ = {};
    if (id == HeaderId::kCSeq) { cseq_method_ = {}; cseq_number_ = 0; }
  }
  return removed;
}

// ---------------------------------------------------------------- serialize

size_t Message::serialized_size() const {
  if (!modified_) return raw_size_;
  size_t n = start_line_.len + blank_.len + body_.len;
  for (const Field& f : headers_) n += f.line.len;
  return n;
}

void Message::serialize_to(std::string& out) const {
  if (!modified_) {
    out.append(buf_.data(), raw_size_);
    return;
  }
  out.reserve(out.size() + serialized_size());
  out.append(view(start_line_));
  for (const Field& f : headers_) out.append(view(f.line));
  out.append(view(blank_));
  out.append(view(body_));
}

std::string Message::serialize() const {
  std::string out;
  serialize_to(out);
  return out;
}

}  // namespace fedgw::sip
