#include "gateway/sip/headers.h"

#include <array>
#include <cstddef>

#include "gateway/sip/syntax.h"

namespace fedgw::sip {
namespace {

struct Entry {
  HeaderId id;
  std::string_view name;
  char compact;
  bool list;
  bool single;
};

constexpr Entry kEntries[] = {
    {HeaderId::kOther, "", 0, false, false},
    {HeaderId::kAccept, "Accept", 0, true, false},
    {HeaderId::kAcceptContact, "Accept-Contact", 'a', true, false},
    {HeaderId::kAcceptEncoding, "Accept-Encoding", 0, true, false},
    {HeaderId::kAcceptLanguage, "Accept-Language", 0, true, false},
    {HeaderId::kAlertInfo, "Alert-Info", 0, true, false},
    {HeaderId::kAllow, "Allow", 0, true, false},
    {HeaderId::kAllowEvents, "Allow-Events", 'u', true, false},
    {HeaderId::kAuthenticationInfo, "Authentication-Info", 0, false, false},
    {HeaderId::kAuthorization, "Authorization", 0, false, false},
    {HeaderId::kCallId, "Call-ID", 'i', false, true},
    {HeaderId::kCallInfo, "Call-Info", 0, true, false},
    {HeaderId::kContact, "Contact", 'm', true, false},
    {HeaderId::kContentDisposition, "Content-Disposition", 0, false, false},
    {HeaderId::kContentEncoding, "Content-Encoding", 'e', true, false},
    {HeaderId::kContentLanguage, "Content-Language", 0, true, false},
    {HeaderId::kContentLength, "Content-Length", 'l', false, true},
    {HeaderId::kContentType, "Content-Type", 'c', false, true},
    {HeaderId::kCSeq, "CSeq", 0, false, true},
    {HeaderId::kDate, "Date", 0, false, false},
    {HeaderId::kErrorInfo, "Error-Info", 0, true, false},
    {HeaderId::kEvent, "Event", 'o', false, false},
    {HeaderId::kExpires, "Expires", 0, false, false},
    {HeaderId::kFrom, "From", 'f', false, true},
    {HeaderId::kIdentity, "Identity", 'y', false, false},
    {HeaderId::kInReplyTo, "In-Reply-To", 0, true, false},
    {HeaderId::kMaxForwards, "Max-Forwards", 0, false, true},
    {HeaderId::kMinExpires, "Min-Expires", 0, false, false},
    {HeaderId::kMinSE, "Min-SE", 0, false, false},
    {HeaderId::kOrganization, "Organization", 0, false, false},
    {HeaderId::kPath, "Path", 0, true, false},
    {HeaderId::kPAssertedIdentity, "P-Asserted-Identity", 0, true, false},
    {HeaderId::kPriority, "Priority", 0, false, false},
    {HeaderId::kProxyAuthenticate, "Proxy-Authenticate", 0, false, false},
    {HeaderId::kProxyAuthorization, "Proxy-Authorization", 0, false, false},
    {HeaderId::kProxyRequire, "Proxy-Require", 0, true, false},
    {HeaderId::kRecordRoute, "Record-Route", 0, true, false},
    {HeaderId::kReferTo, "Refer-To", 'r', false, false},
    {HeaderId::kReferredBy, "Referred-By", 'b', false, false},
    {HeaderId::kRejectContact, "Reject-Contact", 'j', true, false},
    {HeaderId::kReplyTo, "Reply-To", 0, false, false},
    {HeaderId::kRequestDisposition, "Request-Disposition", 'd', true, false},
    {HeaderId::kRequire, "Require", 0, true, false},
    {HeaderId::kRetryAfter, "Retry-After", 0, false, false},
    {HeaderId::kRoute, "Route", 0, true, false},
    {HeaderId::kSecurityClient, "Security-Client", 0, true, false},
    {HeaderId::kSecurityServer, "Security-Server", 0, true, false},
    {HeaderId::kSecurityVerify, "Security-Verify", 0, true, false},
    {HeaderId::kServer, "Server", 0, false, false},
    {HeaderId::kServiceRoute, "Service-Route", 0, true, false},
    {HeaderId::kSessionExpires, "Session-Expires", 'x', false, false},
    {HeaderId::kSIPETag, "SIP-ETag", 0, false, false},
    {HeaderId::kSIPIfMatch, "SIP-If-Match", 0, false, false},
    {HeaderId::kSubject, "Subject", 's', false, false},
    {HeaderId::kSubscriptionState, "Subscription-State", 0, false, false},
    {HeaderId::kSupported, "Supported", 'k', true, false},
    {HeaderId::kTimestamp, "Timestamp", 0, false, false},
    {HeaderId::kTo, "To", 't', false, true},
    {HeaderId::kUnsupported, "Unsupported", 0, true, false},
    {HeaderId::kUserAgent, "User-Agent", 0, false, false},
    {HeaderId::kVia, "Via", 'v', true, false},
    {HeaderId::kWarning, "Warning", 0, true, false},
    {HeaderId::kWWWAuthenticate, "WWW-Authenticate", 0, false, false},
};

static_assert(std::size(kEntries) == static_cast<size_t>(HeaderId::kCount_));

constexpr bool entries_ordered() {
  for (size_t i = 0; i < std::size(kEntries); ++i)
    if (static_cast<size_t>(kEntries[i].id) != i) return false;
  return true;
}
static_assert(entries_ordered());

constexpr size_t kMaxLen = 24;

// Buckets by (name length, lower-case first letter); at most a few names
// share one.
constexpr size_t kBucketSize = 4;

struct Index {
  // compact letter (lower case) -> id
  std::array<HeaderId, 128> compact{};
  std::array<std::array<std::array<HeaderId, kBucketSize>, 26>, kMaxLen + 1> bucket{};
  std::array<std::array<uint8_t, 26>, kMaxLen + 1> count{};
};

constexpr Index make_index() {
  Index ix{};
  for (size_t i = 1; i < std::size(kEntries); ++i) {
    const Entry& e = kEntries[i];
    if (e.compact) ix.compact[static_cast<unsigned char>(e.compact)] = e.id;
    size_t len = e.name.size();
    size_t f = static_cast<size_t>(detail::lower(e.name[0]) - 'a');
    ix.bucket[len][f][ix.count[len][f]++] = e.id;  // overflow fails constexpr
  }
  return ix;
}

constexpr Index kIndex = make_index();

}  // namespace

HeaderId header_id(std::string_view name) {
  size_t n = name.size();
  if (n == 1) {
    unsigned char c = static_cast<unsigned char>(detail::lower(name[0]));
    return c < 128 ? kIndex.compact[c] : HeaderId::kOther;
  }
  if (n == 0 || n > kMaxLen) return HeaderId::kOther;
  char f = detail::lower(name[0]);
  if (f < 'a' || f > 'z') return HeaderId::kOther;
  size_t fi = static_cast<size_t>(f - 'a');
  const auto& ids = kIndex.bucket[n][fi];
  for (size_t i = 0; i < kIndex.count[n][fi]; ++i) {
    if (detail::iequals(kEntries[static_cast<size_t>(ids[i])].name, name)) return ids[i];
  }
  return HeaderId::kOther;
}

std::string_view canonical_name(HeaderId id) {
  size_t i = static_cast<size_t>(id);
  return i < std::size(kEntries) ? kEntries[i].name : std::string_view();
}

char compact_form(HeaderId id) {
  size_t i = static_cast<size_t>(id);
  return i < std::size(kEntries) ? kEntries[i].compact : 0;
}

bool is_list_header(HeaderId id) {
  size_t i = static_cast<size_t>(id);
  return i < std::size(kEntries) && kEntries[i].list;
}

bool is_single_instance(HeaderId id) {
  size_t i = static_cast<size_t>(id);
  return i < std::size(kEntries) && kEntries[i].single;
}

}  // namespace fedgw::sip
