// Lower-case hex of bytes (digests, random identifiers).
#pragma once

#include <cstddef>
#include <string>

namespace fedgw::proxy {

inline std::string hex(const unsigned char* data, size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 15]);
  }
  return out;
}

}  // namespace fedgw::proxy
