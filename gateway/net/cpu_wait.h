// How long the calling thread has waited for a CPU: runnable, but not running, because other threads had
// the cores. The scheduling policy (gateway/io_scheduling.h) spreads work over more workers only while
// this stays low: when every core is taken, another worker adds hand-offs, not CPU.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace fedgw::net {

// A thread's time on a CPU and time runnable but waiting for one, in nanoseconds since it started (the
// kernel's schedstat).
struct cpu_times {
  uint64_t ran_ns = 0;
  uint64_t waited_ns = 0;
};

// The calling thread's (/proc/thread-self/schedstat); nullopt where the kernel does not keep them. Keeps one
// file descriptor open per calling thread.
std::optional<cpu_times> thread_cpu_times();
// A schedstat text ("<ns on a CPU> <ns waiting for one> <timeslices>"); nullopt when the text is not that.
std::optional<cpu_times> parse_schedstat(std::string_view text);

// The share of its runnable time a thread waited for a CPU, from samples of thread_cpu_times(), with
// hysteresis: busy above `busy_above`, free again below `free_below`. A window closes when at least `every`
// of wall time and `min_runnable` of runnable time (ran + waited) passed: time the thread slept counts for
// nothing (a worker that slept most of a window and then ran without waiting found a free core).
class cpu_wait_meter {
 public:
  using clock = std::chrono::steady_clock;
  struct options {
    std::chrono::milliseconds every{100};
    std::chrono::milliseconds min_runnable{20};
    double busy_above = 0.10;
    double free_below = 0.03;
  };
  cpu_wait_meter() : cpu_wait_meter(options{}) {}
  explicit cpu_wait_meter(options opts) : opts_(opts) {}

  // Feeds one sample (the thread's times so far, at `now`); returns true when it closed a window (busy() then
  // holds that window's verdict), false for the first sample or one too early.
  bool sample(clock::time_point now, cpu_times times);
  bool due(clock::time_point now) const { return !started_ || now - last_at_ >= opts_.every; }
  bool busy() const { return busy_; }

 private:
  options opts_;
  bool started_ = false;
  bool busy_ = false;
  clock::time_point last_at_{};
  cpu_times last_{};
};

}  // namespace fedgw::net
