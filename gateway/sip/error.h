// Typed errors of the SIP codec: what went wrong, which header, which SIP
// status a proxy owes the sender, and whether a stream must be closed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace fedgw::sip {

enum class ErrorKind : uint8_t {
  kMalformedStartLine,     // 400: request/status line syntax
  kVersionNotSupported,    // 505: SIP version other than SIP/2.0
  kMalformedHeader,        // 400: header line or value syntax
  kMissingHeader,          // 400: mandatory header absent
  kDuplicateHeader,        // 400: single-instance header repeated
  kCSeqMethodMismatch,     // 400: CSeq method != request method
  kMalformedUri,           // 400: URI syntax (Request-URI or header URI)
  kUnsupportedUriScheme,   // 416: Request-URI scheme not sip/sips/tel
  kBadContentLength,       // 400: non-numeric, negative, overflowing, list
  kConflictingContentLength,  // 400: Content-Length given more than once
  kMissingContentLength,   // 400: absent on a stream transport
  kTruncatedBody,          // 400: fewer body bytes than Content-Length
  kHeaderSectionTooLarge,  // 400: header section over Limits
  kHeaderLineTooLong,      // 400: one line over Limits
  kTooManyHeaders,         // 400: header count over Limits
  kTooManyValues,          // 400: too many Via/Route values
  kBodyTooLarge,           // 413
  kTooManyHops,            // 483: Max-Forwards is 0
  kBadExtension,           // 420: unsupported Require/Proxy-Require
  kInvalidStreamData,      // 400: bytes between messages that are no keep-alive
  kInvalidArgument,        // edit operation given a bad value (no wire status)
};

std::string_view error_kind_name(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kMalformedHeader;
  // Human-readable and factual, e.g. `Content-Length: "abc" is not a number`.
  std::string message;
  // Canonical name of the offending header ("" when not about a header).
  std::string header;
  // SIP status a proxy owes the sender of a bad request, and its reason
  // phrase, e.g. 400 "Malformed Via header".
  int status = 400;
  std::string reason;
  // True when the byte stream can no longer be framed reliably; the
  // connection must be closed (only meaningful on stream transports).
  bool close_connection = false;
};

// Builds an Error with status/reason derived from `kind` (and `header`).
Error make_error(ErrorKind kind, std::string message, std::string_view header = {});

// Minimal expected<T, Error> (std::expected is C++23).
template <class T>
class Result {
 public:
  Result(const T& value) : v_(std::in_place_index<0>, value) {}  // NOLINT
  Result(T&& value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success or an Error.
class Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT
  static Status Ok() { return Status(); }
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace fedgw::sip
