// Resource limits for the SIP codec. Every buffer the codec keeps is bounded
// by these numbers, so no input can make it use unbounded memory.
#pragma once

#include <cstddef>

namespace fedgw::sip {

struct Limits {
  // Bytes from the start line up to and including the blank line (CRLFCRLF).
  size_t max_header_bytes = 16384;
  // Message body bytes (Content-Length value).
  size_t max_body_bytes = 65536;
  // Header lines in one message.
  size_t max_header_count = 128;
  // One header line (after unfolding continuation lines), or the start line.
  size_t max_line_bytes = 8192;
  // Via values in one message (all Via lines together).
  size_t max_via_values = 70;
  // Route plus Record-Route values in one message.
  size_t max_route_values = 70;
};

}  // namespace fedgw::sip
