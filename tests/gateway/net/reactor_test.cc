#include "gateway/net/reactor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <condition_variable>
#include <thread>

namespace fedgw::net {
namespace {

using namespace std::chrono_literals;

// Collects what the reactor delivers; optionally echoes it back.
struct recorder : reactor::handler {
  reactor* owner = nullptr;
  bool echo = false;
  std::mutex mutex;
  std::condition_variable changed;
  std::string received;
  std::string closed_reason;
  bool closed = false;
  bool connected = false;

  void on_connected(reactor::conn_id) override {
    std::lock_guard<std::mutex> lock(mutex);
    connected = true;
    changed.notify_all();
  }

  void on_data(reactor::conn_id conn, std::string_view bytes) override {
    if (echo) {
      owner->write(conn, bytes);
      owner->consumed(conn, bytes.size());
    }
    std::lock_guard<std::mutex> lock(mutex);
    received.append(bytes);
    changed.notify_all();
  }
  void on_closed(reactor::conn_id, const std::string& reason) override {
    std::lock_guard<std::mutex> lock(mutex);
    closed = true;
    closed_reason = reason;
    changed.notify_all();
  }
  template <class Pred>
  bool wait(Pred pred) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, 5s, pred);
  }
};

int connect_tcp(const endpoint& where) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(where.port);
  inet_pton(AF_INET, where.ip.c_str(), &addr.sin_addr);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

std::string read_exactly(int fd, size_t n) {
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    auto got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

TEST(Reactor, TcpEchoAcrossThreadsAndPeerClose) {
  reactor r({.threads = 2});
  auto rec = std::make_shared<recorder>();
  rec->owner = &r;
  rec->echo = true;
  std::string error;
  std::string peer;
  auto id = r.listen_tcp({"127.0.0.1", 0}, [&](reactor::conn_id, const std::string& p) {
    peer = p;
    return rec;
  }, error);
  ASSERT_NE(id, 0u) << error;
  auto where = r.local_endpoint(id);
  ASSERT_NE(where.port, 0);
  int fd = connect_tcp(where);
  std::string message(200000, 'm');
  std::thread writer([&] { ASSERT_EQ(::send(fd, message.data(), message.size(), 0), (ssize_t)message.size()); });
  EXPECT_EQ(read_exactly(fd, message.size()), message);
  writer.join();
  EXPECT_EQ(peer.rfind("127.0.0.1:", 0), 0u);
  ::close(fd);
  ASSERT_TRUE(rec->wait([&] { return rec->closed; }));
  EXPECT_EQ(rec->closed_reason, "closed by peer");
  EXPECT_EQ(r.connection_count(), 0u);
}

TEST(Reactor, ReadingPausesUntilConsumed) {
  reactor r({.threads = 1, .read_window = 64 * 1024});
  auto rec = std::make_shared<recorder>();
  rec->owner = &r;
  reactor::conn_id conn = 0;
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, [&](reactor::conn_id c, const std::string&) {
    conn = c;
    return rec;
  }, error);
  ASSERT_NE(id, 0u) << error;
  int fd = connect_tcp(r.local_endpoint(id));
  std::string message(1 << 20, 'x');
  std::thread writer([&] { ::send(fd, message.data(), message.size(), 0); });
  ASSERT_TRUE(rec->wait([&] { return rec->received.size() >= 64 * 1024; }));
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard<std::mutex> lock(rec->mutex);
    // One read (at most 64 KiB) may overshoot the window, never more.
    EXPECT_LT(rec->received.size(), 2u * 64 * 1024);
  }
  // Consume as data arrives until everything is in.
  size_t acknowledged = 0;
  while (true) {
    size_t now;
    {
      std::lock_guard<std::mutex> lock(rec->mutex);
      now = rec->received.size();
    }
    if (now > acknowledged) {
      r.consumed(conn, now - acknowledged);
      acknowledged = now;
    }
    if (now == message.size()) break;
    ASSERT_TRUE(rec->wait([&] { return rec->received.size() > acknowledged; }));
  }
  writer.join();
  ::close(fd);
}

TEST(Reactor, WriteBufferIsBoundedAndCloseFlushes) {
  reactor r({.threads = 1, .max_write_buffer = 256 * 1024});
  auto rec = std::make_shared<recorder>();
  rec->owner = &r;
  reactor::conn_id conn = 0;
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, [&](reactor::conn_id c, const std::string&) {
    conn = c;
    return rec;
  }, error);
  int fd = connect_tcp(r.local_endpoint(id));
  for (int i = 0; i < 100 && conn == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_NE(conn, 0u);
  // The client does not read: the kernel buffers fill, then the reactor's, then write refuses.
  std::string chunk(64 * 1024, 'w');
  size_t accepted = 0;
  bool refused = false;
  for (int i = 0; i < 1000 && !refused; ++i) {
    if (r.write(conn, chunk)) accepted += chunk.size(); else refused = true;
  }
  EXPECT_TRUE(refused);
  r.close(conn);  // flushes what was accepted, then closes
  EXPECT_EQ(read_exactly(fd, accepted + 1).size(), accepted);
  ASSERT_TRUE(rec->wait([&] { return rec->closed; }));
  EXPECT_EQ(rec->closed_reason, "closed locally");
  EXPECT_FALSE(r.write(conn, "late"));
  ::close(fd);
}

TEST(Reactor, UnixSocketModeAndStaleFile) {
  char dir_template[] = "/tmp/fedgw-reactor-XXXXXX";
  std::string dir = mkdtemp(dir_template);
  std::string path = dir + "/s.sock";
  // A stale socket file nobody listens on is replaced.
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  reactor r({});
  auto rec = std::make_shared<recorder>();
  std::string error;
  auto id = r.listen_unix(path, 0600, [&](reactor::conn_id, const std::string&) { return rec; }, error);
  ASSERT_NE(id, 0u) << error;
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A second listener on a live socket is refused with a reason.
  reactor other({});
  std::string error2;
  EXPECT_EQ(other.listen_unix(path, 0600, [&](reactor::conn_id, const std::string&) { return rec; }, error2), 0u);
  EXPECT_NE(error2.find("already listening"), std::string::npos) << error2;
  r.stop_listening(id);
  for (int i = 0; i < 100 && ::access(path.c_str(), F_OK) == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
  ::rmdir(dir.c_str());
}

TEST(Reactor, OutboundConnectQueuesWritesUntilEstablished) {
  reactor r({.threads = 2});
  auto server_side = std::make_shared<recorder>();
  server_side->owner = &r;
  server_side->echo = true;
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, [&](reactor::conn_id, const std::string&) { return server_side; }, error);
  ASSERT_NE(id, 0u) << error;
  auto client = std::make_shared<recorder>();
  auto conn = r.connect_tcp(r.local_endpoint(id), "127.0.0.1", client, error);
  ASSERT_NE(conn, 0u) << error;
  ASSERT_TRUE(r.write(conn, "hello"));  // may still be connecting: queued
  ASSERT_TRUE(client->wait([&] { return client->connected && client->received == "hello"; }));
  r.close(conn);
  ASSERT_TRUE(client->wait([&] { return client->closed; }));
  EXPECT_EQ(client->closed_reason, "closed locally");
}

TEST(Reactor, RefusedConnectIsReportedOnce) {
  reactor r({});
  // Find a free port, then close it so nothing listens there.
  std::string error;
  auto probe = std::make_shared<recorder>();
  auto l = r.listen_tcp({"127.0.0.1", 0}, [&](reactor::conn_id, const std::string&) { return probe; }, error);
  auto dead = r.local_endpoint(l);
  r.stop_listening(l);
  std::this_thread::sleep_for(50ms);
  auto client = std::make_shared<recorder>();
  auto conn = r.connect_tcp(dead, "", client, error);
  ASSERT_NE(conn, 0u) << error;
  ASSERT_TRUE(client->wait([&] { return client->closed; }));
  EXPECT_FALSE(client->connected);
  EXPECT_EQ(client->closed_reason, "connect to " + dead.to_string() + " failed: Connection refused");
  EXPECT_EQ(r.connect_tcp({"127.0.0.1", 5060}, "::1", client, error), 0u);
  EXPECT_NE(error.find("address family differs"), std::string::npos) << error;
}

TEST(Reactor, ListenErrorsAreExplained) {
  reactor r({});
  std::string error;
  auto rec = std::make_shared<recorder>();
  auto first = r.listen_tcp({"127.0.0.1", 0}, [&](reactor::conn_id, const std::string&) { return rec; }, error);
  auto taken = r.local_endpoint(first);
  EXPECT_EQ(r.listen_tcp(taken, [&](reactor::conn_id, const std::string&) { return rec; }, error), 0u);
  EXPECT_NE(error.find("cannot listen on " + taken.to_string()), std::string::npos) << error;
  EXPECT_NE(error.find("in use"), std::string::npos) << error;
}

}  // namespace
}  // namespace fedgw::net
