// io_stealing: CAF workers that run the reactor's I/O loops (gateway/io_scheduling.h), with a real actor
// system, real sockets and the reactor in external_threads mode.
#include "gateway/io_scheduling.h"
#include "tests/gateway/net/core_hogs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <utility>
#include <memory>
#include <mutex>
#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace fedgw {
namespace {

using namespace std::chrono_literals;
using echo_atom = caf::atom_constant<caf::atom("echo")>;

// A reactor whose loops the workers of an actor system (two workers) run; the relaxed sleep is long, so that
// a sleeping worker is only woken by the wake-up of an enqueue (or by sockets).
struct scheduled_system {
  std::unique_ptr<net::reactor> reactor;
  std::unique_ptr<caf::actor_system_config> config;
  std::unique_ptr<caf::actor_system> system;

  // Spreading is checked with the busy-cores policy off unless asked for (the tests share the machine's cores).
  explicit scheduled_system(bool spread_when_cores_busy = true) {
    net::reactor::options o;
    o.threads = 2;
    o.external_threads = true;
    reactor = std::make_unique<net::reactor>(o);
    io_stealing::attach(reactor.get(), spread_when_cores_busy);
    config = std::make_unique<caf::actor_system_config>();
    config->set("scheduler.max-threads", size_t{2});
    config->set("work-stealing.relaxed-sleep-duration", caf::timespan{std::chrono::seconds(30)});
    config->load<caf::scheduler::coordinator<io_stealing>>();
    system = std::make_unique<caf::actor_system>(*config);
  }
  ~scheduled_system() {
    reactor->stop();
    system.reset();  // joins the workers
    io_stealing::attach(nullptr);
  }
};

// Hands the bytes of a connection to an actor, which writes them back through the reactor.
struct to_actor : net::reactor::handler {
  caf::actor echo;
  void on_data(net::reactor::conn_id conn, std::string_view bytes) override {
    caf::anon_send(echo, echo_atom::value, conn, std::string(bytes));
  }
  void on_closed(net::reactor::conn_id, const std::string&) override {}
};

int connect_to(const net::endpoint& where) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(where.port);
  inet_pton(AF_INET, where.ip.c_str(), &addr.sin_addr);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

// An actor that writes back what a connection read, and a listener whose connections hand their bytes to it;
// `threads` collects the threads the actor ran on.
struct echo_service {
  caf::actor echo;
  uint64_t listener = 0;
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
  std::shared_ptr<std::map<std::thread::id, int>> threads = std::make_shared<std::map<std::thread::id, int>>();

  explicit echo_service(scheduled_system& s) {
    auto* reactor = s.reactor.get();
    echo = s.system->spawn([reactor, m = mutex, seen = threads](caf::event_based_actor*) -> caf::behavior {
      return {[=](echo_atom, net::reactor::conn_id conn, const std::string& bytes) {
        {
          std::lock_guard<std::mutex> lock(*m);
          ++(*seen)[std::this_thread::get_id()];
        }
        reactor->write(conn, bytes);
        reactor->consumed(conn, bytes.size());
      }};
    });
    auto handler = std::make_shared<to_actor>();
    handler->echo = echo;
    std::string error;
    listener = reactor->listen_tcp({"127.0.0.1", 0}, [handler](net::reactor::conn_id, const std::string&) {
      return std::static_pointer_cast<net::reactor::handler>(handler);
    }, error);
    EXPECT_NE(listener, 0u) << error;
  }
  ~echo_service() { caf::anon_send_exit(echo, caf::exit_reason::user_shutdown); }
  // The most messages one thread ran, of `total` (the count since reset()).
  int busiest_thread(int& total) {
    std::lock_guard<std::mutex> lock(*mutex);
    int most = 0;
    total = 0;
    for (auto& [id, n] : *threads) {
      most = std::max(most, n);
      total += n;
    }
    return most;
  }
  void reset() {
    std::lock_guard<std::mutex> lock(*mutex);
    threads->clear();
  }
};

TEST(IoStealing, WorkersReadTheSocketsAndRunTheActorsTheyWake) {
  scheduled_system s;
  echo_service service(s);
  ASSERT_NE(service.listener, 0u);
  // Several connections, spread over both loops.
  for (int i = 0; i < 4; ++i) {
    int fd = connect_to(s.reactor->local_endpoint(service.listener));
    std::string ping = "ping " + std::to_string(i);
    ASSERT_EQ(::send(fd, ping.data(), ping.size(), 0), static_cast<ssize_t>(ping.size()));
    char buf[64];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), ping);
    ::close(fd);
  }
}

// At low load one thread does the work: with every worker idle, the sockets of both loops are watched by one
// worker, which reads them and runs the actors they wake (before, each loop's events woke its own worker).
TEST(IoStealing, AtLowLoadOneWorkerReadsEveryLoop) {
  scheduled_system s;
  echo_service service(s);
  ASSERT_NE(service.listener, 0u);
  std::vector<int> clients;  // round robin: two on each loop
  for (int i = 0; i < 4; ++i) clients.push_back(connect_to(s.reactor->local_endpoint(service.listener)));
  for (int round = 0; round < 4; ++round) {
    if (round == 1) service.reset();  // the first round only settles the start-up
    for (int fd : clients) {
      std::this_thread::sleep_for(20ms);  // every worker idle again
      ASSERT_EQ(::send(fd, "ping", 4, 0), 4);
      char buf[4];
      ASSERT_EQ(::recv(fd, buf, sizeof buf, MSG_WAITALL), 4);
    }
  }
  // Each loop's worker would run half of them (6 of 12); one thread runs them all, but on a loaded machine (the
  // sanitizer runs) the watcher may change hands once in a while.
  int total = 0;
  EXPECT_GE(service.busiest_thread(total), 10);
  EXPECT_EQ(total, 12);
  for (int fd : clients) ::close(fd);
}

// A message from a thread that is not a worker (here the test's) reaches an actor while every worker sleeps with
// a 30 s timeout (one in epoll, the other on its condition variable): the enqueue wakes the one it went to.
TEST(IoStealing, MessagesFromOtherThreadsWakeAWorkerWaitingInEpoll) {
  scheduled_system s;
  auto doubler = s.system->spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](int x) { return 2 * x; }};
  });
  caf::scoped_actor self{*s.system};
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(200ms);  // every worker idle (one in epoll)
    auto started = std::chrono::steady_clock::now();
    int answer = 0;
    self->request(doubler, std::chrono::seconds(20), 21).receive([&](int r) { answer = r; },
                                                               [&](caf::error& e) { FAIL() << s.system->render(e); });
    EXPECT_EQ(answer, 42);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "round " << round;
  }
  caf::anon_send_exit(doubler, caf::exit_reason::user_shutdown);
}

// The threads a sender and the actor its message makes runnable ran on. The sender stays busy for 100 ms after
// sending, and the workers sleep 30 s unless woken: which worker runs the receiver is then decided by
// the enqueue alone.
using where_atom = caf::atom_constant<caf::atom("where")>;
using ran_atom = caf::atom_constant<caf::atom("ran")>;

std::pair<std::thread::id, std::thread::id> sender_and_receiver_threads(scheduled_system& s, bool spread) {
  auto sender_thread = std::make_shared<std::promise<std::thread::id>>();
  auto receiver_thread = std::make_shared<std::promise<std::thread::id>>();
  auto receiver = s.system->spawn([receiver_thread](caf::event_based_actor*) -> caf::behavior {
    return {[=](ran_atom) { receiver_thread->set_value(std::this_thread::get_id()); }};
  });
  auto sender = s.system->spawn([=](caf::event_based_actor*) -> caf::behavior {
    return {[=](where_atom) {
      sender_thread->set_value(std::this_thread::get_id());
      {
        io_stealing::spread_scope scope(spread);
        caf::anon_send(receiver, ran_atom::value);
      }
      std::this_thread::sleep_for(100ms);
    }};
  });
  std::this_thread::sleep_for(200ms);  // every worker idle (one in epoll)
  caf::anon_send(sender, where_atom::value);
  auto sent_from = sender_thread->get_future();
  auto ran_on = receiver_thread->get_future();
  EXPECT_EQ(sent_from.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(ran_on.wait_for(10s), std::future_status::ready) << "the receiver never ran";
  std::pair<std::thread::id, std::thread::id> threads;
  if (sent_from.valid() && ran_on.valid()) threads = {sent_from.get(), ran_on.get()};
  caf::anon_send_exit(sender, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(receiver, caf::exit_reason::user_shutdown);
  return threads;
}

// An actor's message keeps the receiver on the sender's worker (no wake-up, warm caches) ...
TEST(IoStealing, AnActorsMessageRunsTheReceiverOnTheSameWorker) {
  scheduled_system s;
  auto [sender, receiver] = sender_and_receiver_threads(s, false);
  EXPECT_NE(sender, std::thread::id());
  EXPECT_EQ(sender, receiver);
}

// ... unless sent within a spread_scope (the tail of a burst a connection read): then another worker, woken
// from epoll, runs the receiver while the sender's worker is still busy.
TEST(IoStealing, WithinASpreadScopeTheReceiverRunsOnAnotherWorker) {
  scheduled_system s;
  auto [sender, receiver] = sender_and_receiver_threads(s, true);
  EXPECT_NE(sender, std::thread::id());
  EXPECT_NE(receiver, std::thread::id());
  EXPECT_NE(sender, receiver);
}

// Jobs enqueued from outside the workers go round robin to both, so a job finds its worker sometimes asleep
// as the watcher (woken through its loop's eventfd), sometimes on its condition variable, sometimes still
// awake. A worker on its condition variable is notified after the enqueuer let go of its wait lock; no
// wake-up may be lost on either path (the relaxed sleep is 30 s, so a lost one stalls the round).
TEST(IoStealing, NoWakeUpIsLostOnJobsFromOutside) {
  scheduled_system s;
  auto ran = std::make_shared<std::atomic<int>>(0);
  auto mutex = std::make_shared<std::mutex>();
  auto threads = std::make_shared<std::map<std::thread::id, int>>();
  auto counter = s.system->spawn([=](caf::event_based_actor*) -> caf::behavior {
    return {[=](ran_atom) {
      {
        std::lock_guard<std::mutex> lock(*mutex);
        ++(*threads)[std::this_thread::get_id()];
      }
      ran->fetch_add(1);
    }};
  });
  constexpr int rounds = 2000;
  int stalled = 0;
  for (int i = 0; i < rounds && stalled == 0; ++i) {
    caf::anon_send(counter, ran_atom::value);
    auto until = std::chrono::steady_clock::now() + 5s;
    while (ran->load() <= i && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(20us);
    if (ran->load() <= i) ++stalled;
    if (i % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(100 * (i % 7)));  // let it sleep
  }
  EXPECT_EQ(stalled, 0) << "a job waited more than 5 s for its worker";
  EXPECT_EQ(ran->load(), rounds);
  std::lock_guard<std::mutex> lock(*mutex);
  EXPECT_EQ(threads->size(), 2u) << "the jobs did not reach both workers";
  caf::anon_send_exit(counter, caf::exit_reason::user_shutdown);
}

using test::core_hogs;

// Two actors pass a counter back and forth, `rounds` times: a worker runs one job after another (the
// policy samples its wait for a CPU then). Returns once the last one ran.
void pass_back_and_forth(scheduled_system& s, int rounds) {
  auto done = std::make_shared<std::promise<void>>();
  auto make = [&](caf::actor* other) {
    return s.system->spawn([other, done](caf::event_based_actor* self) -> caf::behavior {
      return {[=](int n) {
        if (n == 0) done->set_value();
        else self->send(*other, n - 1);
      }};
    });
  };
  caf::actor a, b;
  a = make(&b);
  b = make(&a);
  auto finished = done->get_future();
  caf::anon_send(a, rounds);
  EXPECT_EQ(finished.wait_for(30s), std::future_status::ready);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
}

// Runs jobs in a row until the policy finds every core busy (or `limit` passed).
bool run_jobs_until_cores_busy(scheduled_system& s, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!io_stealing::cores_busy() && std::chrono::steady_clock::now() < until) pass_back_and_forth(s, 5000);
  return io_stealing::cores_busy();
}

// While every core is busy, a second worker would only add hand-offs: the work stays on the worker that has
// it, even from a spread_scope.
TEST(IoStealing, WhileEveryCoreIsBusyTheReceiverStaysOnTheSendersWorker) {
  if (!net::thread_cpu_times()) GTEST_SKIP() << "this kernel keeps no schedstat";
  scheduled_system s(/*spread_when_cores_busy=*/false);
  core_hogs hogs(20s);
  ASSERT_TRUE(run_jobs_until_cores_busy(s, 10s)) << "a worker among spinning threads never found the cores busy";
  auto [sender, receiver] = sender_and_receiver_threads(s, true);
  EXPECT_NE(sender, std::thread::id());
  EXPECT_EQ(sender, receiver);
}

// Jobs from a thread of no worker (CAF's clock: timeouts and ticks) go, while every core is busy, to the worker
// that runs the work: round robin woke the sleeping worker, and what the job's actor sent moved work there.
TEST(IoStealing, WhileEveryCoreIsBusyJobsFromOtherThreadsGoToTheAwakeWorker) {
  if (!net::thread_cpu_times()) GTEST_SKIP() << "this kernel keeps no schedstat";
  scheduled_system s(/*spread_when_cores_busy=*/false);
  core_hogs hogs(30s);
  ASSERT_TRUE(run_jobs_until_cores_busy(s, 10s)) << "a worker among spinning threads never found the cores busy";
  // Two actors pass a counter back and forth until told to stop, keeping one worker awake (the other sleeps).
  using threads_seen = std::map<std::thread::id, int>;
  auto mutex = std::make_shared<std::mutex>();
  auto busy_threads = std::make_shared<threads_seen>();
  auto stop = std::make_shared<std::atomic<bool>>(false);
  auto stopped = std::make_shared<std::promise<void>>();
  auto make = [&](caf::actor* other) {
    return s.system->spawn([=](caf::event_based_actor* self) -> caf::behavior {
      return {[=](int n) {
        if (n % 100 == 0) {
          std::lock_guard<std::mutex> lock(*mutex);
          ++(*busy_threads)[std::this_thread::get_id()];
        }
        if (stop->load()) stopped->set_value();
        else self->send(*other, n + 1);
      }};
    });
  };
  caf::actor a, b;
  a = make(&b);
  b = make(&a);
  auto recorder_threads = std::make_shared<threads_seen>();
  auto recorder = s.system->spawn([=](caf::event_based_actor*) -> caf::behavior {
    return {[=](ran_atom) {
      std::lock_guard<std::mutex> lock(*mutex);
      ++(*recorder_threads)[std::this_thread::get_id()];
    }};
  });
  caf::anon_send(a, 0);
  std::this_thread::sleep_for(100ms);
  constexpr int sends = 100;
  for (int i = 0; i < sends; ++i) {
    caf::anon_send(recorder, ran_atom::value);  // from the test thread: no worker
    std::this_thread::sleep_for(3ms);
  }
  bool still_busy = io_stealing::cores_busy();
  stop->store(true);
  EXPECT_EQ(stopped->get_future().wait_for(10s), std::future_status::ready);
  // The recorder's jobs wait at the tail of the busy worker's queue (the pair's sends go to its head) until
  // the pair stopped.
  auto recorded = [&] {
    std::lock_guard<std::mutex> lock(*mutex);
    int n = 0;
    for (auto& [thread, runs] : *recorder_threads) n += runs;
    return n;
  };
  auto until = std::chrono::steady_clock::now() + 10s;
  while (recorded() < sends && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  for (auto& actor : {a, b, recorder}) caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  ASSERT_TRUE(still_busy) << "the verdict lapsed while a worker ran jobs among spinning threads";
  EXPECT_EQ(recorded(), sends);
  std::lock_guard<std::mutex> lock(*mutex);
  for (auto& [thread, n] : *recorder_threads)
    EXPECT_EQ(busy_threads->count(thread), 1u) << "a job from the test thread ran on the sleeping worker";
  EXPECT_EQ(busy_threads->size(), 1u) << "the work moved between the workers";
}

// The verdict needs samples, which come only from a worker running many jobs in a row: without them it
// lapses (cores_busy_for), so that low load spreads as before.
TEST(IoStealing, TheBusyCoresVerdictLapsesWithoutNewSamples) {
  if (!net::thread_cpu_times()) GTEST_SKIP() << "this kernel keeps no schedstat";
  scheduled_system s(/*spread_when_cores_busy=*/false);
  {
    core_hogs hogs(20s);
    ASSERT_TRUE(run_jobs_until_cores_busy(s, 10s));
  }
  std::this_thread::sleep_for(io_stealing::cores_busy_for + 50ms);
  // A worker that runs a job and goes idle again ends the verdict.
  auto until = std::chrono::steady_clock::now() + 5s;
  while (io_stealing::cores_busy() && std::chrono::steady_clock::now() < until) {
    pass_back_and_forth(s, 1);
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(io_stealing::cores_busy());
}

// spread_when_cores_busy: the check is off, whatever the cores do.
TEST(IoStealing, SpreadWhenCoresBusyNeverFindsThemBusy) {
  if (!net::thread_cpu_times()) GTEST_SKIP() << "this kernel keeps no schedstat";
  scheduled_system s(/*spread_when_cores_busy=*/true);
  core_hogs hogs(20s);
  EXPECT_FALSE(run_jobs_until_cores_busy(s, 1s));
}

// After reactor::stop() the workers wait on their condition variables again and still run actors.
TEST(IoStealing, ActorsStillRunAfterTheReactorStopped) {
  scheduled_system s;
  s.reactor->stop();
  EXPECT_FALSE(s.reactor->poll(0, 0ms));
  auto doubler = s.system->spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](int x) { return 2 * x; }};
  });
  caf::scoped_actor self{*s.system};
  int answer = 0;
  self->request(doubler, std::chrono::seconds(20), 4).receive([&](int r) { answer = r; }, [](caf::error&) {});
  EXPECT_EQ(answer, 8);
  caf::anon_send_exit(doubler, caf::exit_reason::user_shutdown);
}

}  // namespace
}  // namespace fedgw
