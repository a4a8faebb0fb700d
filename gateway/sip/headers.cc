#include "gateway/sip/headers.h"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

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

// A name of length n >= 2 is read as up to three little-endian 64-bit words
// (overlapping loads, see load_key()); a registry name matches when, word by
// word, (input | letter_mask) == lower-case canonical name. OR-ing 0x20 only
// at positions holding a letter in the canonical name keeps the comparison
// exactly ASCII case-insensitive (only 'X' and 'x' map to 'x').
struct Key {
  uint64_t w[3] = {0, 0, 0};
};

constexpr uint64_t load_le(const char* p, size_t bytes) {
  uint64_t v = 0;
  if (std::is_constant_evaluated()) {
    for (size_t i = 0; i < bytes; ++i)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  } else if constexpr (std::endian::native == std::endian::little) {
    switch (bytes) {
      case 8: { uint64_t x; std::memcpy(&x, p, 8); v = x; break; }
      case 4: { uint32_t x; std::memcpy(&x, p, 4); v = x; break; }
      case 2: { uint16_t x; std::memcpy(&x, p, 2); v = x; break; }
      default:
        for (size_t i = 0; i < bytes; ++i)
          v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    }
  } else {
    for (size_t i = 0; i < bytes; ++i)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  return v;
}

// Number of key words for a name of length n (2 <= n <= kMaxLen).
constexpr size_t key_words(size_t n) { return n <= 8 ? 1 : (n + 7) / 8; }

// Covers every byte of p[0, n) (2 <= n <= kMaxLen); overlapping bytes are
// simply compared twice.
constexpr Key load_key(const char* p, size_t n) {
  Key k;
  if (n >= 8) {
    size_t words = key_words(n);
    for (size_t i = 0; i + 1 < words; ++i) k.w[i] = load_le(p + 8 * i, 8);
    k.w[words - 1] = load_le(p + n - 8, 8);
  } else if (n >= 4) {
    k.w[0] = load_le(p, 4) | (load_le(p + n - 4, 4) << 32);
  } else {
    k.w[0] = load_le(p, 2) | (load_le(p + n - 2, 2) << 16);
  }
  return k;
}

struct Candidate {
  Key lower;  // canonical name, lower case
  Key mask;   // 0x20 at letter positions
};

struct Index {
  // compact letter (lower case) -> id
  std::array<HeaderId, 128> compact{};
  std::array<std::array<std::array<HeaderId, kBucketSize>, 26>, kMaxLen + 1> bucket{};
  std::array<std::array<uint8_t, 26>, kMaxLen + 1> count{};
  std::array<Candidate, std::size(kEntries)> key{};  // by id
};

constexpr Index make_index() {
  Index ix{};
  for (size_t i = 1; i < std::size(kEntries); ++i) {
    const Entry& e = kEntries[i];
    if (e.compact) ix.compact[static_cast<unsigned char>(e.compact)] = e.id;
    size_t len = e.name.size();
    char low[kMaxLen] = {}, mask[kMaxLen] = {};
    for (size_t k = 0; k < len; ++k) {
      low[k] = detail::lower(e.name[k]);
      mask[k] = detail::is_alpha(e.name[k]) ? 0x20 : 0;
    }
    size_t f = static_cast<size_t>(low[0] - 'a');
    ix.bucket[len][f][ix.count[len][f]++] = e.id;  // overflow fails constexpr
    ix.key[i].lower = load_key(low, len);
    ix.key[i].mask = load_key(mask, len);
  }
  return ix;
}

constexpr Index kIndex = make_index();

constexpr std::array<uint8_t, 256> make_flags() {
  std::array<uint8_t, 256> t{};
  for (const Entry& e : kEntries)
    t[static_cast<size_t>(e.id)] = static_cast<uint8_t>((e.list ? detail::kHeaderFlagList : 0) |
                                                        (e.single ? detail::kHeaderFlagSingle : 0));
  return t;
}

}  // namespace

namespace detail {
constinit const std::array<uint8_t, 256> kHeaderFlags = make_flags();
}  // namespace detail

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
  const size_t count = kIndex.count[n][fi];
  if (count == 0) return HeaderId::kOther;
  const Key key = load_key(name.data(), n);
  const auto& ids = kIndex.bucket[n][fi];
  const size_t words = key_words(n);
  for (size_t i = 0; i < count; ++i) {
    const Candidate& c = kIndex.key[static_cast<size_t>(ids[i])];
    bool eq = (key.w[0] | c.mask.w[0]) == c.lower.w[0];
    for (size_t w = 1; w < words; ++w) eq = eq && (key.w[w] | c.mask.w[w]) == c.lower.w[w];
    if (eq) return ids[i];
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

bool is_list_header(HeaderId id) { return detail::header_is_list(static_cast<uint8_t>(id)); }

bool is_single_instance(HeaderId id) {
  return detail::header_is_single(static_cast<uint8_t>(id));
}

}  // namespace fedgw::sip
