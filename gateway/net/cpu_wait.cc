#include "gateway/net/cpu_wait.h"

#include <fcntl.h>
#include <unistd.h>

namespace fedgw::net {

namespace {

struct schedstat_file {
  int fd = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  ~schedstat_file() {
    if (fd >= 0) ::close(fd);
  }
};

// A decimal number at the start of `text` (removed from it); false when there is none or it overflows.
bool take_number(std::string_view& text, uint64_t& value) {
  size_t digits = 0;
  value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    if (value > (UINT64_MAX - 9) / 10) return false;
    value = value * 10 + static_cast<uint64_t>(text[digits++] - '0');
  }
  text.remove_prefix(digits);
  return digits > 0;
}

}  // namespace

std::optional<cpu_times> parse_schedstat(std::string_view text) {
  cpu_times times;
  if (!take_number(text, times.ran_ns) || text.empty() || text.front() != ' ') return std::nullopt;
  text.remove_prefix(1);
  if (!take_number(text, times.waited_ns) || (!text.empty() && text.front() != ' ' && text.front() != '\n'))
    return std::nullopt;
  return times;
}

std::optional<cpu_times> thread_cpu_times() {
  // Opened by the thread it describes (thread-self resolves at open).
  thread_local schedstat_file file;
  if (file.fd < 0) return std::nullopt;
  char text[96];
  ssize_t n = ::pread(file.fd, text, sizeof text, 0);
  if (n <= 0) return std::nullopt;
  return parse_schedstat(std::string_view(text, static_cast<size_t>(n)));
}

bool cpu_wait_meter::sample(clock::time_point now, cpu_times times) {
  if (!started_ || now <= last_at_ || times.ran_ns < last_.ran_ns || times.waited_ns < last_.waited_ns) {
    started_ = true;
    last_at_ = now;
    last_ = times;
    return false;
  }
  uint64_t waited = times.waited_ns - last_.waited_ns;
  uint64_t runnable = (times.ran_ns - last_.ran_ns) + waited;
  auto min_runnable = static_cast<uint64_t>(std::chrono::nanoseconds(opts_.min_runnable).count());
  if (now - last_at_ < opts_.every || runnable < min_runnable) return false;
  double share = static_cast<double>(waited) / static_cast<double>(runnable);
  last_at_ = now;
  last_ = times;
  if (share > opts_.busy_above) busy_ = true;
  else if (share < opts_.free_below) busy_ = false;
  return true;
}

}  // namespace fedgw::net
