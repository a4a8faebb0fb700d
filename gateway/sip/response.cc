#include "gateway/sip/response.h"

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

Result<Message> make_response(const Message& request, int code, std::string_view reason,
                              std::string_view to_tag) {
  if (!request.is_request())
    return make_error(ErrorKind::kInvalidArgument, "make_response: not a request");
  if (code < 100 || code > 699)
    return make_error(ErrorKind::kInvalidArgument, "make_response: status code out of range");
  for (char c : reason)
    if (c == '\r' || c == '\n' || c == '\0')
      return make_error(ErrorKind::kInvalidArgument, "make_response: reason contains CR/LF");
  if (!to_tag.empty() && !detail::is_token(to_tag))
    return make_error(ErrorKind::kInvalidArgument, "make_response: tag is not a token");
  std::string out;
  out.reserve(512);
  out.append("SIP/2.0 ").append(std::to_string(code)).append(" ").append(reason).append("\r\n");
  for (size_t i = 0; i < request.header_count(); ++i) {
    Message::Header h = request.header(i);
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
  }
  out.append("Content-Length: 0\r\n\r\n");
  return parse_message(out);
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
