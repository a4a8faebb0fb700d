// SIP codec throughput: datagram parse of a typical ~500-byte MESSAGE, the
// stream framer on a stream of them, and parse + proxy edits + serialize.
//
//   build-dir/bin/sip_parse_bench --benchmark_repetitions=3
//       (add --benchmark_report_aggregates_only=true for medians only)
#include <benchmark/benchmark.h>

#include <string>

#include "gateway/sip/framer.h"
#include "gateway/sip/message.h"

namespace {

using namespace fedgw::sip;

std::string typical_message() {
  // ~150-byte body, ~500 bytes in all.
  static const std::string body =
      "Hi Bob, the federation gateway relays this chat line. It is plain text, "
      "about one hundred and fifty bytes long, like a typical instant message.";
  std::string m =
      "MESSAGE sip:bob@b.example.org SIP/2.0\r\n"
      "Via: SIP/2.0/TLS p1.example.com;branch=z9hG4bK776a\r\n"
      "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKna8\r\n"
      "Max-Forwards: 69\r\n"
      "From: <sip:alice@example.com>;tag=49583\r\n"
      "To: <sip:bob@b.example.org>\r\n"
      "Call-ID: a84b4c76e667@pc33\r\n"
      "CSeq: 1 MESSAGE\r\n"
      "Contact: <sip:alice@192.0.2.10:5061;transport=tls>\r\n"
      "Content-Type: text/plain\r\n"
      "Content-Length: " +
      std::to_string(body.size()) +
      "\r\n"
      "User-Agent: fedgw/1.0\r\n"
      "\r\n" +
      body;
  return m;
}

void BM_ParseDatagram(benchmark::State& state) {
  const std::string msg = typical_message();
  for (auto _ : state) {
    auto r = parse_message(msg);
    if (!r) state.SkipWithError(r.error().message.c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
  state.counters["msg_bytes"] = static_cast<double>(msg.size());
}
BENCHMARK(BM_ParseDatagram);

struct CountingCallbacks : StreamFramer::Callbacks {
  size_t messages = 0, errors = 0;
  void on_message(Message&& m) override {
    ++messages;
    benchmark::DoNotOptimize(m);
  }
  void on_message_error(const Error&, std::string_view) override { ++errors; }
  void on_stream_error(const Error&) override { ++errors; }
};

// A stream of 64 messages fed in 1400-byte chunks (TCP segment sized).
void BM_FramerStream(benchmark::State& state) {
  const std::string msg = typical_message();
  std::string stream;
  const int kPerStream = 64;
  for (int i = 0; i < kPerStream; ++i) stream += msg;
  const size_t chunk = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    StreamFramer framer;
    CountingCallbacks cb;
    for (size_t off = 0; off < stream.size(); off += chunk)
      framer.feed(std::string_view(stream).substr(off, chunk), cb);
    if (cb.messages != kPerStream || cb.errors) state.SkipWithError("framing failed");
  }
  state.SetItemsProcessed(state.iterations() * kPerStream);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(stream.size()));
}
BENCHMARK(BM_FramerStream)->Arg(1400)->Arg(65536);

// Proxy path: parse, push Via, decrement Max-Forwards, serialize.
void BM_ParseEditSerialize(benchmark::State& state) {
  const std::string msg = typical_message();
  std::string out;
  for (auto _ : state) {
    auto r = parse_message(msg);
    Message& m = r.value();
    (void)m.prepend_via("SIP/2.0/TLS gw.example.net:5061;branch=z9hG4bKgw1");
    m.decrement_max_forwards();
    out.clear();
    m.serialize_to(out);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(msg.size()));
}
BENCHMARK(BM_ParseEditSerialize);

}  // namespace

BENCHMARK_MAIN();
