#include "gateway/sip/error.h"

namespace fedgw::sip {

std::string_view error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kMalformedStartLine: return "MalformedStartLine";
    case ErrorKind::kVersionNotSupported: return "VersionNotSupported";
    case ErrorKind::kMalformedHeader: return "MalformedHeader";
    case ErrorKind::kMissingHeader: return "MissingHeader";
    case ErrorKind::kDuplicateHeader: return "DuplicateHeader";
    case ErrorKind::kCSeqMethodMismatch: return "CSeqMethodMismatch";
    case ErrorKind::kMalformedUri: return "MalformedUri";
    case ErrorKind::kUnsupportedUriScheme: return "UnsupportedUriScheme";
    case ErrorKind::kBadContentLength: return "BadContentLength";
    case ErrorKind::kConflictingContentLength: return "ConflictingContentLength";
    case ErrorKind::kMissingContentLength: return "MissingContentLength";
    case ErrorKind::kTruncatedBody: return "TruncatedBody";
    case ErrorKind::kHeaderSectionTooLarge: return "HeaderSectionTooLarge";
    case ErrorKind::kHeaderLineTooLong: return "HeaderLineTooLong";
    case ErrorKind::kTooManyHeaders: return "TooManyHeaders";
    case ErrorKind::kTooManyValues: return "TooManyValues";
    case ErrorKind::kBodyTooLarge: return "BodyTooLarge";
    case ErrorKind::kTooManyHops: return "TooManyHops";
    case ErrorKind::kBadExtension: return "BadExtension";
    case ErrorKind::kInvalidStreamData: return "InvalidStreamData";
    case ErrorKind::kInvalidArgument: return "InvalidArgument";
  }
  return "Unknown";
}

Error make_error(ErrorKind kind, std::string message, std::string_view header) {
  Error e;
  e.kind = kind;
  e.message = std::move(message);
  e.header = std::string(header);
  std::string h = header.empty() ? std::string("header") : std::string(header) + " header";
  switch (kind) {
    case ErrorKind::kMalformedStartLine:
      e.status = 400; e.reason = "Malformed Start Line"; break;
    case ErrorKind::kVersionNotSupported:
      e.status = 505; e.reason = "Version Not Supported"; break;
    case ErrorKind::kMalformedHeader:
      e.status = 400; e.reason = "Malformed " + h; break;
    case ErrorKind::kMissingHeader:
      e.status = 400; e.reason = "Missing " + h; break;
    case ErrorKind::kDuplicateHeader:
      e.status = 400; e.reason = "Duplicate " + h; break;
    case ErrorKind::kCSeqMethodMismatch:
      e.status = 400; e.reason = "CSeq Method Mismatch"; break;
    case ErrorKind::kMalformedUri:
      e.status = 400;
      e.reason = header.empty() ? std::string("Malformed Request-URI")
                                : "Malformed URI in " + h;
      break;
    case ErrorKind::kUnsupportedUriScheme:
      e.status = 416; e.reason = "Unsupported URI Scheme"; break;
    case ErrorKind::kBadContentLength:
      e.status = 400; e.reason = "Malformed Content-Length header"; break;
    case ErrorKind::kConflictingContentLength:
      e.status = 400; e.reason = "Conflicting Content-Length headers"; break;
    case ErrorKind::kMissingContentLength:
      e.status = 400; e.reason = "Missing Content-Length header"; break;
    case ErrorKind::kTruncatedBody:
      e.status = 400; e.reason = "Body Shorter Than Content-Length"; break;
    case ErrorKind::kHeaderSectionTooLarge:
      e.status = 400; e.reason = "Header Section Too Large"; break;
    case ErrorKind::kHeaderLineTooLong:
      e.status = 400; e.reason = "Header Line Too Long"; break;
    case ErrorKind::kTooManyHeaders:
      e.status = 400; e.reason = "Too Many Headers"; break;
    case ErrorKind::kTooManyValues:
      e.status = 400; e.reason = "Too Many " + (header.empty() ? std::string("Header") : std::string(header)) + " Values"; break;
    case ErrorKind::kBodyTooLarge:
      e.status = 413; e.reason = "Request Entity Too Large"; break;
    case ErrorKind::kTooManyHops:
      e.status = 483; e.reason = "Too Many Hops"; break;
    case ErrorKind::kBadExtension:
      e.status = 420; e.reason = "Bad Extension"; break;
    case ErrorKind::kInvalidStreamData:
      e.status = 400; e.reason = "Invalid Stream Data"; break;
    case ErrorKind::kInvalidArgument:
      e.status = 0; e.reason = "Invalid Argument"; break;
  }
  return e;
}

}  // namespace fedgw::sip
