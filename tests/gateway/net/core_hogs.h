// Test helper: spinning threads, twice as many as cores, until destroyed (at the latest after `limit`), so
// that every core is busy and any other runnable thread waits for a CPU.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace fedgw::test {

struct core_hogs {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  explicit core_hogs(std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    for (unsigned i = 0; i < 2 * std::max(1u, std::thread::hardware_concurrency()); ++i)
      threads.emplace_back([this, until] {
        while (!stop.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < until) {
        }
      });
  }
  ~core_hogs() {
    stop = true;
    for (auto& t : threads) t.join();
  }
  core_hogs(const core_hogs&) = delete;
  core_hogs& operator=(const core_hogs&) = delete;
};

}  // namespace fedgw::test
