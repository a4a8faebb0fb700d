// The gateway's CAF scheduling policy: CAF 0.17's work stealing, with the reactor's I/O loops run by the
// workers themselves.
//
// Why: CAF runs actors on its worker threads and leaves sockets to someone else. With the reactor on
// threads of its own, a message that arrived alone crossed from the I/O thread to a sleeping worker (a
// futex wake-up and a context switch, twice per proxied transaction), which dominated the CPU cost per
// message at low load. Here worker N is also the reactor's I/O loop N (reactor::options::external_threads).
// One idle worker, the watcher, waits in epoll for the sockets of EVERY loop (reactor::poll_all), and the
// connection actors those sockets wake run on that same thread, without a wake-up; the other idle workers
// wait on their condition variables. At low load one thread so does all the work. (When each idle worker
// waited on its own loop, a request and its response, read on two loops, woke two threads, which also
// contended for the connections' locks: at 1,000/s 64-72 µs per MESSAGE against 56-58 with one worker.)
// A busy worker polls its loop (without waiting) every `poll_every` jobs, and every loop while nobody
// watches them, so its sockets are read under load too. Jobs enqueued from other threads wake the watcher
// through its loop's eventfd, another worker through its condition variable. Stealing is CAF's; since a
// worker's own jobs wake nobody, a saturated worker (no empty queue for `saturated_after` jobs) wakes an idle
// one to steal and hands what it reads to the others round robin (else one connection's load stayed on the
// worker reading it, the others stealing only every 10 ms). A connection that reads a burst of requests at
// once hands the requests past the first two to the other workers (spread_scope): the worker reading one
// busy connection then keeps the reading, the serial part, and the proxying runs on the other cores.
// All that spreading pays only while cores are free. When they are all taken (a running worker waits for a
// CPU more than a tenth of the time it wants to run, net::cpu_wait_meter), work stays on the worker that has
// it: no thief is woken, nothing is handed round robin (jobs from other threads, such as CAF's timers, go to
// an awake worker), and a worker that goes idle while another is awake sleeps on its condition variable
// (neither watching nor stealing) until handed work; the last to go idle watches. Another worker would only
// add hand-offs (on 2 shared cores 1 -> 2 workers lost 6-10 % of msg/s and cost 12-18 % more CPU per message
// without this, README).
// The verdict lapses `cores_busy_for` after the sample that gave it (samples come only from a worker that
// runs many jobs in a row), so that at low load the work spreads as before.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/scheduler/worker.hpp>

#include "gateway/net/cpu_wait.h"
#include "gateway/net/reactor.h"

namespace fedgw {

class io_stealing : public caf::policy::work_stealing {
 public:
  using base = caf::policy::work_stealing;
  using worker_type = caf::scheduler::worker<io_stealing>;
  static constexpr size_t poll_every = 16;
  // A worker that ran this many jobs without finding its queue empty is saturated: what it reads is then
  // spread over the workers. Below that (low and moderate load) it keeps its own work: no wake-ups.
  static constexpr size_t saturated_after = 64;
  // How long a "cores busy" verdict holds without a new sample confirming it (3 of the meter's windows).
  static constexpr std::chrono::milliseconds cores_busy_for{300};

  struct worker_data : base::worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator* p) : base::worker_data(p) {}
    worker_data(const worker_data& other) : base::worker_data(other) {}
    size_t jobs_since_poll = 0;
    size_t jobs_since_idle = 0;
    size_t next_other = 0;  // spread_scope's round robin
    bool thief_woken = false;  // under waitdata.lock: woken to steal, not yet awake
    bool watches = false;      // under waitdata.lock: sleeping as the watcher (in epoll), not on waitdata.cv
    net::cpu_wait_meter cpu_wait;  // this worker's wait for a CPU, sampled while it runs jobs
  };

  // The reactor whose loops the workers run (built with external_threads and one loop per worker); it must
  // outlive the actor system. Null (the default): plain work stealing.
  // `spread_when_cores_busy` turns the busy-cores check off: work spreads over the workers whatever the cores
  // do (the config field of that name).
  static void attach(net::reactor* reactor, bool spread_when_cores_busy = false) {
    check_cores_.store(!spread_when_cores_busy, std::memory_order_relaxed);
    cores_busy_.store(false, std::memory_order_relaxed);
    reactor_.store(reactor, std::memory_order_release);
  }
  // Whether a running worker found every core taken, less than cores_busy_for ago (see the top of this file).
  static bool cores_busy() { return cores_busy_.load(std::memory_order_relaxed); }
  // Times a verdict turned from free to busy, since start (metrics).
  static uint64_t cores_busy_total() { return cores_busy_total_.load(std::memory_order_relaxed); }

  // Enqueues from no actor context (anon_send, the reactor's handlers): on an idle worker thread the job
  // stays on that worker, as an actor's own sends do; otherwise round robin over the workers.
  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    if (current_worker_ != nullptr && current_worker_->parent() == self) {
      size_t n = self->num_workers();
      if (spread_ && n > 1 && !cores_busy()) {
        // Asked to hand this job to another worker (work from a burst of input): round robin over the others.
        auto& data = d(current_worker_);
        size_t other = (current_worker_->id() + 1 + data.next_other++ % (n - 1)) % n;
        return external_enqueue(self->worker_by_id(other), job);
      }
      // On a saturated worker, round robin instead (as from other threads): what one worker reads is spread.
      if (d(current_worker_).jobs_since_idle < saturated_after) return internal_enqueue(current_worker_, job);
      // Cores busy: to this worker's own queue, at its tail (FIFO, as the round robin would: input read under
      // saturation must not overtake older runnable jobs).
      if (cores_busy()) return external_enqueue(current_worker_, job);
    } else if (current_worker_ == nullptr && self->num_workers() > 1 && cores_busy()) {
      // From a thread of no worker (CAF's clock: timeouts and ticks; the DNS thread) while the cores are busy:
      // to the worker that has the work. Round robin woke a sleeping one, and an actor run there (a proxy-core
      // shard's tick) pulled the work over: one worker's share of the gateway's CPU fell from ~100 % to 52-70 %
      // in some 2-worker runs.
      if (auto* w = awake_worker(self)) return external_enqueue(w, job);
    }
    base::central_enqueue(self, job);
  }

  // While one lives on this thread (a worker), the jobs that central enqueues make runnable go to the other
  // workers round robin, waking them if they wait; off (or outside a worker) enqueues behave as above.
  class spread_scope {
   public:
    explicit spread_scope(bool on) : previous_(spread_) { spread_ = on; }
    ~spread_scope() { spread_ = previous_; }
    spread_scope(const spread_scope&) = delete;
    spread_scope& operator=(const spread_scope&) = delete;

   private:
    bool previous_;
  };

  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    auto& data = d(self);
    data.queue.prepend(job);
    if (data.jobs_since_idle >= saturated_after && sleepers_.load(std::memory_order_relaxed) != 0 && !cores_busy())
      wake_a_thief(self);
  }

  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    auto& data = d(self);
    data.queue.append(job);
    std::condition_variable* notify = nullptr;
    {
      std::unique_lock<std::mutex> guard(data.waitdata.lock);
      if (data.waitdata.sleeping && !data.queue.empty()) notify = wake_or_defer(self, data);
    }
    if (notify != nullptr) notify->notify_one();
  }

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    current_worker_ = self;
    auto* r = reactor_.load(std::memory_order_acquire);
    size_t loop = self->id();
    if (r == nullptr || r->stopped() || loop >= r->thread_count()) return base::dequeue(self);
    using std::chrono::milliseconds;
    auto& data = d(self);
    size_t workers = self->parent()->num_workers();
    if (++data.jobs_since_poll >= poll_every) {
      data.jobs_since_poll = 0;
      poll_without_waiting(r, loop, workers);
      if (workers > 1) note_cpu_wait(data, loop);
    }
    if (auto* job = data.queue.take_head()) {
      ++data.jobs_since_idle;
      return job;
    }
    // Nothing queued. The next watcher steals once and goes to wait: its poll_all sends its writes and returns
    // at once when a socket is ready (one epoll_wait less per wake-up than polling first). Otherwise this
    // worker's sockets, a few quick attempts (stealing), then wait on the condition variable.
    data.jobs_since_poll = 0;
    data.jobs_since_idle = 0;
    lapse_cores_busy();
    auto& strategies = data.strategies;
    if (keep_to_one_worker(workers)) {
      // another worker is awake and the cores are busy: it has the work; sleep until handed some
    } else if (workers == 1 || watcher_.load(std::memory_order_relaxed)) {
      poll_without_waiting(r, loop, workers);
      for (size_t i = 0; i < strategies[0].attempts; i += strategies[0].step_size) {
        if (auto* job = data.queue.take_head()) return job;
        if (workers > 1 && i % strategies[0].steal_interval == 0)
          if (auto* job = try_steal(self)) return job;
      }
    } else if (auto* job = try_steal(self)) {
      return job;
    }
    auto relaxed = std::chrono::duration_cast<milliseconds>(strategies[2].sleep_duration);
    if (relaxed.count() < 1) relaxed = milliseconds(1);
    for (size_t i = 1;; ++i) {
      bool wait = false;
      bool watch = false;
      {
        std::unique_lock<std::mutex> guard(data.waitdata.lock);
        if (data.queue.empty()) {
          wait = data.waitdata.sleeping = true;
          bool others_awake = sleepers_.fetch_add(1, std::memory_order_relaxed) + 1 < workers;
          // While the cores are busy, only the last worker to go idle watches (an awake one polls every loop).
          watch = data.watches = workers == 1 || (!(others_awake && cores_busy()) && !watcher_.exchange(true));
        }
      }
      if (wait) {
        bool polled = false;
        if (watch) {
          polled = workers == 1 ? r->poll(loop, relaxed) : r->poll_all(relaxed);
        } else {
          r->flush();  // this worker's writes must not wait for its next poll
          std::unique_lock<std::mutex> guard(data.waitdata.lock);
          data.waitdata.cv.wait_for(guard, relaxed, [&] { return !data.queue.empty() || data.thief_woken; });
        }
        {
          std::unique_lock<std::mutex> guard(data.waitdata.lock);
          data.waitdata.sleeping = false;
          data.thief_woken = false;
          data.watches = false;
          sleepers_.fetch_sub(1, std::memory_order_relaxed);
        }
        if (watch && workers > 1) watcher_.store(false);
        if (!polled && r->stopped()) return base::dequeue(self);  // shutting down: the condition variable
      }
      if (auto* job = data.queue.take_head()) return job;
      if (i % strategies[2].steal_interval == 0 && !keep_to_one_worker(workers))
        if (auto* job = try_steal(self)) return job;
    }
  }

 private:
  // Wakes one other idle worker (not woken for this already).
  template <class Worker>
  void wake_a_thief(Worker* self) {
    auto* r = reactor_.load(std::memory_order_acquire);
    if (r == nullptr) return;
    auto* parent = self->parent();
    size_t n = parent->num_workers();
    for (size_t k = 1; k < n; ++k) {
      auto* w = parent->worker_by_id((self->id() + k) % n);
      auto& data = d(w);
      std::condition_variable* notify = nullptr;
      {
        std::unique_lock<std::mutex> guard(data.waitdata.lock);
        if (!data.waitdata.sleeping || data.thief_woken) continue;
        data.thief_woken = true;
        notify = wake_or_defer(w, data);
      }
      if (notify != nullptr) notify->notify_one();
      return;
    }
  }

  // Wakes a sleeping worker; the caller holds its waitdata.lock. The watcher (in epoll) is woken at once,
  // through its loop's eventfd: written after the lock, the write could land after the watcher woke for an
  // earlier enqueue and end its next wait at once (a spurious wake-up, after which it steals: a test saw
  // receivers move to the other worker). A worker waiting on its condition variable is returned, to be
  // notified after the caller lets go of the lock: notified under it, the worker's first step (taking that
  // lock) blocked at once, one more futex wait, futex wake and context switch per hand-off. A late notify is
  // absorbed by the wait's predicate (queue non-empty or thief_woken, checked under the lock).
  template <class Worker>
  static std::condition_variable* wake_or_defer(Worker* w, worker_data& data) {
    if (!data.watches) return &data.waitdata.cv;
    if (auto* r = reactor_.load(std::memory_order_acquire)) r->wake(w->id());
    return nullptr;
  }

  // A worker not sleeping (first the one that sampled last: it runs jobs in a row, while another may only be
  // on its way to sleep), else the watcher (in epoll); null when every worker sleeps on its condition
  // variable. One lock per worker looked at: only for jobs from other threads while the cores are busy.
  template <class Coordinator>
  static worker_type* awake_worker(Coordinator* self) {
    worker_type* watcher = nullptr;
    size_t n = self->num_workers();
    size_t first = running_worker_.load(std::memory_order_relaxed);
    for (size_t k = 0; k < n; ++k) {
      auto* w = self->worker_by_id((first + k) % n);
      auto& data = d(w);
      std::unique_lock<std::mutex> guard(data.waitdata.lock);
      if (!data.waitdata.sleeping) return w;
      if (data.watches) watcher = w;
    }
    return watcher;
  }

  // Cores busy and another worker awake (the caller is not counted among the sleepers).
  static bool keep_to_one_worker(size_t workers) {
    return cores_busy() && sleepers_.load(std::memory_order_relaxed) + 1 < workers;
  }

  // A running worker samples its wait for a CPU (a window of at least 100 ms) and sets cores_busy_ for all:
  // the latest verdict of any worker holds, for cores_busy_for.
  static void note_cpu_wait(worker_data& data, size_t worker_id) {
    if (!check_cores_.load(std::memory_order_relaxed)) return;
    auto now = net::cpu_wait_meter::clock::now();
    if (!data.cpu_wait.due(now)) return;
    auto times = net::thread_cpu_times();
    if (!times) return;  // the kernel keeps no schedstat: spread as if the cores were free
    if (!data.cpu_wait.sample(now, *times)) return;
    running_worker_.store(worker_id, std::memory_order_relaxed);
    bool busy = data.cpu_wait.busy();
    if (busy) busy_until_ns_.store((now + cores_busy_for).time_since_epoch().count(), std::memory_order_relaxed);
    bool was_busy = cores_busy_.exchange(busy, std::memory_order_relaxed);
    if (busy && !was_busy) cores_busy_total_.fetch_add(1, std::memory_order_relaxed);
  }

  // A worker going idle ends a verdict that no sample renewed in time (a clock read only while one holds).
  static void lapse_cores_busy() {
    if (!cores_busy()) return;
    auto now = net::cpu_wait_meter::clock::now().time_since_epoch().count();
    if (now >= busy_until_ns_.load(std::memory_order_relaxed)) cores_busy_.store(false, std::memory_order_relaxed);
  }

  // A worker's poll between jobs: its own loop; every loop when workers sleep and none of them watches.
  static void poll_without_waiting(net::reactor* r, size_t loop, size_t workers) {
    if (workers > 1 && sleepers_.load(std::memory_order_relaxed) != 0 && !watcher_.load(std::memory_order_relaxed))
      r->poll_all(std::chrono::milliseconds(0));
    else
      r->poll(loop, std::chrono::milliseconds(0));
  }

  static inline std::atomic<net::reactor*> reactor_{nullptr};
  static inline std::atomic<bool> check_cores_{true};
  static inline std::atomic<bool> cores_busy_{false};
  static inline std::atomic<int64_t> busy_until_ns_{0};  // steady clock: when cores_busy_ lapses
  static inline std::atomic<uint64_t> cores_busy_total_{0};
  static inline std::atomic<size_t> running_worker_{0};  // the worker that sampled its wait for a CPU last
  static inline std::atomic<size_t> sleepers_{0};  // idle workers (the watcher and those on their condition variables)
  static inline std::atomic<bool> watcher_{false};  // an idle worker waits in reactor::poll_all
  static inline thread_local worker_type* current_worker_ = nullptr;
  static inline thread_local bool spread_ = false;
};

}  // namespace fedgw
