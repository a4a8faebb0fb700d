// io_stealing: CAF workers that run the reactor's I/O loops (gateway/io_scheduling.h), with a real actor
// system, real sockets and the reactor in external_threads mode.
#include "gateway/io_scheduling.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <chrono>
#include <future>
#include <thread>
#include <utility>
#include <memory>
#include <string>

namespace fedgw {
namespace {

using namespace std::chrono_literals;
using echo_atom = caf::atom_constant<caf::atom("echo")>;

// A reactor whose loops the workers of an actor system (two workers) run; the relaxed sleep is long, so that
// a worker waiting in epoll is only woken by the wake-up of an enqueue (or by its sockets).
struct scheduled_system {
  std::unique_ptr<net::reactor> reactor;
  std::unique_ptr<caf::actor_system_config> config;
  std::unique_ptr<caf::actor_system> system;

  scheduled_system() {
    net::reactor::options o;
    o.threads = 2;
    o.external_threads = true;
    reactor = std::make_unique<net::reactor>(o);
    io_stealing::attach(reactor.get());
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

TEST(IoStealing, WorkersReadTheSocketsAndRunTheActorsTheyWake) {
  scheduled_system s;
  auto* reactor = s.reactor.get();
  auto echo = s.system->spawn([reactor](caf::event_based_actor*) -> caf::behavior {
    return {[reactor](echo_atom, net::reactor::conn_id conn, const std::string& bytes) {
      reactor->write(conn, bytes);
      reactor->consumed(conn, bytes.size());
    }};
  });
  auto handler = std::make_shared<to_actor>();
  handler->echo = echo;
  std::string error;
  auto id = reactor->listen_tcp({"127.0.0.1", 0}, [handler](net::reactor::conn_id, const std::string&) {
    return std::static_pointer_cast<net::reactor::handler>(handler);
  }, error);
  ASSERT_NE(id, 0u) << error;
  // Several connections: they spread over both loops, each read by its worker.
  for (int i = 0; i < 4; ++i) {
    int fd = connect_to(reactor->local_endpoint(id));
    std::string ping = "ping " + std::to_string(i);
    ASSERT_EQ(::send(fd, ping.data(), ping.size(), 0), static_cast<ssize_t>(ping.size()));
    char buf[64];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), ping);
    ::close(fd);
  }
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
}

// A message from a thread that is not a worker (here the test's) reaches an actor while every worker waits in
// epoll with a 30 s timeout: the enqueue wakes one through its loop's eventfd.
TEST(IoStealing, MessagesFromOtherThreadsWakeAWorkerWaitingInEpoll) {
  scheduled_system s;
  auto doubler = s.system->spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](int x) { return 2 * x; }};
  });
  caf::scoped_actor self{*s.system};
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(200ms);  // every worker idle, in epoll
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
// sending, and the workers sleep 30 s in epoll unless woken: which worker runs the receiver is then decided by
// the enqueue alone.
using where_atom = caf::atom_constant<caf::atom("where")>;
using ran_atom = caf::atom_constant<caf::atom("ran")>;

std::pair<std::thread::id, std::thread::id> sender_and_receiver_threads(bool spread) {
  scheduled_system s;
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
  std::this_thread::sleep_for(200ms);  // every worker idle, in epoll
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
  auto [sender, receiver] = sender_and_receiver_threads(false);
  EXPECT_NE(sender, std::thread::id());
  EXPECT_EQ(sender, receiver);
}

// ... unless sent within a spread_scope (the tail of a burst a connection read): then another worker, woken
// from epoll, runs the receiver while the sender's worker is still busy.
TEST(IoStealing, WithinASpreadScopeTheReceiverRunsOnAnotherWorker) {
  auto [sender, receiver] = sender_and_receiver_threads(true);
  EXPECT_NE(sender, std::thread::id());
  EXPECT_NE(receiver, std::thread::id());
  EXPECT_NE(sender, receiver);
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
