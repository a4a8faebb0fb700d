// The admin page's password, stored in the config only as a salted PBKDF2-SHA256 hash:
//   pbkdf2-sha256$<iterations>$<salt, hex>$<derived key, hex>
// (made by `fedctl hash-password`). Plain code over OpenSSL.
#pragma once

#include <string>
#include <string_view>

namespace fedgw::password {

inline constexpr unsigned default_iterations = 200000;

// A new hash of `password` with a random 16-byte salt.
std::string make_hash(std::string_view password, unsigned iterations = default_iterations);
// Whether `hash` has the form above (iterations 1000..10,000,000, salt >= 4 bytes, key 32 bytes).
bool is_hash(std::string_view hash);
// Whether `password` matches `hash` (constant-time comparison of the derived keys); false for a malformed hash.
bool verify(std::string_view password, std::string_view hash);

}  // namespace fedgw::password
