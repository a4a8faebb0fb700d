// SIP digest authentication, client side (RFC 3261 §22, RFC 8760, RFC 7616 for the algorithms): the
// gateway's login at a SIP proxy. Plain code: parses challenges (WWW-Authenticate / Proxy-Authenticate
// values) and builds Authorization / Proxy-Authorization values; no socket, no actor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fedgw::proxy::digest {

enum class algorithm : uint8_t { md5, sha256 };

std::string_view algorithm_name(algorithm a, bool session);  // "MD5", "SHA-256-sess", ...

struct challenge {
  std::string realm;
  std::string nonce;
  std::string opaque;     // echoed back when present
  bool has_opaque = false;
  algorithm alg = algorithm::md5;  // absent: MD5 (RFC 3261)
  bool session = false;            // "-sess" variant
  bool qop_auth = false;           // qop offered and contains "auth": answer with qop=auth, nc, cnonce
  bool stale = false;              // the nonce expired, the credentials were right: retry at once
};

// One challenge value, e.g. `Digest realm="b.test", nonce="abc", qop="auth", algorithm=SHA-256`.
// nullopt with `error` set when it is not a usable digest challenge: another scheme, an algorithm this
// code does not compute (e.g. SHA-512-256), a qop without "auth" (auth-int only), or bad syntax; the
// error names what (for the status log).
std::optional<challenge> parse_challenge(std::string_view value, std::string& error);

// The challenge to answer among a response's challenge values, in header order: the topmost one that
// parses (RFC 8760 §2.4: the proxy lists its preference first). nullopt with `error` (each value's
// problem) when none does.
std::optional<challenge> pick_challenge(const std::vector<std::string_view>& values, std::string& error);

struct credentials {
  std::string username;
  std::string password;
};

// Authorization (or Proxy-Authorization) value answering `c` for a request `method` to `uri`.
// `nonce_count` counts the requests answered with this nonce (from 1); `cnonce` is the client nonce
// (random, see make_cnonce); both are used only when c.qop_auth.
std::string authorization(const challenge& c, const credentials& who, std::string_view method,
                          std::string_view uri, uint32_t nonce_count, std::string_view cnonce);

// The response digest alone (lower-case hex), as RFC 7616 §3.4.1 computes it; authorization() uses it.
std::string response_digest(const challenge& c, const credentials& who, std::string_view method,
                            std::string_view uri, uint32_t nonce_count, std::string_view cnonce);

// A fresh client nonce: 16 random bytes, hex.
std::string make_cnonce();

// One server's last challenge and how often its nonce was used: each answer counts up (nc), a new nonce
// counts from 1 again. The REGISTER login and the requests relayed through a SIP proxy both keep one.
class answerer {
 public:
  // The challenge of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate, `proxy`).
  void challenged(challenge c, bool proxy);
  void forget() { challenge_.reset(); }
  bool ready() const { return challenge_.has_value(); }
  const std::optional<challenge>& last() const { return challenge_; }
  // "Authorization" or "Proxy-Authorization", as the challenge came.
  std::string_view header() const { return proxy_ ? "Proxy-Authorization" : "Authorization"; }
  // The header's value for a request `method` to `uri`, with the next nonce count. Needs ready().
  std::string next(const credentials& who, std::string_view method, std::string_view uri);

 private:
  std::optional<challenge> challenge_;
  bool proxy_ = false;
  uint32_t nonce_count_ = 0;
};

}  // namespace fedgw::proxy::digest
