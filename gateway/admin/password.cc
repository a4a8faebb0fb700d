#include "gateway/admin/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <optional>
#include <stdexcept>
#include <vector>

#include "gateway/proxy/hex.h"

namespace fedgw::password {

namespace {

constexpr std::string_view scheme = "pbkdf2-sha256";
constexpr size_t key_bytes = 32;

struct parsed {
  unsigned iterations = 0;
  std::vector<unsigned char> salt;
  std::vector<unsigned char> key;
};

std::optional<parsed> parse(std::string_view hash) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    auto end = hash.find('$', start);
    parts.push_back(hash.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (parts.size() != 4 || parts[0] != scheme || parts[1].empty() || parts[1].size() > 8) return std::nullopt;
  parsed p;
  for (char c : parts[1]) {
    if (c < '0' || c > '9') return std::nullopt;
    p.iterations = p.iterations * 10 + static_cast<unsigned>(c - '0');
  }
  auto salt = proxy::from_hex(parts[2]);
  auto key = proxy::from_hex(parts[3]);
  if (p.iterations < 1000 || p.iterations > 10000000 || !salt || salt->size() < 4 || salt->size() > 64 || !key ||
      key->size() != key_bytes)
    return std::nullopt;
  p.salt = std::move(*salt);
  p.key = std::move(*key);
  return p;
}

std::vector<unsigned char> derive(std::string_view password, const std::vector<unsigned char>& salt,
                                  unsigned iterations) {
  std::vector<unsigned char> key(key_bytes);
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), EVP_sha256(), static_cast<int>(key.size()), key.data()) != 1)
    throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");
  return key;
}

}  // namespace

std::string make_hash(std::string_view password, unsigned iterations) {
  std::vector<unsigned char> salt(16);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  auto key = derive(password, salt, iterations);
  return std::string(scheme) + "$" + std::to_string(iterations) + "$" + proxy::hex(salt.data(), salt.size()) + "$" +
         proxy::hex(key.data(), key.size());
}

bool is_hash(std::string_view hash) { return parse(hash).has_value(); }

bool verify(std::string_view password, std::string_view hash) {
  auto p = parse(hash);
  if (!p) return false;
  auto key = derive(password, p->salt, p->iterations);
  return CRYPTO_memcmp(key.data(), p->key.data(), key_bytes) == 0;
}

}  // namespace fedgw::password
