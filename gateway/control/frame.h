// Control-socket framing: each protobuf message is preceded by its size as a
// varint (protobuf's "length-delimited" convention). Plain codec, no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <google/protobuf/message_lite.h>

namespace fedgw::control {

inline constexpr size_t max_frame_bytes = 4 << 20;

// Appends the frame for `message` to `out`.
void append_frame(const google::protobuf::MessageLite& message, std::string& out);
std::string encode_frame(const google::protobuf::MessageLite& message);

class frame_decoder {
public:
  enum class status { frame, need_more, too_large };

  void feed(std::string_view bytes) { buffer_.append(bytes); }

  // On `frame`, `payload` holds the next frame's bytes. `too_large` leaves the
  // stream unusable: the announced size exceeds max_frame_bytes (or the varint is
  // malformed), so the caller answers with an error and closes the connection.
  status next(std::string& payload);

private:
  std::string buffer_;
  size_t consumed_ = 0;
};

}  // namespace fedgw::control
