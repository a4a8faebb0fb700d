// libFuzzer target: any text as a schedstat line -> parse_schedstat; any sequence of samples ->
// cpu_wait_meter, whose verdict must follow the share of the window it closed.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "gateway/net/cpu_wait.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fedgw::net::cpu_times;
  using fedgw::net::cpu_wait_meter;
  auto parsed = fedgw::net::parse_schedstat(std::string_view(reinterpret_cast<const char*>(data), size));
  if (parsed && size < 3) std::abort();  // at least "N N"
  cpu_wait_meter::options opts;
  cpu_wait_meter meter(opts);
  auto now = cpu_wait_meter::clock::time_point{} + std::chrono::hours(1);
  cpu_times times;
  bool started = false;
  auto last_at = now;
  cpu_times last;
  for (size_t i = 0; i + 6 <= size; i += 6) {
    uint16_t step_ms, ran_step, waited_step;
    std::memcpy(&step_ms, data + i, 2);
    std::memcpy(&ran_step, data + i + 2, 2);
    std::memcpy(&waited_step, data + i + 4, 2);
    now += std::chrono::milliseconds(step_ms % 256);
    // mostly forward; now and then backward (another thread's counters)
    times.ran_ns = (ran_step & 0x8000) ? times.ran_ns / 2 : times.ran_ns + uint64_t(ran_step) * 10000;
    times.waited_ns = times.waited_ns + uint64_t(waited_step) * 10000;
    bool closed = meter.sample(now, times);
    if (!started || now <= last_at || times.ran_ns < last.ran_ns || times.waited_ns < last.waited_ns) {
      if (closed) std::abort();
      started = true;
      last_at = now;
      last = times;
      continue;
    }
    uint64_t waited = times.waited_ns - last.waited_ns;
    uint64_t runnable = times.ran_ns - last.ran_ns + waited;
    if (now - last_at < opts.every || runnable < uint64_t(std::chrono::nanoseconds(opts.min_runnable).count())) {
      if (closed) std::abort();
      continue;
    }
    if (!closed) std::abort();
    double share = double(waited) / double(runnable);
    if (share > opts.busy_above && !meter.busy()) std::abort();
    if (share < opts.free_below && meter.busy()) std::abort();
    last_at = now;
    last = times;
  }
  return 0;
}
