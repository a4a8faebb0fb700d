#include "gateway/tools/ua.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>

#include "gateway/sip/response.h"

namespace fedgw::tools {

namespace sip = fedgw::sip;

// ---- text helpers --------------------------------------------------------

std::string random_hex(size_t n) {
  std::string s;
  while (s.size() < n) s += sip::generate_tag();
  s.resize(n);
  return s;
}

ArrivalSchedule::ArrivalSchedule(double rate, Kind kind, uint64_t seed)
    : rate_(rate), kind_(kind), rng_(seed) {}

void ArrivalSchedule::advance() {
  ++advanced_;
  if (kind_ == Kind::kEven) {
    due_ = static_cast<double>(advanced_) / rate_;  // from the count: no drift over long runs
    return;
  }
  // Inverse transform by hand: std::exponential_distribution's algorithm, and so the schedule,
  // would differ between standard libraries.
  double uniform = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;  // 53 bits, in (0, 1)
  due_ += -std::log(uniform) / rate_;
}

std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

bool valid_sip_uri(const std::string& text, bool need_user) {
  auto u = sip::parse_uri(text);
  if (!u || !u->is_sip() || u->host_type == sip::HostType::kNone) return false;
  if (need_user && u->user.empty()) return false;
  return u->headers.empty();
}

}  // namespace

std::optional<std::string> normalize_target(std::string_view text, bool allow_bare_host) {
  if (text.empty()) return std::nullopt;
  for (char c : text)
    if (static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>' || c == '"')
      return std::nullopt;
  std::string uri;
  if (starts_with_icase(text, "sip:") || starts_with_icase(text, "sips:")) {
    uri = std::string(text);
    if (!valid_sip_uri(uri, false)) return std::nullopt;
    return uri;
  }
  if (text.find(':') != std::string_view::npos && text.find('@') == std::string_view::npos &&
      text.front() != '[')
    return std::nullopt;  // another scheme, or host:port without "sip:"
  uri = "sip:" + std::string(text);
  bool has_user = text.find('@') != std::string_view::npos;
  if (!has_user && !allow_bare_host) return std::nullopt;
  if (!valid_sip_uri(uri, has_user)) return std::nullopt;
  return uri;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

namespace {

// Content of the first quoted-string in `s`, unescaped; "" when none.
std::string first_quoted(std::string_view s) {
  size_t q = s.find('"');
  if (q == std::string_view::npos) return "";
  std::string out;
  for (size_t i = q + 1; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      out += s[++i];
    } else if (s[i] == '"') {
      return out;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string failure_detail(const sip::Message& response) {
  if (auto w = response.get("Warning")) {
    std::string t = first_quoted(*w);
    if (!t.empty()) return t;
  }
  if (auto r = response.get("Reason")) {
    size_t p = r->find("text=");
    if (p != std::string_view::npos) {
      std::string t = first_quoted(r->substr(p));
      if (!t.empty()) return t;
    }
  }
  return "";
}

std::string name_addr_without_tag(const sip::NameAddr& na) {
  std::string out;
  if (!na.display_name.empty()) out.append(na.display_name).append(" ");
  out.append("<").append(na.uri_text).append(">");
  na.params.for_each([&](const sip::ParamList::Param& p) {
    if (p.name.size() == 3 && starts_with_icase(p.name, "tag")) return;
    out.append(";").append(p.name);
    if (p.has_value) out.append("=").append(p.value);
  });
  return out;
}

// ---- PIDF ------------------------------------------------------------------

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string make_pidf(std::string_view entity, std::string_view basic, std::string_view note) {
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
      "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"";
  out.append(xml_escape(entity)).append("\"><tuple id=\"t1\"><status><basic>");
  out.append(xml_escape(basic)).append("</basic></status>");
  if (!note.empty()) out.append("<note>").append(xml_escape(note)).append("</note>");
  out.append("</tuple></presence>");
  return out;
}

namespace {

std::string xml_unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out += s[i];
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") out += '&';
    else if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else if (!ent.empty() && ent[0] == '#') {
      unsigned long v = 0;
      bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
      std::string digits(ent.substr(hex ? 2 : 1));
      v = std::strtoul(digits.c_str(), nullptr, hex ? 16 : 10);
      if (v > 0 && v < 0x80) out += static_cast<char>(v);
      else out.append("&").append(ent).append(";");
    } else {
      out.append("&").append(ent).append(";");
    }
    i = semi;
  }
  return out;
}

// Start tag of the first element with local name `name` (any prefix):
// returns [tag_begin, tag_end) where tag_end is just past '>'.
std::optional<std::pair<size_t, size_t>> find_element(std::string_view xml,
                                                      std::string_view name, size_t from = 0) {
  for (size_t p = xml.find('<', from); p != std::string_view::npos; p = xml.find('<', p + 1)) {
    size_t q = p + 1;
    size_t end = q;
    while (end < xml.size() && !std::isspace(static_cast<unsigned char>(xml[end])) &&
           xml[end] != '>' && xml[end] != '/')
      ++end;
    std::string_view qname = xml.substr(q, end - q);
    size_t colon = qname.find(':');
    std::string_view local = colon == std::string_view::npos ? qname : qname.substr(colon + 1);
    if (local != name) continue;
    size_t close = xml.find('>', end);
    if (close == std::string_view::npos) return std::nullopt;
    return std::make_pair(p, close + 1);
  }
  return std::nullopt;
}

std::optional<std::string> element_text(std::string_view xml, std::string_view name) {
  auto tag = find_element(xml, name);
  if (!tag) return std::nullopt;
  if (xml[tag->second - 2] == '/') return std::string();  // <note/>
  size_t close = xml.find("</", tag->second);
  if (close == std::string_view::npos) return std::nullopt;
  std::string text = xml_unescape(xml.substr(tag->second, close - tag->second));
  size_t b = text.find_first_not_of(" \t\r\n");
  size_t e = text.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : text.substr(b, e - b + 1);
}

}  // namespace

std::optional<Presence> parse_pidf(std::string_view body) {
  auto basic = element_text(body, "basic");
  if (!basic) return std::nullopt;
  Presence p;
  p.basic = *basic;
  if (auto note = element_text(body, "note")) p.note = *note;
  if (auto pres = find_element(body, "presence")) {
    std::string_view tag = body.substr(pres->first, pres->second - pres->first);
    size_t e = tag.find("entity=");
    if (e != std::string_view::npos && e + 7 < tag.size()) {
      char quote = tag[e + 7];
      size_t end = tag.find(quote, e + 8);
      if (end != std::string_view::npos) p.entity = xml_unescape(tag.substr(e + 8, end - e - 8));
    }
  }
  return p;
}

std::string describe(const Presence& p) {
  return "basic=" + p.basic + " note=\"" + one_line(p.note) + "\"";
}

std::string default_note(std::string_view basic) {
  return basic == "open" ? "Available" : "Offline";
}

// ---- SDP -------------------------------------------------------------------

namespace {

std::string sdp_head(std::string_view local_ip) {
  bool v6 = local_ip.find(':') != std::string_view::npos;
  std::string ip(local_ip);
  std::string family = v6 ? "IP6 " : "IP4 ";
  std::string id = std::to_string(std::random_device{}() & 0x7fffffff);
  return "v=0\r\no=- " + id + " 0 IN " + family + ip + "\r\ns=session\r\nc=IN " + family + ip +
         "\r\nt=0 0\r\n";
}

std::string message_mline(std::string_view uri) {
  return "m=message 5060 sip " + std::string(uri) + "\r\na=accept-types:text/plain\r\n";
}

}  // namespace

std::string make_im_sdp(std::string_view local_ip, std::string_view uri) {
  return sdp_head(local_ip) + message_mline(uri);
}

std::string make_im_answer(std::string_view offer, std::string_view local_ip,
                           std::string_view uri) {
  std::string out = sdp_head(local_ip);
  bool any = false;
  size_t pos = 0;
  while (pos < offer.size()) {
    size_t eol = offer.find('\n', pos);
    std::string_view line = offer.substr(pos, eol == std::string_view::npos ? offer.npos : eol - pos);
    pos = eol == std::string_view::npos ? offer.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, 2) != "m=") continue;
    any = true;
    // m=<media> <port> <proto> <fmt ...>
    std::string_view rest = line.substr(2);
    size_t sp1 = rest.find(' ');
    std::string_view media = rest.substr(0, sp1);
    if (media == "message") {
      out += message_mline(uri);
    } else {
      size_t sp2 = sp1 == std::string_view::npos ? sp1 : rest.find(' ', sp1 + 1);
      std::string tail = sp2 == std::string_view::npos ? " RTP/AVP 0" : std::string(rest.substr(sp2));
      out += "m=" + std::string(media) + " 0" + tail + "\r\n";
    }
  }
  if (!any) out += message_mline(uri);
  return out;
}

// ---- requests --------------------------------------------------------------

std::string build_request(const OutRequest& r, std::string_view sent_by, std::string_view branch) {
  std::string s;
  s.reserve(512 + r.body.size());
  s.append(r.method).append(" ").append(r.request_uri).append(" SIP/2.0\r\n");
  s.append("Via: SIP/2.0/TCP ").append(sent_by).append(";branch=").append(branch)
      .append(";rport\r\n");
  s.append("Max-Forwards: 70\r\n");
  for (const auto& route : r.routes) s.append("Route: ").append(route).append("\r\n");
  s.append("From: ").append(r.from).append("\r\n");
  s.append("To: ").append(r.to).append("\r\n");
  s.append("Call-ID: ").append(r.call_id).append("\r\n");
  s.append("CSeq: ").append(std::to_string(r.cseq)).append(" ").append(r.method).append("\r\n");
  if (!r.contact_user.empty())
    s.append("Contact: <sip:").append(r.contact_user).append("@").append(sent_by)
        .append(";transport=tcp>\r\n");
  s.append("User-Agent: fedua\r\n");
  for (const auto& [name, value] : r.headers) s.append(name).append(": ").append(value).append("\r\n");
  if (!r.body.empty()) s.append("Content-Type: ").append(r.content_type).append("\r\n");
  s.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n\r\n");
  s.append(r.body);
  return s;
}

namespace {

std::string route_value(const sip::NameAddr& na) {
  std::string v = "<" + std::string(na.uri_text) + ">";
  if (!na.params.empty()) v.append(";").append(na.params.raw());
  return v;
}

// URI inside a "<uri>;params" value.
std::string value_uri(std::string_view v) {
  auto na = sip::parse_name_addr(v);
  return na ? std::string(na->uri_text) : std::string(v);
}

std::optional<std::string> first_contact(const sip::Message& m) {
  auto contacts = m.contacts();
  if (!contacts || contacts->empty() || contacts->front().star) return std::nullopt;
  return std::string(contacts->front().uri_text);
}

}  // namespace

OutRequest Dialog::request(std::string method, uint32_t cseq) {
  OutRequest r;
  r.method = std::move(method);
  bool loose = true;
  if (!route_set.empty()) {
    std::string first = value_uri(route_set.front());  // the Uri views into it
    auto u = sip::parse_uri(first);
    loose = u && u->lr();
  }
  if (loose) {
    r.request_uri = remote_target;
    r.routes = route_set;
  } else {  // strict routing (RFC 3261 §12.2.1.1)
    r.request_uri = value_uri(route_set.front());
    r.routes.assign(route_set.begin() + 1, route_set.end());
    r.routes.push_back("<" + remote_target + ">");
  }
  r.from = local_uri + ";tag=" + local_tag;
  r.to = remote_uri + (remote_tag.empty() ? "" : ";tag=" + remote_tag);
  r.call_id = call_id;
  r.cseq = cseq ? cseq : ++local_cseq;
  return r;
}

std::string Dialog::remote_aor() const { return value_uri(remote_uri); }

std::optional<Dialog> dialog_as_uac(const OutRequest& request, const sip::Message& response) {
  auto to = response.to();
  auto tag = to.tag();
  auto rr = response.record_routes();
  if (!rr) return std::nullopt;
  Dialog d;
  d.call_id = request.call_id;
  auto from = sip::parse_name_addr(request.from);
  if (!from || !from->tag()) return std::nullopt;
  d.local_tag = std::string(*from->tag());
  d.local_uri = name_addr_without_tag(*from);
  d.remote_tag = tag ? std::string(*tag) : "";
  d.remote_uri = name_addr_without_tag(to);
  d.remote_target = first_contact(response).value_or(request.request_uri);
  for (auto it = rr->rbegin(); it != rr->rend(); ++it) d.route_set.push_back(route_value(*it));
  d.local_cseq = request.cseq;
  return d;
}

std::optional<Dialog> dialog_as_uas(const sip::Message& request, std::string local_tag) {
  auto rr = request.record_routes();
  auto from = request.from();
  if (!rr || !from.tag()) return std::nullopt;
  Dialog d;
  d.call_id = std::string(request.call_id());
  d.local_tag = std::move(local_tag);
  d.local_uri = name_addr_without_tag(request.to());
  d.remote_tag = std::string(*from.tag());
  d.remote_uri = name_addr_without_tag(from);
  d.remote_target = first_contact(request).value_or(std::string(from.uri_text));
  for (const auto& na : *rr) d.route_set.push_back(route_value(na));
  d.local_cseq = 0;
  return d;
}

void refresh_target(Dialog& d, const sip::Message& m) {
  if (auto c = first_contact(m)) d.remote_target = *c;
}

std::string Reply::summary() const {
  if (message) return std::to_string(code) + " " + reason + " (" + fixed(ms, 2) + " ms)";
  return failure + " (" + fixed(ms, 2) + " ms)";
}

std::string Reply::failure_text(double timeout_s) const {
  if (!message) {
    if (failure == "timeout") return "no final response within " + fixed(timeout_s, 1) + " s";
    return failure;
  }
  std::string s = std::to_string(code) + " " + reason;
  std::string detail = failure_detail(*message);
  // fedgw puts the detail into the reason phrase ("Not Found - ..."); add a
  // Warning/Reason text only when it says something more.
  if (!detail.empty() && reason.find(detail) == std::string::npos) s += " - " + one_line(detail);
  return s;
}

// ---- UserAgent -------------------------------------------------------------

UserAgent::UserAgent(Options options) : options_(std::move(options)) {}

UserAgent::~UserAgent() {
  if (fd_ >= 0) ::close(fd_);
}

std::string UserAgent::connect(const std::string& ip, uint16_t port, int timeout_ms) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    return "not an IP address: " + ip;
  }
  int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
  if (rc != 0 && errno != EINPROGRESS) {
    std::string e = std::strerror(errno);
    ::close(fd);
    return e;
  }
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    int n;
    do n = ::poll(&p, 1, timeout_ms); while (n < 0 && errno == EINTR);
    if (n == 0) {
      ::close(fd);
      return "connection timed out";
    }
    int err = 0;
    socklen_t el = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err != 0) {
      ::close(fd);
      return std::strerror(err);
    }
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_storage local{};
  socklen_t ll = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll);
  char buf[INET6_ADDRSTRLEN] = {};
  if (local.ss_family == AF_INET6) {
    auto* l6 = reinterpret_cast<sockaddr_in6*>(&local);
    inet_ntop(AF_INET6, &l6->sin6_addr, buf, sizeof buf);
    local_port_ = ntohs(l6->sin6_port);
  } else {
    auto* l4 = reinterpret_cast<sockaddr_in*>(&local);
    inet_ntop(AF_INET, &l4->sin_addr, buf, sizeof buf);
    local_port_ = ntohs(l4->sin_port);
  }
  local_ip_ = buf;
  fd_ = fd;
  return "";
}

std::string UserAgent::sent_by() const {
  if (local_ip_.find(':') != std::string::npos)
    return "[" + local_ip_ + "]:" + std::to_string(local_port_);
  return local_ip_ + ":" + std::to_string(local_port_);
}

std::string UserAgent::aor() const { return "sip:" + options_.user + "@" + options_.domain; }

std::string UserAgent::local_name_addr() const {
  std::string s;
  if (!options_.display_name.empty()) {
    s += '"';
    for (char c : options_.display_name) {
      if (c == '"' || c == '\\') s += '\\';
      s += c;
    }
    s += "\" ";
  }
  return s + "<" + aor() + ">";
}

OutRequest UserAgent::new_request(std::string method, const std::string& to_uri) const {
  OutRequest r;
  r.method = std::move(method);
  r.request_uri = to_uri;
  r.from = local_name_addr() + ";tag=" + sip::generate_tag();
  r.to = "<" + to_uri + ">";
  r.call_id = random_hex(24) + "@" + (local_ip_.empty() ? options_.domain : local_ip_);
  r.cseq = 1;
  r.contact_user = options_.user;
  return r;
}

std::string UserAgent::send_request(const OutRequest& r, ReplyFn fn, double timeout_s) {
  std::string branch = "z9hG4bK" + random_hex(20);
  Clock::time_point now = Clock::now();
  send_raw(build_request(r, sent_by(), branch));  // nothing when closed
  auto timeout = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(timeout_s));
  txs_.emplace(branch, Tx{r, std::move(fn), now, now + timeout});
  return branch;
}

void UserAgent::send_stateless(const OutRequest& r) {
  send_raw(build_request(r, sent_by(), "z9hG4bK" + random_hex(20)));
}

void UserAgent::respond(const sip::Message& request, int code, std::string_view reason,
                        const HeaderList& headers, std::string_view content_type,
                        std::string_view body, std::string_view to_tag) {
  auto r = sip::make_response(request, code, reason, to_tag);
  if (!r) {
    std::fprintf(stderr, "fedua: cannot answer %.*s: %s\n", static_cast<int>(request.method().size()),
                 request.method().data(), r.error().message.c_str());
    return;
  }
  // RFC 3261 §12.1.1: a response that establishes a dialog carries the
  // request's Record-Route (the gateway record-routes itself; without it,
  // in-dialog requests would target our private Contact).
  std::string_view method = request.method();
  if (code >= 101 && code < 300 &&
      (method == "INVITE" || method == "SUBSCRIBE" || method == "NOTIFY" || method == "REFER")) {
    for (size_t i = 0; i < request.header_count(); ++i) {
      auto h = request.header(i);
      if (h.id == sip::HeaderId::kRecordRoute) (void)r->add_header("Record-Route", h.value);
    }
  }
  for (const auto& [name, value] : headers) (void)r->add_header(name, value);
  (void)r->add_header("Server", "fedua");
  if (!body.empty()) (void)r->add_header("Content-Type", content_type);
  std::string wire = r->serialize();
  if (!body.empty()) {
    static constexpr std::string_view kCl = "\r\nContent-Length: 0\r\n";
    size_t pos = wire.rfind(kCl);
    if (pos != std::string::npos)
      wire.replace(pos + 2, kCl.size() - 2, "Content-Length: " + std::to_string(body.size()) + "\r\n");
    wire.append(body);
  }
  send_raw(wire);
}

void UserAgent::trace(std::string_view dir, std::string_view data) const {
  if (!options_.verbose) return;
  std::fprintf(stderr, "fedua: %.*s %zu bytes\n%.*s\n", static_cast<int>(dir.size()), dir.data(),
               data.size(), static_cast<int>(data.size()), data.data());
}

void UserAgent::send_raw(std::string_view data) {
  if (fd_ < 0) return;
  trace(">>> sent", data);
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  }
  out_.append(data);
  if (!hold_writes_) write_some();
}

void UserAgent::write_some() {
  while (fd_ >= 0 && out_off_ < out_.size()) {
    ssize_t n = ::send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
    if (n > 0) {
      out_off_ += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      close(std::string("write failed: ") + std::strerror(errno));
      return;
    }
  }
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  } else if (out_off_ > (1u << 20)) {
    out_.erase(0, out_off_);
    out_off_ = 0;
  }
}

void UserAgent::read_some() {
  char buf[65536];
  for (int i = 0; i < 16 && fd_ >= 0; ++i) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      std::string_view data(buf, static_cast<size_t>(n));
      if (!framer_.feed(data, *this)) {
        if (fd_ >= 0) close("unframeable data from the gateway");
        return;
      }
      if (static_cast<size_t>(n) < sizeof buf) return;
    } else if (n == 0) {
      close("connection closed by the gateway");
      return;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else if (errno == ECONNRESET) {
      close("connection reset by the gateway");
      return;
    } else {
      close(std::string("read failed: ") + std::strerror(errno));
      return;
    }
  }
}

void UserAgent::close(std::string reason) {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  close_reason_ = std::move(reason);
  // The transactions fail in the next run_until(), never inside a send.
}

void UserAgent::fail_all() {
  auto txs = std::move(txs_);
  txs_.clear();
  Clock::time_point now = Clock::now();
  for (auto& [branch, tx] : txs) {
    Reply rep;
    rep.failure = close_reason_.empty() ? "connection closed" : close_reason_;
    rep.ms = ms_between(tx.start, now);
    tx.fn(rep);
  }
}

void UserAgent::on_message(sip::Message&& m) {
  trace("<<< received", m.raw());
  if (m.is_request()) {
    if (on_request_) {
      on_request_(std::move(m));
    } else if (m.method() != "ACK") {
      respond(m, 500, "Server Internal Error");
    }
    return;
  }
  auto branch = m.top_via_branch();
  if (!branch) return;
  auto it = txs_.find(std::string(*branch));
  if (it == txs_.end() || it->second.request.method != m.cseq().method) return;  // stray
  if (m.status_code() < 200) return;  // 100 Trying, 180, 183: wait for the final one
  Tx tx = std::move(it->second);
  txs_.erase(it);
  if (tx.request.method == "INVITE" && m.status_code() >= 300) {
    // RFC 3261 §17.1.1.3: the INVITE client transaction ACKs a non-2xx.
    OutRequest ack = tx.request;
    ack.method = "ACK";
    if (auto to = m.get(sip::HeaderId::kTo)) ack.to = std::string(*to);
    ack.headers.clear();
    ack.body.clear();
    ack.contact_user.clear();
    send_raw(build_request(ack, sent_by(), *branch));
  }
  Reply rep;
  rep.message = &m;
  rep.code = m.status_code();
  rep.reason = std::string(m.reason());
  rep.ms = ms_between(tx.start, Clock::now());
  tx.fn(rep);
}

void UserAgent::on_message_error(const sip::Error& error, std::string_view raw) {
  std::fprintf(stderr, "fedua: invalid message from the gateway ignored: %s\n",
               error.message.c_str());
  trace("<<< invalid", raw);
}

void UserAgent::on_ping() { send_raw(sip::StreamFramer::kPong); }

void UserAgent::on_stream_error(const sip::Error& error) {
  close("unframeable data from the gateway: " + error.message);
}

void UserAgent::expire(Clock::time_point now) {
  std::vector<std::string> due;
  for (const auto& [branch, tx] : txs_)
    if (tx.deadline <= now) due.push_back(branch);
  for (const auto& branch : due) {
    auto it = txs_.find(branch);
    if (it == txs_.end()) continue;
    Tx tx = std::move(it->second);
    txs_.erase(it);
    Reply rep;
    rep.failure = "timeout";
    rep.ms = ms_between(tx.start, now);
    tx.fn(rep);
  }
}

bool UserAgent::run_until(const std::function<bool()>& done, Clock::time_point deadline) {
  for (;;) {
    if (fd_ < 0) {
      fail_all();
      return done();
    }
    if (done()) return true;
    Clock::time_point now = Clock::now();
    expire(now);
    if (done()) return true;
    if (now >= deadline) return false;
    Clock::time_point wake = std::min(deadline, now + std::chrono::milliseconds(200));
    for (const auto& [branch, tx] : txs_) wake = std::min(wake, tx.deadline);
    // ppoll, not poll: a timeout in whole milliseconds rounded every sub-millisecond wait up to 1 ms, so a
    // paced load (fedua load RATE) went out in bursts (at 5,000/s: 5-6 requests every 1.1-1.2 ms).
    auto ns = std::max<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(wake - now).count(), 0);
    timespec timeout{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    pollfd p{fd_, static_cast<short>(POLLIN | (out_off_ < out_.size() ? POLLOUT : 0)), 0};
    int n = ::ppoll(&p, 1, &timeout, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(std::string("poll failed: ") + std::strerror(errno));
      continue;
    }
    if (n == 0) continue;
    if (p.revents & POLLOUT) write_some();
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) read_some();
  }
}

void UserAgent::flush(Clock::time_point deadline) {
  while (fd_ >= 0 && out_off_ < out_.size() && Clock::now() < deadline) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, 50) > 0) write_some();
  }
}

}  // namespace fedgw::tools
