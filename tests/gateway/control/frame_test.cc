#include "gateway/control/frame.h"

#include <gtest/gtest.h>

#include "proto/control.pb.h"

namespace fedgw::control {
namespace {

Request sample(uint64_t id) {
  Request r;
  r.set_id(id);
  r.mutable_config_apply()->set_source("file.textproto");
  r.mutable_config_apply()->set_text(std::string(300, 'x'));  // multi-byte varint length
  return r;
}

TEST(Frame, RoundTripSplitAtEveryByte) {
  std::string stream = encode_frame(sample(1)) + encode_frame(sample(2));
  Request status;
  status.set_id(3);
  status.mutable_status();
  append_frame(status, stream);
  for (size_t split = 0; split <= stream.size(); ++split) {
    frame_decoder decoder;
    std::vector<Request> got;
    std::string payload;
    auto drain = [&] {
      while (decoder.next(payload) == frame_decoder::status::frame) {
        Request r;
        ASSERT_TRUE(r.ParseFromString(payload));
        got.push_back(r);
      }
    };
    decoder.feed(std::string_view(stream).substr(0, split));
    drain();
    decoder.feed(std::string_view(stream).substr(split));
    drain();
    ASSERT_EQ(got.size(), 3u) << "split at " << split;
    EXPECT_EQ(got[0].id(), 1u);
    EXPECT_EQ(got[1].config_apply().text().size(), 300u);
    EXPECT_TRUE(got[2].has_status());
  }
}

TEST(Frame, OversizedLengthIsRefused) {
  frame_decoder decoder;
  // varint for 5 MiB, over max_frame_bytes
  std::string prefix;
  for (uint64_t v = 5u << 20;; v >>= 7) {
    if (v < 0x80) { prefix.push_back(char(v)); break; }
    prefix.push_back(char((v & 0x7f) | 0x80));
  }
  decoder.feed(prefix);
  std::string payload;
  EXPECT_EQ(decoder.next(payload), frame_decoder::status::too_large);
}

TEST(Frame, OverlongVarintIsRefused) {
  frame_decoder decoder;
  decoder.feed(std::string(8, '\xff'));
  std::string payload;
  EXPECT_EQ(decoder.next(payload), frame_decoder::status::too_large);
}

TEST(Frame, IncompleteFrameWaits) {
  auto frame = encode_frame(sample(9));
  frame_decoder decoder;
  decoder.feed(std::string_view(frame).substr(0, frame.size() - 1));
  std::string payload;
  EXPECT_EQ(decoder.next(payload), frame_decoder::status::need_more);
  decoder.feed(std::string_view(frame).substr(frame.size() - 1));
  EXPECT_EQ(decoder.next(payload), frame_decoder::status::frame);
}

}  // namespace
}  // namespace fedgw::control
