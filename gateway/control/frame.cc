#include "gateway/control/frame.h"

namespace fedgw::control {

void append_frame(const google::protobuf::MessageLite& message, std::string& out) {
  size_t size = message.ByteSizeLong();
  for (size_t v = size; ; v >>= 7) {
    if (v < 0x80) {
      out.push_back(static_cast<char>(v));
      break;
    }
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
  }
  size_t offset = out.size();
  out.resize(offset + size);
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out.data() + offset));
}

std::string encode_frame(const google::protobuf::MessageLite& message) {
  std::string out;
  append_frame(message, out);
  return out;
}

frame_decoder::status frame_decoder::next(std::string& payload) {
  uint64_t size = 0;
  size_t pos = consumed_;
  for (int shift = 0;; shift += 7) {
    if (pos >= buffer_.size()) return status::need_more;
    if (shift > 28) return status::too_large;  // more than 5 varint bytes
    auto byte = static_cast<uint8_t>(buffer_[pos++]);
    size |= uint64_t(byte & 0x7f) << shift;
    if (!(byte & 0x80)) break;
  }
  if (size > max_frame_bytes) return status::too_large;
  if (buffer_.size() - pos < size) return status::need_more;
  payload.assign(buffer_, pos, size);
  consumed_ = pos + size;
  // Compact once the consumed prefix dominates, so the buffer stays bounded.
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ > 64 * 1024 && consumed_ * 2 > buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return status::frame;
}

}  // namespace fedgw::control
