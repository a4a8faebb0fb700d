// libFuzzer target for the TLS 1.3 record layer (gateway/tls/record_layer). Byte 0 chooses the suite and
// whether the layer under test is a client; then operations:
//   0 LEN BYTES        raw bytes from the wire (headers, lengths, forged records)
//   1 TYPE LEN BYTES   a record of inner TYPE sealed with the peer's real keys (so the fuzzer reaches the
//                      content: alerts, NewSessionTicket, KeyUpdate, handshake fragments, padding-like zeros)
//   2 REQ              the peer updates its write keys (REQ & 1: and asks for ours)
//   3 LEN BYTES        the layer under test sends application data
// Each chunk of input is fed in pieces of 1..16 bytes. Checked: without raw bytes and without failure,
// the application data that comes out is exactly what the peer sealed; everything the layer under test
// writes can be opened by the peer.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "gateway/tls/record_layer.h"

using fedgw::tls::content_type;
using fedgw::tls::record_layer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const uint16_t suites[] = {0x1301, 0x1302, 0x1303};
  const uint16_t suite = suites[(data[0] >> 1) % 3];
  const bool is_client = (data[0] & 1) != 0;
  const size_t secret_length = suite == 0x1302 ? 48 : 32;
  const std::string ours(secret_length, '\x5a'), theirs(secret_length, '\xa5');
  auto layer = record_layer::create(suite, is_client, theirs, ours);
  auto peer = record_layer::create(suite, !is_client, ours, theirs);
  if (!layer || !peer) abort();
  size_t at = 1;
  auto next = [&]() -> int { return at < size ? data[at++] : -1; };
  auto take = [&](size_t n) {
    n = std::min(n, size - at);
    std::string s(reinterpret_cast<const char*>(data) + at, n);
    at += n;
    return s;
  };
  bool raw = false;
  std::string expected, plain, from_layer, peer_plain, peer_out;
  record_layer::result r;
  while (at < size && !r.failed && !r.peer_closed) {
    int op = next();
    std::string wire;
    switch (op & 3) {
      case 0: {
        raw = true;
        int n = next();
        wire = take(n < 0 ? 0 : static_cast<size_t>(n));
        break;
      }
      case 1: {
        int type = next(), n = next();
        if (type < 0 || n < 0) return 0;
        if (type == 0) continue;  // an inner type of 0 is padding: the record would mean something else
        std::string payload = take(static_cast<size_t>(n) * 4);
        if (type == static_cast<int>(content_type::application_data)) expected += payload;
        peer->seal_record(static_cast<content_type>(type), payload, wire);
        break;
      }
      case 2: {
        int request = next();
        peer->update_write_keys(request > 0 && (request & 1), wire);
        break;
      }
      case 3: {
        int n = next();
        if (n < 0) return 0;
        std::string payload = take(static_cast<size_t>(n));
        auto sent = layer->seal(payload, from_layer);
        if (sent.failed != layer->failed()) abort();
        break;
      }
    }
    const size_t piece = 1 + (op >> 4);
    for (size_t i = 0; i < wire.size() && !r.failed && !r.peer_closed; i += piece)
      r = layer->open(std::string_view(wire).substr(i, piece), plain, from_layer);
    if (plain.size() > (1u << 20)) break;
    layer->release();
  }
  if (!raw && !layer->failed() && expected.compare(0, plain.size(), plain) != 0) abort();
  if (!layer->failed()) {
    auto read_back = peer->open(from_layer, peer_plain, peer_out);
    if (read_back.failed) abort();
  }
  return 0;
}
