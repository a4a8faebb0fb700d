#include "gateway/sip/framer.h"

#include <algorithm>
#include <utility>

namespace fedgw::sip {

// Defined in message.cc.
Status framer_parse_head(Message& m, std::string_view head, const ParseOptions& o);
Status framer_validate(Message& m, const ParseOptions& o);

StreamFramer::StreamFramer(ParseOptions options) : options_(std::move(options)) {
  options_.stream = true;
}

void StreamFramer::fail(Callbacks& cb, Error error) {
  error.close_connection = true;
  state_ = State::kClosed;
  buf_.clear();
  buf_.shrink_to_fit();
  pending_ = Message();
  cb.on_stream_error(error);
}

bool StreamFramer::start_message(std::string_view head, Callbacks& cb) {
  pending_ = Message();
  Status st = framer_parse_head(pending_, head, options_);
  if (!st.ok()) {
    // Kept so that the owner can still answer the request (e.g. 413) before closing.
    failed_head_.assign(head);
    fail(cb, st.error());
    return false;
  }
  head_len_ = head.size();
  total_len_ = head_len_ + static_cast<size_t>(pending_.content_length_);
  return true;
}

void StreamFramer::finish(Callbacks& cb) {
  Message& m = pending_;
  m.buf_ = std::move(buf_);
  buf_.clear();
  m.raw_size_ = static_cast<uint32_t>(m.buf_.size());
  m.body_ = {static_cast<uint32_t>(head_len_), static_cast<uint32_t>(total_len_ - head_len_)};
  state_ = State::kIdle;
  Status st = framer_validate(m, options_);
  if (st.ok()) {
    Message out = std::move(m);
    pending_ = Message();
    cb.on_message(std::move(out));
  } else {
    Error e = st.error();
    e.close_connection = false;
    std::string raw = std::move(m.buf_);
    pending_ = Message();
    cb.on_message_error(e, raw);
  }
}

bool StreamFramer::feed(std::string_view data, Callbacks& cb) {
  const size_t max_head = options_.limits.max_header_bytes;
  size_t pos = 0;
  while (pos < data.size() && state_ != State::kClosed) {
    switch (state_) {
      case State::kIdle:
        if (data[pos] == '\r') {
          state_ = State::kCR;
          ++pos;
        } else {
          state_ = State::kHead;
        }
        break;
      case State::kCR:
        if (data[pos] != '\n') {
          fail(cb, make_error(ErrorKind::kInvalidStreamData, "bare CR between messages"));
          break;
        }
        state_ = State::kCRLF;
        ++pos;
        break;
      case State::kCRLF:
        if (data[pos] == '\r') {
          state_ = State::kCRLFCR;
          ++pos;
        } else {
          state_ = State::kIdle;
          cb.on_pong();
        }
        break;
      case State::kCRLFCR:
        if (data[pos] != '\n') {
          fail(cb, make_error(ErrorKind::kInvalidStreamData, "bare CR between messages"));
          break;
        }
        state_ = State::kIdle;
        ++pos;
        cb.on_ping();
        break;
      case State::kHead: {
        std::string_view rest = data.substr(pos);
        if (buf_.empty()) {
          // Fast path: the head may be entirely inside this chunk.
          size_t limit = std::min(rest.size(), max_head);
          size_t e = rest.substr(0, limit).find("\r\n\r\n");
          if (e != std::string_view::npos) {
            if (!start_message(rest.substr(0, e + 4), cb)) break;
            if (rest.size() >= total_len_) {
              buf_.assign(rest.data(), total_len_);
              pos += total_len_;
              finish(cb);
            } else {
              buf_.reserve(total_len_);
              buf_.assign(rest);
              pos = data.size();
              state_ = State::kBody;
            }
            break;
          }
          if (rest.size() >= max_head) {
            fail(cb, make_error(ErrorKind::kHeaderSectionTooLarge,
                                "no end of header section within " + std::to_string(max_head) +
                                    " bytes"));
            break;
          }
          buf_.reserve(std::min<size_t>(max_head, std::max<size_t>(rest.size() * 2, 1024)));
          buf_.assign(rest);
          pos = data.size();
          break;
        }
        size_t old = buf_.size();
        size_t take = std::min(rest.size(), max_head - old);
        buf_.append(rest.data(), take);
        size_t from = old >= 3 ? old - 3 : 0;
        size_t e = std::string_view(buf_).find("\r\n\r\n", from);
        if (e == std::string_view::npos) {
          pos += take;
          if (buf_.size() >= max_head)
            fail(cb, make_error(ErrorKind::kHeaderSectionTooLarge,
                                "no end of header section within " + std::to_string(max_head) +
                                    " bytes"));
          break;
        }
        if (!start_message(std::string_view(buf_).substr(0, e + 4), cb)) break;
        // Give back what we took beyond this message.
        size_t have = buf_.size();
        size_t used = take;
        if (have > total_len_) {
          used -= have - total_len_;
          buf_.resize(total_len_);
        }
        pos += used;
        if (buf_.size() == total_len_) {
          finish(cb);
        } else {
          buf_.reserve(total_len_);
          state_ = State::kBody;
        }
        break;
      }
      case State::kBody: {
        size_t need = total_len_ - buf_.size();
        size_t take = std::min(need, data.size() - pos);
        buf_.append(data.data() + pos, take);
        pos += take;
        if (buf_.size() == total_len_) finish(cb);
        break;
      }
      case State::kClosed:
        break;
    }
  }
  if (state_ == State::kCRLF && awaiting_pong_) {
    state_ = State::kIdle;
    cb.on_pong();
  }
  return state_ != State::kClosed;
}

}  // namespace fedgw::sip
