// Header name registry: canonical names, RFC 3261 §7.3.3 compact forms and
// whether a header's value is a comma-separated list that may be split.
#pragma once

#include <cstdint>
#include <string_view>

namespace fedgw::sip {

enum class HeaderId : uint8_t {
  kOther = 0,  // any header not listed here (compared by name)
  kAccept,
  kAcceptContact,
  kAcceptEncoding,
  kAcceptLanguage,
  kAlertInfo,
  kAllow,
  kAllowEvents,
  kAuthenticationInfo,
  kAuthorization,
  kCallId,
  kCallInfo,
  kContact,
  kContentDisposition,
  kContentEncoding,
  kContentLanguage,
  kContentLength,
  kContentType,
  kCSeq,
  kDate,
  kErrorInfo,
  kEvent,
  kExpires,
  kFrom,
  kIdentity,
  kInReplyTo,
  kMaxForwards,
  kMinExpires,
  kMinSE,
  kOrganization,
  kPath,
  kPAssertedIdentity,
  kPriority,
  kProxyAuthenticate,
  kProxyAuthorization,
  kProxyRequire,
  kRecordRoute,
  kReferTo,
  kReferredBy,
  kRejectContact,
  kReplyTo,
  kRequestDisposition,
  kRequire,
  kRetryAfter,
  kRoute,
  kSecurityClient,
  kSecurityServer,
  kSecurityVerify,
  kServer,
  kServiceRoute,
  kSessionExpires,
  kSIPETag,
  kSIPIfMatch,
  kSubject,
  kSubscriptionState,
  kSupported,
  kTimestamp,
  kTo,
  kUnsupported,
  kUserAgent,
  kVia,
  kWarning,
  kWWWAuthenticate,
  kCount_,
};

// Maps a header name (canonical or compact, any case) to its id; kOther if
// the name is not in the registry.
HeaderId header_id(std::string_view name);

// Canonical spelling, e.g. "Call-ID"; "" for kOther.
std::string_view canonical_name(HeaderId id);

// Compact form letter ('i' for Call-ID), or 0 when there is none.
char compact_form(HeaderId id);

// True when RFC 3261 (or the defining RFC) makes the header a
// comma-separated list, so "a, b" are two values. Authorization,
// WWW-Authenticate, Date, From/To and unknown headers are never split.
bool is_list_header(HeaderId id);

// True for headers that must appear at most once (From, To, Call-ID, CSeq,
// Max-Forwards, Content-Length, Content-Type).
bool is_single_instance(HeaderId id);

}  // namespace fedgw::sip
