// libFuzzer target for the SIP codec: stream framer (chunked at a
// data-chosen size, and in one piece: same events), datagram parser,
// serializer round trip, proxy edits + re-parse, make_response.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include "gateway/sip/framer.h"
#include "gateway/sip/message.h"
#include "gateway/sip/response.h"

using namespace fedgw::sip;

namespace {

void check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "sip_fuzz invariant failed: %s\n", what);
    std::abort();
  }
}

ParseOptions relaxed(const ParseOptions& o) {
  ParseOptions r = o;
  r.stream = false;
  r.limits.max_header_bytes = 1 << 20;
  r.limits.max_line_bytes = 1 << 20;
  r.limits.max_header_count = 1 << 16;
  r.limits.max_via_values = 1 << 16;
  r.limits.max_route_values = 1 << 16;
  return r;
}

void same_message(const Message& a, const Message& b) {
  check(a.is_request() == b.is_request(), "kind");
  check(a.start_line() == b.start_line(), "start line");
  check(a.header_count() == b.header_count(), "header count");
  for (size_t i = 0; i < a.header_count(); ++i) {
    check(a.header(i).name == b.header(i).name, "name");
    check(a.header(i).value == b.header(i).value, "value");
    check(a.header(i).value_count == b.header(i).value_count, "value count");
  }
  check(a.body() == b.body(), "body");
}

void exercise(const Message& m, const ParseOptions& o) {
  // Accessors must not crash.
  (void)m.contacts();
  (void)m.routes();
  (void)m.record_routes();
  (void)m.vias();
  (void)m.from().tag();
  (void)m.to().display_name_decoded();
  (void)m.get_all("Supported");
  if (m.is_request()) {
    auto u = m.parse_request_uri();
    check(u.ok(), "validated Request-URI re-parses");
    (void)u->user_decoded();
    (void)u->param_decoded("transport");
  }
  check(m.top_via_branch() == m.top_via().branch(), "top_via_branch agrees with the full Via parse");
  // Unmodified serialization is byte-exact and re-parses equally.
  std::string s = m.serialize();
  check(s == m.raw(), "round trip byte-exact");
  auto again = parse_message(s, relaxed(o));
  check(again.ok(), "serialization re-parses");
  same_message(m, *again);

  // Push + pop restores the original bytes.
  Message e = m;
  check(e.prepend_via("SIP/2.0/TLS gw.example.net;branch=z9hG4bKfuzz").ok(), "prepend_via");
  check(e.remove_top_via(), "remove_top_via");
  check(e.serialize() == m.raw(), "push+pop restores bytes");

  // Proxy pipeline, then re-parse.
  Message p = m;
  check(p.prepend_via("SIP/2.0/TLS gw.example.net;branch=z9hG4bKfuzz").ok(), "prepend_via 2");
  auto mf = p.decrement_max_forwards();
  (void)p.remove_top_route();
  check(p.prepend_record_route("<sip:gw.example.net;lr>").ok(), "record-route");
  check(p.add_header("X-Fuzz", "1").ok(), "add_header");
  if (p.is_request()) check(p.set_request_uri("sip:next@192.0.2.1:5060").ok(), "ruri");
  std::string ps = p.serialize();
  check(ps.size() == p.serialized_size(), "serialized_size");
  auto pr = parse_message(ps, relaxed(o));
  if (!pr.ok()) std::fprintf(stderr, "%s\n---\n%s\n", pr.error().message.c_str(), ps.c_str());
  check(pr.ok(), "edited message re-parses");
  check(pr->top_via().branch() == std::optional<std::string_view>("z9hG4bKfuzz"), "top via");
  check(pr->top_via_branch() == std::optional<std::string_view>("z9hG4bKfuzz"), "top via branch");
  if (mf) check(pr->max_forwards() == mf, "max-forwards");
  check(pr->body() == m.body(), "body kept");
  same_message(p, *pr);
  // Pop the Via we pushed on the re-parsed copy (response path).
  Message q = std::move(pr).value();
  check(q.remove_top_via(), "pop own via");
  (void)q.serialize();

  if (m.is_request()) {
    auto r = make_response(m, 400, "Bad Request");
    check(r.ok(), "make_response");
    check(r->count(HeaderId::kVia) == m.count(HeaderId::kVia), "response vias");
    check(make_response(m, 502, std::string("x\r\n\0y", 5), {}, o.limits).ok(), "hostile reason");
    (void)check_max_forwards(m);
    (void)make_bad_extension_response(m, HeaderId::kProxyRequire, {"path"});
  }
}

struct Collect : StreamFramer::Callbacks {
  std::vector<std::string> events;
  std::vector<Message> msgs;
  void on_message(Message&& m) override {
    events.push_back("M" + std::string(m.raw()));
    msgs.push_back(std::move(m));
  }
  void on_message_error(const Error& e, std::string_view raw) override {
    check(!e.close_connection, "message error keeps stream");
    if (auto r = make_response_to_malformed(raw, e)) check(r->ends_with("\r\n\r\n"), "raw answer framed");
    events.push_back("E" + std::string(raw));
  }
  void on_ping() override { events.push_back("ping"); }
  void on_pong() override { events.push_back("pong"); }
  void on_stream_error(const Error& e) override {
    check(e.close_connection, "stream error closes");
    events.push_back("X" + std::string(error_kind_name(e.kind)));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t chunk = 1 + data[0] % 97;
  const uint8_t flags = data[1];
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  ParseOptions o;
  if (flags & 1) {  // small limits to reach them
    o.limits.max_header_bytes = 512;
    o.limits.max_body_bytes = 64;
    o.limits.max_header_count = 12;
    o.limits.max_line_bytes = 128;
    o.limits.max_via_values = 3;
    o.limits.max_route_values = 3;
  }
  o.require_via_branch = (flags & 2) == 0;

  // Stream: chunked vs. whole must give identical events.
  StreamFramer chunked(o), whole(o);
  Collect a, b;
  for (size_t off = 0; off < input.size(); off += chunk)
    chunked.feed(input.substr(off, chunk), a);
  whole.feed(input, b);
  check(a.events == b.events, "chunking independence");
  check(chunked.buffered_bytes() <= o.limits.max_header_bytes + o.limits.max_body_bytes,
        "bounded buffer");
  for (const Message& m : b.msgs) exercise(m, o);

  // Datagram.
  auto d = parse_message(input, o);
  if (d.ok()) exercise(*d, o);
  return 0;
}
