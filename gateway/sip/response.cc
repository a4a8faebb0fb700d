#include "gateway/sip/response.h"

#include <algorithm>
#include <random>

#include "gateway/sip/syntax.h"

namespace fedgw::sip {

std::string generate_tag() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = rng();
  std::string s(16, '0');
  for (int i = 0; i < 16; ++i) s[i] = kHex[(v >> (i * 4)) & 0xf];
  return s;
}

namespace {

// Status line prefix "SIP/2.0 NNN " and its CRLF.
constexpr size_t kStatusPrefix = 12;

bool is_ctl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

// Length of `s` cut to at most `max` bytes without splitting a UTF-8 sequence.
size_t utf8_cut(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  return n;
}

// Appends `reason` with control characters (CR, LF, NUL, ...) turned into
// spaces and cut to `max` bytes: a reason is free text (DNS and TLS errors,
// certificate names) and must not break the status line.
void append_reason(std::string& out, std::string_view reason, size_t max) {
  reason = reason.substr(0, utf8_cut(reason, max));
  for (char c : reason) out.push_back(is_ctl(static_cast<unsigned char>(c)) ? ' ' : c);
}

void append_status_line(std::string& out, int code, std::string_view reason, size_t max_reason) {
  out.append("SIP/2.0 ").append(std::to_string(code)).append(" ");
  append_reason(out, reason, max_reason);
  out.append("\r\n");
}

// Shortens the reason of the status line at the start of `out` so that
// `out` is at most `max` bytes long (as far as the reason allows).
void shrink_reason(std::string& out, size_t max) {
  if (out.size() <= max) return;
  size_t eol = out.find("\r\n");
  if (eol == std::string::npos || eol < kStatusPrefix) return;
  std::string_view reason(out.data() + kStatusPrefix, eol - kStatusPrefix);
  size_t excess = out.size() - max;
  size_t keep = excess >= reason.size() ? 0 : utf8_cut(reason, reason.size() - excess);
  out.erase(kStatusPrefix + keep, reason.size() - keep);
}

}  // namespace

Result<Message> make_response(const Message& request, int code, std::string_view reason,
                              std::string_view to_tag, const Limits& limits) {
  if (!request.is_request())
    return make_error(ErrorKind::kInvalidArgument, "make_response: not a request");
  if (code < 100 || code > 699)
    return make_error(ErrorKind::kInvalidArgument,
                      "make_response: status code " + std::to_string(code) + " out of range");
  if (!to_tag.empty() && !detail::is_token(to_tag))
    return make_error(ErrorKind::kInvalidArgument,
                      "make_response: tag \"" + std::string(to_tag) + "\" is not a token");
  const size_t line_budget = limits.max_line_bytes > kStatusPrefix + 2
                                 ? limits.max_line_bytes - kStatusPrefix - 2
                                 : 0;
  std::string out;
  out.reserve(256 + reason.size() + request.raw().size() / 2);
  append_status_line(out, code, reason, line_budget);
  size_t longest = out.size();
  for (size_t i = 0; i < request.header_count(); ++i) {
    Message::Header h = request.header(i);
    const size_t before = out.size();
    switch (h.id) {
      case HeaderId::kVia:
      case HeaderId::kFrom:
      case HeaderId::kCallId:
      case HeaderId::kCSeq:
        out.append(h.line);
        break;
      case HeaderId::kTo: {
        auto to = parse_name_addr(h.value, "To");
        if (to && !to->tag() && code > 100) {
          std::string tag = to_tag.empty() ? generate_tag() : std::string(to_tag);
          out.append("To: ").append(h.value).append(";tag=").append(tag).append("\r\n");
        } else {
          out.append(h.line);
        }
        break;
      }
      default:
        break;
    }
    longest = std::max(longest, out.size() - before);
  }
  out.append("Content-Length: 0\r\n\r\n");
  shrink_reason(out, limits.max_header_bytes);
  // The copied lines passed the caller's limits on the way in (or the caller
  // passed smaller ones); re-parse with room for exactly what was built.
  ParseOptions o;
  o.limits = limits;
  o.limits.max_header_bytes = std::max(limits.max_header_bytes, out.size());
  o.limits.max_line_bytes = std::max(limits.max_line_bytes, longest);
  o.limits.max_header_count = std::max(limits.max_header_count, request.header_count() + 1);
  o.limits.max_via_values = std::max(limits.max_via_values, request.count(HeaderId::kVia));
  o.require_via_branch = false;
  return parse_message(out, o);
}

namespace {

// The standard phrase a raw-built error response starts with.
std::string_view standard_phrase(int code, std::string_view fallback) {
  switch (code) {
    case 400: return "Bad Request";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 416: return "Unsupported URI Scheme";
    case 420: return "Bad Extension";
    case 483: return "Too Many Hops";
    case 505: return "Version Not Supported";
    case 513: return "Message Too Large";
    default: return fallback;
  }
}

// What is wrong, for the reason phrase: "missing To header",
// "malformed CSeq: ..." or the parser's message.
std::string error_detail(const Error& error) {
  if (error.kind == ErrorKind::kMissingHeader && !error.header.empty())
    return "missing " + error.header + " header";
  if (error.kind == ErrorKind::kMalformedHeader && !error.header.empty())
    return "malformed " + error.message;
  return error.message;
}

// Appends the value `raw` (text after the colon, possibly spanning folded
// lines) trimmed and with each fold (CRLF + whitespace) joined into one SP.
// Returns false, leaving `out` as it was, when the value holds a control
// character other than HTAB (a bare CR or LF, NUL, ...).
bool append_unfolded(std::string& out, std::string_view raw) {
  const size_t mark = out.size();
  raw = detail::trim_ws(raw);
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\r' && i + 2 < raw.size() && raw[i + 1] == '\n' && detail::is_ws(raw[i + 2])) {
      while (!out.empty() && out.size() > mark && detail::is_ws(out.back())) out.pop_back();
      out.push_back(' ');
      i += 2;
      while (i + 1 < raw.size() && detail::is_ws(raw[i + 1])) ++i;
      continue;
    }
    if (is_ctl(static_cast<unsigned char>(c))) {
      out.resize(mark);
      return false;
    }
    out.push_back(c);
  }
  return true;
}

// First non-empty element of a comma-separated header value (commas inside
// quoted strings do not count; the parser accepts empty elements).
std::string_view first_list_element(std::string_view v) {
  bool quoted = false;
  size_t begin = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (quoted && v[i] == '\\') { ++i; continue; }
    if (v[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && v[i] == ',') {
      std::string_view e = detail::trim_ws(v.substr(begin, i - begin));
      if (!e.empty()) return e;
      begin = i + 1;
    }
  }
  return detail::trim_ws(v.substr(std::min(begin, v.size())));
}

// True for `Method SP ... SP SIP/x`: a token method (so not a status line,
// whose first word "SIP/2.0" is no token) and a last word naming a SIP
// version. Garbage and responses are not answered.
bool looks_like_request_line(std::string_view line, std::string_view* method) {
  for (char c : line)
    if (is_ctl(static_cast<unsigned char>(c))) return false;
  line = detail::trim_ws(line);
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos || sp == 0) return false;
  *method = line.substr(0, sp);
  if (!detail::is_token(*method)) return false;
  std::string_view version = line.substr(line.find_last_of(' ') + 1);
  return version.size() >= 4 && detail::iequals(version.substr(0, 4), "SIP/");
}

}  // namespace

std::optional<std::string> make_response_to_malformed(std::string_view raw, const Error& error,
                                                      std::string_view to_tag) {
  if (error.status < 100 || error.status > 699) return std::nullopt;
  if (!to_tag.empty() && !detail::is_token(to_tag)) to_tag = {};
  while (raw.size() >= 2 && raw[0] == '\r' && raw[1] == '\n') raw.remove_prefix(2);
  size_t eol = raw.find("\r\n");
  if (eol == std::string_view::npos) return std::nullopt;
  std::string_view method;
  if (!looks_like_request_line(raw.substr(0, eol), &method)) return std::nullopt;
  if (method == "ACK") return std::nullopt;  // RFC 3261 §17.2.1: ACK is never answered

  std::string out;
  out.reserve(256 + std::min<size_t>(raw.size(), 4096));
  out.append("SIP/2.0 ").append(std::to_string(error.status)).append(" ");
  std::string_view phrase = standard_phrase(error.status, error.reason);
  append_reason(out, phrase, 64);
  std::string detail = error_detail(error);
  if (!detail.empty()) {
    out.append(" - ");
    append_reason(out, detail, 160);
  }
  out.append("\r\n");

  // Header lines with their folded continuations; a line without CRLF at
  // the end (a cut head) is left out.
  std::string_view from, to, call_id, cseq;
  bool top_via_seen = false;
  size_t pos = eol + 2;
  while (pos < raw.size()) {
    size_t end = raw.find("\r\n", pos);
    if (end == std::string_view::npos || end == pos) break;  // cut, or the blank line
    while (end + 2 < raw.size() && detail::is_ws(raw[end + 2])) {
      size_t next = raw.find("\r\n", end + 2);
      if (next == std::string_view::npos) break;
      end = next;
    }
    std::string_view line = raw.substr(pos, end - pos);
    pos = end + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    HeaderId id = header_id(detail::trim_ws(line.substr(0, colon)));
    std::string_view value = line.substr(colon + 1);
    if (id == HeaderId::kVia) {
      const size_t mark = out.size();
      out.append("Via: ");
      if (!append_unfolded(out, value)) {
        out.resize(mark);
        if (!top_via_seen) return std::nullopt;
        continue;
      }
      if (!top_via_seen) {
        // The response travels back by the top Via (RFC 3261 §18.2.2); one
        // that does not parse cannot be answered.
        // Its parameters may be broken (RFC 4475 badinv01 still gets its 400):
        // the sent-protocol and sent-by are what must be readable.
        std::string_view top = first_list_element(
            std::string_view(out.data() + mark + 5, out.size() - mark - 5));
        if (!parse_via(top) && !parse_via(detail::trim_ws(top.substr(0, top.find(';')))))
          return std::nullopt;
        top_via_seen = true;
      }
      out.append("\r\n");
    } else if (from.empty() && id == HeaderId::kFrom) {
      from = value;
    } else if (to.empty() && id == HeaderId::kTo) {
      to = value;
    } else if (call_id.empty() && id == HeaderId::kCallId) {
      call_id = value;
    } else if (cseq.empty() && id == HeaderId::kCSeq) {
      cseq = value;
    }
  }
  if (!top_via_seen) return std::nullopt;

  auto copy = [&out](std::string_view name, std::string_view value) {
    if (value.empty()) return;
    const size_t mark = out.size();
    out.append(name).append(": ");
    if (append_unfolded(out, value)) out.append("\r\n");
    else out.resize(mark);
  };
  copy("From", from);
  if (!to.empty()) {
    const size_t mark = out.size();
    out.append("To: ");
    if (append_unfolded(out, to)) {
      std::string_view v(out.data() + mark + 4, out.size() - mark - 4);
      auto parsed = parse_name_addr(v, "To");
      // A To too broken to parse still gets a tag unless it seems to have one.
      bool has_tag = parsed ? parsed->tag().has_value()
                            : v.find(";tag=") != std::string_view::npos ||
                                  v.find(";TAG=") != std::string_view::npos;
      if (!has_tag) out.append(";tag=").append(to_tag.empty() ? generate_tag() : std::string(to_tag));
      out.append("\r\n");
    } else {
      out.resize(mark);
    }
  }
  copy("Call-ID", call_id);
  copy("CSeq", cseq);
  out.append("Content-Length: 0\r\n\r\n");
  return out;
}

Result<Message> make_error_response(const Message& request, const Error& error,
                                    std::string_view to_tag) {
  if (error.status < 100)
    return make_error(ErrorKind::kInvalidArgument, "error has no SIP status");
  return make_response(request, error.status, error.reason, to_tag);
}

Status check_max_forwards(const Message& request) {
  auto mf = request.max_forwards();
  if (mf && *mf == 0)
    return make_error(ErrorKind::kTooManyHops, "Max-Forwards: 0, request cannot be forwarded",
                      "Max-Forwards");
  return {};
}

std::vector<std::string> unsupported_option_tags(const Message& request, HeaderId which,
                                                 const std::vector<std::string_view>& supported) {
  std::vector<std::string> out;
  for (std::string_view tag : request.get_all(which)) {
    bool ok = false;
    for (std::string_view s : supported)
      if (detail::iequals(s, tag)) { ok = true; break; }
    if (ok) continue;
    bool dup = false;
    for (const std::string& o : out)
      if (detail::iequals(o, tag)) { dup = true; break; }
    if (!dup) out.emplace_back(tag);
  }
  return out;
}

Status check_option_tags(const Message& request, HeaderId which,
                         const std::vector<std::string_view>& supported) {
  auto bad = unsupported_option_tags(request, which, supported);
  if (bad.empty()) return {};
  std::string h(canonical_name(which));
  std::string m = h + ": unsupported option tags:";
  for (size_t i = 0; i < bad.size(); ++i) m += (i ? ", " : " ") + bad[i];
  return make_error(ErrorKind::kBadExtension, std::move(m), h);
}

Result<Message> make_bad_extension_response(const Message& request, HeaderId which,
                                            const std::vector<std::string_view>& supported,
                                            std::string_view to_tag) {
  auto bad = unsupported_option_tags(request, which, supported);
  auto r = make_response(request, 420, "Bad Extension", to_tag);
  if (!r) return r;
  if (!bad.empty()) {
    std::string list;
    for (size_t i = 0; i < bad.size(); ++i) {
      if (i) list += ", ";
      list += bad[i];
    }
    Status st = r->add_header("Unsupported", list);
    if (!st.ok()) return st.error();
  }
  return r;
}

}  // namespace fedgw::sip
