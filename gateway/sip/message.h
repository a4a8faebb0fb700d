// SIP message model (RFC 3261 §7): request line or status line, ordered
// header list, body. A Message owns one buffer holding the exact wire bytes;
// everything else is offsets into it (plus a small arena for unfolded values
// and edited lines), so parsing needs no per-header allocation.
//
// Edits made by a proxy (Via push/pop, Route pop, Record-Route, Max-Forwards,
// Request-URI, extra headers) are spliced: serialize() copies untouched
// header lines, the blank line and the body verbatim from the original
// buffer and only emits the changed lines.
//
// string_views returned by accessors point into the Message and stay valid
// until the Message is edited, moved or destroyed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/sip/error.h"
#include "gateway/sip/grammar.h"
#include "gateway/sip/headers.h"
#include "gateway/sip/limits.h"
#include "gateway/sip/uri.h"

namespace fedgw::sip {

struct ParseOptions {
  Limits limits;
  // Stream transports (TCP/TLS/WS): Content-Length is mandatory and framing
  // errors set Error::close_connection.
  bool stream = false;
  // Requests whose topmost Via has no branch parameter are rejected (RFC
  // 3261 §8.1.1.7). Turn off for RFC 2543 peers.
  bool require_via_branch = true;
};

class Message {
 public:
  // One header line as it appears on the wire.
  struct Header {
    std::string_view name;   // as written ("v", "VIA", "Via")
    std::string_view value;  // trimmed; folded lines joined with one SP
    std::string_view line;   // raw line including the CRLF (and folds)
    HeaderId id = HeaderId::kOther;
    size_t value_count = 0;  // list headers: comma-separated elements
  };

  Message() = default;

  // ---- start line
  bool is_request() const { return request_; }
  bool is_response() const { return !request_; }
  std::string_view method() const { return view(method_); }   // requests
  std::string_view request_uri() const { return view(ruri_); }  // requests
  Result<Uri> parse_request_uri() const { return parse_uri(request_uri()); }
  std::string_view version() const { return view(version_); }
  int status_code() const { return status_; }                  // responses
  std::string_view reason() const { return view(reason_); }    // responses
  std::string_view start_line() const;  // without CRLF

  // ---- headers (in wire order)
  size_t header_count() const { return headers_.size(); }
  Header header(size_t i) const;
  // k-th value of header line i (split list headers; 1 value otherwise).
  std::string_view header_value(size_t i, size_t k) const;

  // Lookups take canonical or compact names, any case ("Call-ID", "i").
  bool has(std::string_view name) const;
  bool has(HeaderId id) const;
  // First value (first list element for list headers).
  std::optional<std::string_view> get(std::string_view name) const;
  std::optional<std::string_view> get(HeaderId id) const;
  // All values across all lines, lists split, in order.
  std::vector<std::string_view> get_all(std::string_view name) const;
  std::vector<std::string_view> get_all(HeaderId id) const;
  // Number of values across all lines.
  size_t count(HeaderId id) const;

  // ---- typed accessors (mandatory headers are validated by the parser)
  std::string_view call_id() const { return view(call_id_); }
  CSeq cseq() const { return CSeq{cseq_number_, view(cseq_method_)}; }
  std::optional<uint32_t> max_forwards() const;
  std::optional<size_t> content_length() const;
  NameAddr from() const;
  NameAddr to() const;
  std::optional<std::string_view> from_tag() const { return from().tag(); }
  std::optional<std::string_view> to_tag() const { return to().tag(); }
  // Topmost Via value (requests and responses always have one).
  Via top_via() const;
  // top_via().branch() without parsing the whole Via (the parser validated it): transaction matching asks
  // for it several times per message.
  std::optional<std::string_view> top_via_branch() const;
  // Calls f(branch) with the branch of every Via value, top first, until f returns true (then returns true).
  template <class F>
  bool any_via_branch(F&& f) const {
    for (const Field& h : headers_) {
      if (h.id != HeaderId::kVia) continue;
      for (uint32_t k = 0; k < h.values_count; ++k)
        if (auto b = via_branch(view(value_span(h, k))); b && f(*b)) return true;
    }
    return false;
  }
  // The branch param of one validated Via value.
  static std::optional<std::string_view> via_branch(std::string_view via_value);
  std::vector<Via> vias() const;
  Result<std::vector<NameAddr>> routes() const;
  Result<std::vector<NameAddr>> record_routes() const;
  // Contact values; a single "*" gives one NameAddr with star == true.
  Result<std::vector<NameAddr>> contacts() const;
  std::string_view body() const { return view(body_); }

  // ---- proxy edits (spliced; see file comment)
  // New "Via: <value>" line above all other headers.
  Status prepend_via(std::string_view value);
  // Removes the topmost Via value (only that element of a multi-value line).
  bool remove_top_via();
  // Removes the topmost Route value.
  bool remove_top_route();
  // New "Record-Route: <value>" line above the existing Record-Route lines
  // (or at the top when there are none).
  Status prepend_record_route(std::string_view value);
  // Sets Max-Forwards, inserting the header below the Via lines if absent.
  void set_max_forwards(uint32_t value);
  // RFC 3261 §16.6 step 3: decrements Max-Forwards, or inserts
  // "Max-Forwards: 70" when absent. Returns the new value; nullopt (and no
  // change) when it already was 0 (answer 483, see check_max_forwards()).
  std::optional<uint32_t> decrement_max_forwards();
  Status set_request_uri(std::string_view uri);
  // Appends "name: value" as the last header. Rejects bad names, CR/LF in
  // values, a second instance of a single-instance header and Content-Length.
  Status add_header(std::string_view name, std::string_view value);
  // Removes every line of header `name`; returns how many. Content-Length
  // cannot be removed.
  size_t remove_header(std::string_view name);

  // ---- serialization
  bool modified() const { return modified_; }
  // Original wire bytes of the message (unchanged by edits).
  std::string_view raw() const { return std::string_view(buf_.data(), raw_size_); }
  // Wire form: the original bytes when unmodified, else spliced segments.
  std::string serialize() const;
  void serialize_to(std::string& out) const;  // appends
  size_t serialized_size() const;

 private:
  friend class MessageParser;
  friend class StreamFramer;

  static constexpr uint32_t kArenaBit = 0x80000000u;
  struct Span {
    uint32_t off = 0;
    uint32_t len = 0;
  };
  struct Field {
    Span line;
    Span name;
    Span value;
    uint32_t values_begin = 0;
    uint16_t values_count = 0;
    HeaderId id = HeaderId::kOther;
  };

  static constexpr uint32_t kInlineValue = 0xffffffffu;
  Span value_span(const Field& f, size_t k) const {
    return f.values_begin == kInlineValue ? f.value : values_[f.values_begin + k];
  }
  std::string_view view(Span s) const {
    const std::string& b = (s.off & kArenaBit) ? arena_ : buf_;
    return std::string_view(b.data() + (s.off & ~kArenaBit), s.len);
  }
  bool matches(const Field& f, HeaderId id, std::string_view name) const;
  int find_first(HeaderId id) const;
  // Parses one header line at `text` (which lives at span `at`) into `f`.
  // Structural checks only (name, colon, folding, list split).
  Status scan_field(std::string_view text, uint32_t at_off, Field& f, bool folded);
  // Typed validation of one field (Via, From, CSeq, ...); caches values.
  Status validate_field(const Field& f, const Limits& limits, size_t& via_count,
                        size_t& route_count);
  Status insert_line(size_t index, std::string_view name, std::string_view value);
  bool remove_first_value(HeaderId id);
  void set_line(size_t index, std::string_view name, std::string_view value);
  uint32_t arena_append(std::string_view s);

  std::string buf_;    // wire bytes
  uint32_t raw_size_ = 0;
  std::string arena_;  // unfolded values, edited lines
  Span start_line_;    // including CRLF
  Span method_, ruri_, version_, reason_;
  Span blank_;  // the CRLF ending the header section
  Span body_;
  Span call_id_;
  Span cseq_method_;
  uint32_t cseq_number_ = 0;
  int64_t max_forwards_ = -1;
  int64_t content_length_ = -1;
  int status_ = 0;
  bool request_ = false;
  bool modified_ = false;
  bool top_via_branch_ = false;
  std::vector<Field> headers_;
  std::vector<Span> values_;
};

// Parses one complete message from a buffer (datagram transports). Leading
// CRLFs are skipped; Content-Length is optional (body = rest of buffer);
// bytes beyond Content-Length are discarded (RFC 3261 §18.3).
Result<Message> parse_message(std::string_view data, const ParseOptions& options = {});
// Same, default options with the given limits.
Result<Message> parse_datagram(std::string_view data, const Limits& limits = {});

}  // namespace fedgw::sip
