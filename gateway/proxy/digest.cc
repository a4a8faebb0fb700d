#include "gateway/proxy/digest.h"

#include <cstdio>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "gateway/proxy/hex.h"
#include "gateway/sip/grammar.h"
#include "gateway/sip/syntax.h"
#include "gateway/sip/uri.h"

namespace fedgw::proxy::digest {
namespace {

using sip::detail::iequals;
using sip::detail::is_ws;

std::string hash(algorithm a, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const EVP_MD* type = a == algorithm::sha256 ? EVP_sha256() : EVP_md5();
  if (EVP_Digest(data.data(), data.size(), md, &len, type, nullptr) != 1)
    throw std::runtime_error("digest: EVP_Digest failed");
  return hex(md, len);
}

std::string join(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out.push_back(':');
    out.append(p);
  }
  return out;
}

// A quoted-string for the value (RFC 3261 §25.1: `"` and `\` escaped).
void append_quoted(std::string& out, std::string_view v) {
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

void skip_ws(std::string_view& s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
}

// One auth-param (name=token or name="quoted") from the front of `s`; false on bad syntax.
bool next_param(std::string_view& s, std::string_view& name, std::string& value, std::string& error) {
  skip_ws(s);
  size_t eq = s.find('=');
  if (eq == std::string_view::npos) {
    error = "parameter \"" + std::string(s.substr(0, 40)) + "\" has no value";
    return false;
  }
  name = sip::detail::trim_ws(s.substr(0, eq));
  if (!sip::detail::is_token(name)) {
    error = "bad parameter name \"" + std::string(name.substr(0, 40)) + "\"";
    return false;
  }
  s.remove_prefix(eq + 1);
  skip_ws(s);
  if (!s.empty() && s.front() == '"') {
    size_t n = sip::quoted_string_length(s);
    if (n == 0) {
      error = "unterminated quoted value of " + std::string(name);
      return false;
    }
    value = sip::unquote(s.substr(0, n));
    s.remove_prefix(n);
  } else {
    size_t end = s.find(',');
    auto raw = sip::detail::trim_ws(s.substr(0, end));
    if (!sip::detail::is_token(raw)) {
      error = "bad value of " + std::string(name);
      return false;
    }
    value = std::string(raw);
    s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  }
  skip_ws(s);
  if (!s.empty()) {
    if (s.front() != ',') {
      error = "expected ',' after " + std::string(name);
      return false;
    }
    s.remove_prefix(1);
  }
  return true;
}

// nc: the nonce count as 8 hex digits.
std::string nonce_count_text(uint32_t n) {
  char text[9];
  std::snprintf(text, sizeof text, "%08x", n);
  return text;
}

bool qop_list_has_auth(std::string_view list) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (iequals(sip::detail::trim_ws(list.substr(0, comma)), "auth")) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::string_view algorithm_name(algorithm a, bool session) {
  if (a == algorithm::sha256) return session ? "SHA-256-sess" : "SHA-256";
  return session ? "MD5-sess" : "MD5";
}

std::optional<challenge> parse_challenge(std::string_view value, std::string& error) {
  value = sip::detail::trim_ws(value);
  size_t sp = value.find_first_of(" \t");
  auto scheme = value.substr(0, sp);
  if (!iequals(scheme, "Digest")) {
    error = "scheme \"" + std::string(scheme.substr(0, 20)) + "\" is not Digest";
    return std::nullopt;
  }
  std::string_view rest = sp == std::string_view::npos ? std::string_view{} : value.substr(sp);
  challenge c;
  bool has_realm = false, has_nonce = false, has_qop = false;
  std::string qop;
  while (!sip::detail::trim_ws(rest).empty()) {
    std::string_view name;
    std::string v;
    if (!next_param(rest, name, v, error)) return std::nullopt;
    if (iequals(name, "realm")) {
      c.realm = std::move(v);
      has_realm = true;
    } else if (iequals(name, "nonce")) {
      c.nonce = std::move(v);
      has_nonce = true;
    } else if (iequals(name, "opaque")) {
      c.opaque = std::move(v);
      c.has_opaque = true;
    } else if (iequals(name, "stale")) {
      c.stale = iequals(v, "true");
    } else if (iequals(name, "qop")) {
      qop = std::move(v);
      has_qop = true;
    } else if (iequals(name, "algorithm")) {
      std::string_view a = v;
      if (a.size() > 5 && iequals(a.substr(a.size() - 5), "-sess")) {
        c.session = true;
        a.remove_suffix(5);
      }
      if (iequals(a, "MD5")) {
        c.alg = algorithm::md5;
      } else if (iequals(a, "SHA-256")) {
        c.alg = algorithm::sha256;
      } else {
        error = "algorithm " + v + " is not supported (MD5 and SHA-256 are)";
        return std::nullopt;
      }
    }  // other parameters (domain, charset, userhash, ...) do not change the answer
  }
  for (auto [name, v] : {std::pair<const char*, const std::string*>{"realm", &c.realm}, {"nonce", &c.nonce},
                         {"opaque", &c.opaque}})
    for (unsigned char ch : *v)
      if (ch < 0x20 || ch == 0x7f) {
        error = std::string(name) + " contains a control character";  // could not be sent back verbatim
        return std::nullopt;
      }
  if (!has_realm || !has_nonce) {
    error = has_realm ? "no nonce" : "no realm";
    return std::nullopt;
  }
  if (has_qop) {
    c.qop_auth = qop_list_has_auth(qop);
    if (!c.qop_auth) {
      error = "qop \"" + qop + "\" offers no \"auth\"";
      return std::nullopt;
    }
  }
  return c;
}

std::optional<challenge> pick_challenge(const std::vector<std::string_view>& values, std::string& error) {
  error.clear();
  for (auto v : values) {
    std::string why;
    if (auto c = parse_challenge(v, why)) return c;
    if (!error.empty()) error += "; ";
    error += why;
  }
  if (values.empty()) error = "no challenge in the response";
  return std::nullopt;
}

std::string response_digest(const challenge& c, const credentials& who, std::string_view method,
                            std::string_view uri, uint32_t nonce_count, std::string_view cnonce) {
  std::string ha1 = hash(c.alg, join({who.username, c.realm, who.password}));
  if (c.session) ha1 = hash(c.alg, join({ha1, c.nonce, cnonce}));
  std::string ha2 = hash(c.alg, join({method, uri}));
  if (!c.qop_auth) return hash(c.alg, join({ha1, c.nonce, ha2}));
  return hash(c.alg, join({ha1, c.nonce, nonce_count_text(nonce_count), cnonce, "auth", ha2}));
}

std::string authorization(const challenge& c, const credentials& who, std::string_view method,
                          std::string_view uri, uint32_t nonce_count, std::string_view cnonce) {
  std::string out = "Digest username=";
  append_quoted(out, who.username);
  out += ", realm=";
  append_quoted(out, c.realm);
  out += ", nonce=";
  append_quoted(out, c.nonce);
  out += ", uri=";
  append_quoted(out, uri);
  out += ", response=\"";
  out += response_digest(c, who, method, uri, nonce_count, cnonce);
  out += "\", algorithm=";
  out += algorithm_name(c.alg, c.session);
  if (c.qop_auth) {
    out += ", qop=auth, nc=";
    out += nonce_count_text(nonce_count);
    out += ", cnonce=";
    append_quoted(out, cnonce);
  }
  if (c.has_opaque) {
    out += ", opaque=";
    append_quoted(out, c.opaque);
  }
  return out;
}

void answerer::challenged(challenge c, bool proxy) {
  if (!challenge_ || challenge_->nonce != c.nonce || challenge_->realm != c.realm) nonce_count_ = 0;
  challenge_ = std::move(c);
  proxy_ = proxy;
}

std::string answerer::next(const credentials& who, std::string_view method, std::string_view uri) {
  return authorization(*challenge_, who, method, uri, ++nonce_count_, make_cnonce());
}

std::string make_cnonce() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("digest: no random bytes for a cnonce");
  return hex(bytes, sizeof bytes);
}

}  // namespace fedgw::proxy::digest
