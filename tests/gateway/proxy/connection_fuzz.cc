// libFuzzer target for the SIP connection core (gateway/proxy/connection.h)
// over plain TCP: the input is a sequence of operations — socket bytes in
// random chunks, well-formed responses to transmitted requests, requests from
// the peer, transmit (tracked or CANCEL/ACK), respond, clock ticks, refused
// writes, connect and reconnect — applied with an injected clock.
//
// Invariants: no crash; a response or failure only comes for a request still
// awaited, at most one failure each; a tracked request leaves the core only
// by a final response, a failure or (on a tick) expiry of its window; after
// closed() nothing is awaited any more and new requests fail at once; the bytes written stay bounded by
// what went in.
#include <any>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "gateway/proxy/connection.h"

using namespace fedgw;
using clock_type = proxy::sip_connection::clock;

namespace {

void check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "connection_fuzz invariant failed: %s\n", what);
    std::abort();
  }
}

struct input {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  bool empty() const { return at >= size; }
  uint8_t byte() { return at < size ? data[at++] : 0; }
  std::string_view bytes(size_t n) {
    n = std::min(n, size - at);
    std::string_view v(reinterpret_cast<const char*>(data) + at, n);
    at += n;
    return v;
  }
};

struct request_record {
  std::string branch;  // empty: CANCEL/ACK, untracked
  std::string method;
  bool open = true;
  int failures = 0;
  bool event_this_op = false;
};

struct fuzz_events : proxy::connection_events {
  std::map<int, request_record>* requests = nullptr;
  size_t written = 0;
  bool refuse_writes = false;
  bool close_requested = false;

  request_record& of(const proxy::connection_token& token) {
    const int* id = std::any_cast<int>(&token);
    check(id != nullptr, "token is the one transmitted");
    auto it = requests->find(*id);
    check(it != requests->end(), "token known");
    return it->second;
  }

  bool write(std::string_view bytes) override {
    if (refuse_writes) return false;
    written += bytes.size();
    return true;
  }
  void close(bool) override { close_requested = true; }
  void request(sip::Message&&) override {}
  void response(const proxy::connection_token& token, sip::Message&&) override {
    auto& r = of(token);
    check(r.open, "response only while awaited");
    check(!r.branch.empty(), "no response for an untracked request");
    r.event_this_op = true;
  }
  void failed(const proxy::connection_token& token, const std::string&, int status, const std::string&) override {
    auto& r = of(token);
    check(r.open, "failure only while awaited");
    check(++r.failures == 1, "a request fails at most once");
    check(status >= 400 && status <= 699, "failure status is final");
    r.open = false;
    r.event_this_op = true;
  }
  void established(const std::vector<std::string>& identities) override {
    check(identities.empty(), "plain TCP has no identities");
  }
  void log(severity, const char*, const std::string&) override {}
};

std::string response_text(int code, const request_record& r, int id) {
  return "SIP/2.0 " + std::to_string(code) + " X\r\nVia: SIP/2.0/TCP gw.a.test;branch=" + r.branch +
         "\r\nFrom: <sip:alice@a.test>;tag=1\r\nTo: <sip:bob@b.test>;tag=2\r\nCall-ID: c" + std::to_string(id) +
         "\r\nCSeq: 1 " + r.method + "\r\nContent-Length: 0\r\n\r\n";
}

std::string request_text(const std::string& method, const std::string& branch, int id) {
  return method + " sip:bob@b.test SIP/2.0\r\nVia: SIP/2.0/TCP gw.a.test;branch=" + branch +
         "\r\nMax-Forwards: 70\r\nFrom: <sip:alice@a.test>;tag=1\r\nTo: <sip:bob@b.test>\r\nCall-ID: c" +
         std::to_string(id) + "\r\nCSeq: 1 " + method + "\r\nContent-Length: 0\r\n\r\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  input in{data, size};
  uint8_t setup = in.byte();
  auto policy = std::make_shared<proxy::settings>();
  policy->discovered_rate_limit = 3;
  proxy::connection_options options;
  options.where = (setup & 1) ? proxy::side::external : proxy::side::internal;
  options.inbound = (setup & 2) != 0;
  options.domain = options.inbound ? "" : "b.test";
  options.settings = policy;
  options.max_queued = 1 + (setup >> 4) % 4;
  options.idle_timeout = std::chrono::seconds(60 + (setup >> 2) % 4 * 60);
  options.inbound_limits = std::make_shared<proxy::partner_rate_limiter>(8);
  options.stray_responses = std::make_shared<std::atomic<uint64_t>>(0);

  std::map<int, request_record> requests;
  fuzz_events events;
  events.requests = &requests;
  auto now = clock_type::time_point{} + std::chrono::hours(1);
  proxy::sip_connection core(options, events, now);
  core.attach("10.0.0.2:5060", nullptr, now);
  if (options.inbound) core.connected(now);

  size_t bytes_in = 0;  // everything that may legitimately come out again
  size_t ops = 0;
  int next_id = 0;
  bool closed = false;
  static const int codes[] = {100, 180, 200, 202, 302, 404, 486, 503, 603};
  while (!in.empty() && ops < 4096) {  // also after closed(): later calls must be harmless
    ++ops;
    bool tick = false;
    for (auto& [id, r] : requests) r.event_this_op = false;
    uint8_t op = in.byte();
    switch (op % 10) {
      case 0:
        core.connected(now);
        break;
      case 1: {  // a tracked request
        int id = next_id++;
        auto& r = requests[id];
        r.method = (op & 0x10) ? "INVITE" : "MESSAGE";
        r.branch = "z9hG4bK-f" + std::to_string(id);
        auto wire = request_text(r.method, r.branch, id);
        bytes_in += wire.size();
        core.transmit(std::move(wire), id, r.branch, now);
        break;
      }
      case 2: {  // CANCEL or ACK: untracked
        int id = next_id++;
        auto& r = requests[id];
        r.method = (op & 0x10) ? "ACK" : "CANCEL";
        auto wire = request_text(r.method, "z9hG4bK-u" + std::to_string(id), id);
        bytes_in += wire.size();
        core.transmit(std::move(wire), id, "", now);
        break;
      }
      case 3: {  // a response from the peer to a transmitted request, maybe split
        if (requests.empty()) break;
        int id = in.byte() % next_id;
        auto& r = requests[id];
        if (r.branch.empty()) break;
        auto text = response_text(codes[in.byte() % std::size(codes)], r, id);
        size_t cut = in.byte() % (text.size() + 1);
        bytes_in += text.size();
        core.receive(std::string_view(text).substr(0, cut), now);
        core.receive(std::string_view(text).substr(cut), now);
        break;
      }
      case 4: {  // raw bytes from the socket
        auto chunk = in.bytes(in.byte());
        bytes_in += chunk.size();
        core.receive(chunk, now);
        break;
      }
      case 5:  // time passes
        now += std::chrono::seconds(in.byte());
        core.tick(now);
        tick = true;
        break;
      case 6: {  // a response to a request from the peer
        auto chunk = in.bytes(in.byte());
        bytes_in += chunk.size();
        core.respond(chunk);
        break;
      }
      case 7:
        events.refuse_writes = !events.refuse_writes;
        break;
      case 8: {  // a well-formed request from the peer (rate limited when external)
        auto text = request_text((op & 0x10) ? "OPTIONS" : "ACK", "z9hG4bK-p" + std::to_string(op), op);
        bytes_in += text.size();
        core.receive(text, now);
        break;
      }
      case 9:
        events.close_requested = true;
        break;
    }
    if (events.close_requested && !closed) {
      if (!options.inbound && !core.established()) {
        // The owner tries the next target: the queue survives.
        core.detach();
        core.attach("10.0.0.3:5060", nullptr, now);
      } else {
        core.closed("closed");
        closed = true;
      }
    }
    events.close_requested = false;
    if (closed) check(core.queued() == 0 && core.in_flight() == 0, "nothing awaited after closed()");
    for (auto& [id, r] : requests) {
      if (!r.open || r.branch.empty()) continue;
      if (core.awaits(r.branch)) continue;
      // Left the core: answered (final response), failed, or expired on a tick.
      check(r.event_this_op || tick, "a tracked request vanished without a response, failure or expiry");
      r.open = false;
    }
    for (auto& [id, r] : requests)
      if (r.branch.empty() && r.open && core.queued() == 0) r.open = false;  // sent: nothing more comes
  }
  if (!closed) core.closed("end of input");
  check(core.queued() == 0 && core.in_flight() == 0, "nothing awaited after closed()");
  for (auto& [id, r] : requests) {
    check(r.failures <= 1, "at most one failure");
    if (!r.branch.empty()) check(!core.awaits(r.branch), "ended after closed()");
  }
  check(events.written <= bytes_in * 4 + ops * 1024 + 4096, "output bounded by the input");
  return 0;
}
