#include "gateway/net/reactor.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace fedgw::net {
namespace {

using namespace std::chrono_literals;

// Collects what the reactor delivers (for one or more connections);
// optionally echoes it back.
struct recorder : reactor::handler {
  reactor* owner = nullptr;
  bool echo = false;
  std::mutex mutex;
  std::condition_variable changed;
  std::string received;
  std::string closed_reason;
  bool closed = false;
  int closed_count = 0;
  bool connected = false;
  int drained_count = 0;
  std::vector<reactor::conn_id> accepted;  // filled by accept_fn()
  std::map<reactor::conn_id, std::string> reasons;

  void on_accept(reactor::conn_id conn) {
    std::lock_guard<std::mutex> lock(mutex);
    accepted.push_back(conn);
    changed.notify_all();
  }
  // The n-th accepted connection, once there.
  reactor::conn_id wait_accepted(size_t n) {
    std::unique_lock<std::mutex> lock(mutex);
    if (!changed.wait_for(lock, 5s, [&] { return accepted.size() >= n; })) return 0;
    return accepted[n - 1];
  }

  void on_connected(reactor::conn_id) override {
    std::lock_guard<std::mutex> lock(mutex);
    connected = true;
    changed.notify_all();
  }

  void on_drained(reactor::conn_id) override {
    std::lock_guard<std::mutex> lock(mutex);
    ++drained_count;
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
  void on_closed(reactor::conn_id conn, const std::string& reason) override {
    std::lock_guard<std::mutex> lock(mutex);
    closed = true;
    ++closed_count;
    closed_reason = reason;
    reasons[conn] = reason;
    changed.notify_all();
  }
  template <class Pred>
  bool wait(Pred pred) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, 5s, pred);
  }
};

sockaddr_in ipv4(const std::string& ip, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  return addr;
}

// A blocking client socket whose reads give up after 5 s, so that a missing
// reply fails the test instead of hanging it; from `source` when not empty.
// An accept_fn handing every connection to `rec`.
reactor::accept_fn accept_into(const std::shared_ptr<recorder>& rec) {
  return [rec](reactor::conn_id conn, const std::string&) -> std::shared_ptr<reactor::handler> {
    rec->on_accept(conn);
    return rec;
  };
}

int connect_tcp(const endpoint& where, const std::string& source = "", int receive_buffer = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (receive_buffer > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  if (!source.empty()) {
    auto local = ipv4(source, 0);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local), 0) << std::strerror(errno);
  }
  auto addr = ipv4(where.ip, where.port);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  return fd;
}

// True when the other end closes `fd` (EOF or reset) within 5 s; unread data is skipped.
bool closed_by_peer(int fd) {
  char buf[65536];
  auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    auto n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
  return false;
}

// True when nothing (no data, no EOF) is readable on `fd` right now.
bool still_open(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

// Waits until the I/O thread 0 has run everything posted to it so far:
// stop_listening() is synchronous, and an unknown id makes it a no-op.
void drain(reactor& r) { r.stop_listening(~uint64_t{0}); }

// How busy the reactor was over a short, bounded window: its epoll wake-ups
// and this process's CPU time (the test thread only sleeps meanwhile).
struct activity {
  uint64_t wakeups;
  long cpu_ms;
};
long process_cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000L + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000L;
}
activity measure(reactor& r, std::chrono::milliseconds window) {
  auto wakeups = r.get_stats().wakeups;
  auto cpu = process_cpu_ms();
  std::this_thread::sleep_for(window);
  return {r.get_stats().wakeups - wakeups, process_cpu_ms() - cpu};
}

// The receive window the peer of TCP socket `fd` advertises (TCP_INFO
// tcpi_snd_wnd): 0 once the peer's receive buffer is full because its owner
// does not read. -1 when the kernel does not tell.
int64_t peer_receive_window(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < offsetof(tcp_info, tcpi_snd_wnd) + sizeof info.tcpi_snd_wnd)
    return -1;
  return info.tcpi_snd_wnd;
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
    std::lock_guard<std::mutex> lock(rec->mutex);  // read by the test thread
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
  {
    std::lock_guard<std::mutex> lock(rec->mutex);
    EXPECT_EQ(peer.rfind("127.0.0.1:", 0), 0u);
  }
  ::close(fd);
  ASSERT_TRUE(rec->wait([&] { return rec->closed; }));
  EXPECT_EQ(rec->closed_reason, "closed by peer");
  EXPECT_EQ(r.connection_count(), 0u);
}

TEST(Reactor, ReadingPausesUntilConsumed) {
  reactor r({.threads = 1, .read_window = 64 * 1024});
  auto rec = std::make_shared<recorder>();
  rec->owner = &r;
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  int fd = connect_tcp(r.local_endpoint(id));
  auto conn = rec->wait_accepted(1);
  ASSERT_NE(conn, 0u);
  std::string message(1 << 20, 'x');
  std::thread writer([&] { ::send(fd, message.data(), message.size(), 0); });
  ASSERT_TRUE(rec->wait([&] { return rec->received.size() >= 64 * 1024; }));
  // Reading has paused when the kernel buffer on the reactor's side fills up:
  // the client then sees a zero receive window (a socket state, not a sleep).
  // A reactor that kept reading would keep the window open.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (peer_receive_window(fd) != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  ASSERT_EQ(peer_receive_window(fd), 0) << "the reactor's receive buffer never filled";
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

TEST(Reactor, CloseFlushesQueuedOutput) {
  reactor r({.threads = 1, .max_write_buffer = 8 << 20});
  auto rec = std::make_shared<recorder>();
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  int fd = connect_tcp(r.local_endpoint(id));
  auto conn = rec->wait_accepted(1);
  ASSERT_NE(conn, 0u);
  // More than the kernel buffers hold while the client does not read yet.
  std::string chunk(64 * 1024, 'w');
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(r.write(conn, chunk)) << i;
  r.close(conn);  // flushes what was queued, then closes
  EXPECT_FALSE(r.write(conn, "late"));
  EXPECT_EQ(read_exactly(fd, 64 * chunk.size() + 1).size(), 64 * chunk.size());
  ASSERT_TRUE(rec->wait([&] { return rec->closed; }));
  EXPECT_EQ(rec->closed_reason, "closed locally");
  ::close(fd);
}

TEST(Reactor, FirstWriteFailureClosesTheConnectionOnce) {
  reactor r({.threads = 1, .max_write_buffer = 256 * 1024});
  auto rec = std::make_shared<recorder>();
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  int fd = connect_tcp(r.local_endpoint(id));
  auto conn = rec->wait_accepted(1);
  ASSERT_NE(conn, 0u);
  // The client does not read: the kernel buffers fill, then the reactor's, then write fails.
  std::string chunk(64 * 1024, 'w');
  int failed_at = -1;
  for (int i = 0; i < 1000 && failed_at < 0; ++i)
    if (!r.write(conn, chunk)) failed_at = i;
  ASSERT_GE(failed_at, 0);
  ASSERT_TRUE(rec->wait([&] { return rec->closed; }));
  EXPECT_EQ(rec->closed_reason, "output buffer over 262144 bytes (the peer does not read)");
  // Later writes and closes fail quietly: no second on_closed, no second failure counted.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(r.write(conn, chunk));
  r.close(conn);
  r.close(conn, false);
  drain(r);
  EXPECT_EQ(rec->closed_count, 1);
  EXPECT_EQ(r.get_stats().write_failures, 1u);
  EXPECT_EQ(r.connection_count(), 0u);
  EXPECT_TRUE(closed_by_peer(fd));
  ::close(fd);
}

// A peer that reads slower than we write: past congested_above unsent bytes write() reports the output
// congested (the writes are still taken, up to max_write_buffer), and once the peer has read it down to a
// quarter, on_drained comes once and writes report it uncongested again.
TEST(Reactor, CongestedOutputIsReportedAndItsDrainingSignalledOnce) {
  reactor r({.threads = 1, .max_write_buffer = 8 << 20, .congested_above = 512 * 1024});
  auto rec = std::make_shared<recorder>();
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  int fd = connect_tcp(r.local_endpoint(id), "", 4096);
  auto conn = rec->wait_accepted(1);
  ASSERT_NE(conn, 0u);
  std::string chunk(64 * 1024, 'c');
  bool congested = false;
  size_t written = 0;
  for (int i = 0; i < 64 && !congested; ++i) {
    ASSERT_TRUE(r.write(conn, chunk, &congested)) << i;
    written += chunk.size();
  }
  ASSERT_TRUE(congested) << "not congested after " << written << " bytes the peer did not read";
  EXPECT_GT(written, size_t{512 * 1024});
  EXPECT_EQ(rec->drained_count, 0);
  ASSERT_TRUE(r.write(conn, chunk, &congested));  // congestion is advice: the write is taken
  EXPECT_TRUE(congested);
  written += chunk.size();
  EXPECT_EQ(read_exactly(fd, written).size(), written);
  ASSERT_TRUE(rec->wait([&] { return rec->drained_count > 0; })) << "no on_drained";
  // Writes that do not congest it again signal nothing more.
  ASSERT_TRUE(r.write(conn, "x", &congested));
  EXPECT_FALSE(congested);
  EXPECT_EQ(read_exactly(fd, 1), "x");
  drain(r);
  EXPECT_EQ(rec->drained_count, 1);
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
  r.stop_listening(id);  // synchronous: the file is gone when it returns
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
  r.stop_listening(l);  // synchronous: nothing listens there when it returns
  auto client = std::make_shared<recorder>();
  auto conn = r.connect_tcp(dead, "", client, error);
  ASSERT_NE(conn, 0u) << error;
  ASSERT_TRUE(client->wait([&] { return client->closed; }));
  EXPECT_FALSE(r.write(conn, "after the failure"));
  r.close(conn);
  drain(r);
  EXPECT_EQ(client->closed_count, 1);
  EXPECT_FALSE(client->connected);
  EXPECT_EQ(client->closed_reason, "connect to " + dead.to_string() + " failed: Connection refused");
  EXPECT_EQ(r.connect_tcp({"127.0.0.1", 5060}, "::1", client, error), 0u);
  EXPECT_NE(error.find("address family differs"), std::string::npos) << error;
}

// stop_listening_later() does not wait for the I/O loop (an actor on a worker that runs loop 0 must not
// wait for it); the listener is gone soon after.
TEST(Reactor, StopListeningLaterClosesWithoutWaiting) {
  reactor r({});
  auto rec = std::make_shared<recorder>();
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  auto at = r.local_endpoint(id);
  r.stop_listening_later(id);
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(at.port);
    inet_pton(AF_INET, at.ip.c_str(), &addr.sin_addr);
    refused = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0;
    ::close(fd);
    if (!refused) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(refused);
  r.stop_listening(id);  // an id already gone: nothing happens
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

TEST(Reactor, ListenUnixRefusesToReplaceANonSocket) {
  char dir_template[] = "/tmp/fedgw-reactor-XXXXXX";
  std::string dir = mkdtemp(dir_template);
  std::string file = dir + "/control.sock";
  std::ofstream(file) << "keep me\n";
  reactor r({});
  auto rec = std::make_shared<recorder>();
  std::string error;
  EXPECT_EQ(r.listen_unix(file, 0600, accept_into(rec), error), 0u);
  EXPECT_EQ(error, file + " is a regular file, not a socket; not replacing it");
  std::stringstream kept;
  kept << std::ifstream(file).rdbuf();
  EXPECT_EQ(kept.str(), "keep me\n");
  std::string sub = dir + "/sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  EXPECT_EQ(r.listen_unix(sub, 0600, accept_into(rec), error), 0u);
  EXPECT_EQ(error, sub + " is a directory, not a socket; not replacing it");
  ::unlink(file.c_str());
  ::rmdir(sub.c_str());
  ::rmdir(dir.c_str());
}

// review 2.4 item 5: the connection exists before the accept_fn returns.
TEST(Reactor, AcceptHandlerMayWriteAndCloseAtOnce) {
  reactor r({.threads = 2});
  auto rec = std::make_shared<recorder>();
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, [&](reactor::conn_id conn, const std::string&) {
    EXPECT_TRUE(r.write(conn, "refused: no certificate\r\n"));
    r.close(conn);
    return rec;
  }, error);
  ASSERT_NE(id, 0u) << error;
  int fd = connect_tcp(r.local_endpoint(id));
  EXPECT_EQ(read_exactly(fd, 100), "refused: no certificate\r\n");  // then EOF
  ASSERT_TRUE(rec->wait([&] { return rec->closed; }));
  EXPECT_EQ(rec->closed_reason, "closed locally");
  drain(r);
  EXPECT_EQ(rec->closed_count, 1);
  ::close(fd);
}

TEST(Reactor, MaxConnectionsAndPerSourceCapRefuseAtOnce) {
  reactor r({.threads = 1, .max_connections = 3, .max_connections_per_source = 2});
  auto rec = std::make_shared<recorder>();
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  auto where = r.local_endpoint(id);
  int a1 = connect_tcp(where, "127.0.60.1");
  int a2 = connect_tcp(where, "127.0.60.1");
  ASSERT_NE(rec->wait_accepted(2), 0u);
  int a3 = connect_tcp(where, "127.0.60.1");  // third from one address: over the per-source cap
  EXPECT_TRUE(closed_by_peer(a3));
  int b1 = connect_tcp(where, "127.0.60.2");
  ASSERT_NE(rec->wait_accepted(3), 0u);
  int c1 = connect_tcp(where, "127.0.60.3");  // fourth in all: over max_connections
  EXPECT_TRUE(closed_by_peer(c1));
  drain(r);
  auto st = r.get_stats();
  EXPECT_EQ(st.refused_per_source, 1u);
  EXPECT_EQ(st.refused_max_connections, 1u);
  EXPECT_EQ(st.accepted, 3u);
  EXPECT_EQ(st.inbound, 3u);
  EXPECT_TRUE(still_open(a1));
  EXPECT_TRUE(still_open(a2));
  EXPECT_TRUE(still_open(b1));
  {
    std::lock_guard<std::mutex> lock(rec->mutex);
    EXPECT_EQ(rec->accepted.size(), 3u);  // the refused ones never reached the accept_fn
  }
  // A closed connection frees its places, in all and for its address.
  ::close(a1);
  ASSERT_TRUE(rec->wait([&] { return rec->closed_count == 1; }));
  int a4 = connect_tcp(where, "127.0.60.1");
  ASSERT_NE(rec->wait_accepted(4), 0u);
  EXPECT_EQ(r.get_stats().inbound, 3u);
  for (int fd : {a2, a3, a4, b1, c1}) ::close(fd);
}

// Restores RLIMIT_NOFILE and closes the descriptors that filled it.
struct fd_limit_guard {
  rlimit old{};
  std::vector<int> fillers;
  fd_limit_guard() { getrlimit(RLIMIT_NOFILE, &old); }
  ~fd_limit_guard() { free_all(); }
  // Restores the limit too: with no holes below the lowered limit, closing the
  // fillers alone frees a single descriptor (seen in CI: 1 of 4 accepted).
  void free_all() {
    for (int fd : fillers) ::close(fd);
    fillers.clear();
    setrlimit(RLIMIT_NOFILE, &old);
  }
  // Lowers the soft limit to just above the highest descriptor in use and fills
  // every free one below it: the next accept4 fails with EMFILE.
  bool exhaust(int probe_fd) {
    int highest = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
      while (auto* e = ::readdir(d)) highest = std::max(highest, std::atoi(e->d_name));
      ::closedir(d);
    }
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(highest) + 1;
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) return false;
    for (int i = 0; i <= highest; ++i) {
      int fd = ::dup(probe_fd);
      if (fd < 0) return errno == EMFILE;
      fillers.push_back(fd);
    }
    return false;
  }
};

TEST(Reactor, OutOfFileDescriptorsPausesAcceptingInsteadOfSpinning) {
  reactor r({.threads = 1, .accept_retry = 50ms});
  auto rec = std::make_shared<recorder>();
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  auto where = r.local_endpoint(id);
  // Client sockets are made first: connecting needs no new descriptor.
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  {
    fd_limit_guard limit;
    ASSERT_TRUE(limit.exhaust(clients[0]));
    auto addr = ipv4(where.ip, where.port);
    for (int fd : clients) {
      int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);
    }
    // The connections wait in the backlog; accept4 fails with EMFILE.
    for (int i = 0; i < 100 && r.get_stats().accept_failures == 0; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_GE(r.get_stats().accept_failures, 1u);
    // Retrying every 50 ms: about 6 wake-ups in 300 ms. Watching the
    // still-readable listener would wake the thread at once, forever.
    auto busy = measure(r, 300ms);
    EXPECT_LT(busy.wakeups, 30u);
    EXPECT_LT(busy.cpu_ms, 100);
    EXPECT_EQ(r.get_stats().accepted, 0u);
    limit.free_all();
    // Descriptors are free again: the waiting connections are accepted.
    EXPECT_NE(rec->wait_accepted(clients.size()), 0u);
  }
  EXPECT_EQ(r.get_stats().inbound, clients.size());
  for (int fd : clients) ::close(fd);
}

TEST(Reactor, HalfClosedPeerWithAFullReadWindowDoesNotSpin) {
  reactor r({.threads = 1, .read_window = 4096});
  auto rec = std::make_shared<recorder>();
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  int fd = connect_tcp(r.local_endpoint(id));
  auto conn = rec->wait_accepted(1);
  ASSERT_NE(conn, 0u);
  std::string message(32 * 1024, 'h');
  ASSERT_EQ(::send(fd, message.data(), message.size(), 0), static_cast<ssize_t>(message.size()));
  ASSERT_EQ(::shutdown(fd, SHUT_WR), 0);
  ASSERT_TRUE(rec->wait([&] { return rec->received.size() >= 4096; }));
  // Nothing is consumed: reading is paused, and the peer's FIN must not wake the thread.
  auto busy = measure(r, 300ms);
  EXPECT_LT(busy.wakeups, 10u);
  EXPECT_LT(busy.cpu_ms, 100);
  EXPECT_FALSE(rec->closed);
  // Consuming resumes reading: everything arrives, then the FIN.
  size_t acknowledged = 0;
  for (int i = 0; i < 100; ++i) {
    size_t now;
    {
      std::lock_guard<std::mutex> lock(rec->mutex);
      if (rec->closed) break;
      now = rec->received.size();
    }
    r.consumed(conn, now - acknowledged);
    acknowledged = now;
    ASSERT_TRUE(rec->wait([&] { return rec->closed || rec->received.size() > acknowledged; }));
  }
  ASSERT_TRUE(rec->wait([&] { return rec->closed; }));
  EXPECT_EQ(rec->received, message);
  EXPECT_EQ(rec->closed_reason, "closed by peer");
  ::close(fd);
}

TEST(Reactor, CloseWithFlushHasADeadlineAndIgnoresAHalfClosedPeer) {
  reactor r({.threads = 1, .max_write_buffer = 64 << 20, .close_timeout = 1s});
  auto rec = std::make_shared<recorder>();
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  int fd = connect_tcp(r.local_endpoint(id), "", 4096);
  auto conn = rec->wait_accepted(1);
  ASSERT_NE(conn, 0u);
  // Far more than the kernel buffers hold: the client never reads.
  std::string chunk(1 << 20, 'c');
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(r.write(conn, chunk));
  r.close(conn);  // flush: output is pending
  ASSERT_EQ(::shutdown(fd, SHUT_WR), 0);  // the peer half-closes while we are closing
  auto busy = measure(r, 300ms);
  EXPECT_LT(busy.wakeups, 10u);
  EXPECT_LT(busy.cpu_ms, 100);
  ASSERT_TRUE(rec->wait([&] { return rec->closed; }));
  EXPECT_EQ(rec->closed_reason, "output not sent within 1 s of closing");
  drain(r);
  EXPECT_EQ(rec->closed_count, 1);
  EXPECT_EQ(r.get_stats().close_timeouts, 1u);
  EXPECT_TRUE(closed_by_peer(fd));
  ::close(fd);
}

TEST(Reactor, EstablishmentDeadlineClosesConnectionsNotMarkedEstablished) {
  // One I/O thread: its timers fire in deadline order, which the last check uses.
  reactor r({.threads = 1, .establish_timeout = 300ms});
  auto rec = std::make_shared<recorder>();
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, [&](reactor::conn_id conn, const std::string&) {
    rec->on_accept(conn);
    std::lock_guard<std::mutex> lock(rec->mutex);
    if (rec->accepted.size() == 2) r.established(conn);  // from the accept_fn itself: the connection exists
    return rec;
  }, error);
  ASSERT_NE(id, 0u) << error;
  auto where = r.local_endpoint(id);
  std::vector<int> clients;
  std::vector<reactor::conn_id> conns;
  for (size_t i = 1; i <= 5; ++i) {
    clients.push_back(connect_tcp(where));
    conns.push_back(rec->wait_accepted(i));
    ASSERT_NE(conns.back(), 0u);
  }
  auto now = reactor::clock::now();
  r.set_deadline(conns[2], now + 100ms, "never sent");
  r.established(conns[2]);  // clears the deadline just set
  r.set_deadline(conns[3], now + 50ms, "incomplete SIP message for 50 ms");
  // conns[4] was accepted last: when its establishment deadline has closed it,
  // every earlier deadline has fired too.
  ASSERT_TRUE(rec->wait([&] { return rec->reasons.count(conns[4]) == 1; }));
  drain(r);
  std::lock_guard<std::mutex> lock(rec->mutex);
  EXPECT_EQ(rec->reasons[conns[0]], "no TLS handshake / SIP message within 300 ms");
  EXPECT_EQ(rec->reasons[conns[3]], "incomplete SIP message for 50 ms");
  EXPECT_EQ(rec->reasons[conns[4]], "no TLS handshake / SIP message within 300 ms");
  EXPECT_EQ(rec->reasons.count(conns[1]), 0u);
  EXPECT_EQ(rec->reasons.count(conns[2]), 0u);
  EXPECT_EQ(rec->closed_count, 3);
  EXPECT_EQ(r.get_stats().establish_timeouts, 3u);
  EXPECT_TRUE(closed_by_peer(clients[0]));
  EXPECT_TRUE(still_open(clients[1]));
  EXPECT_TRUE(still_open(clients[2]));
  for (int fd : clients) ::close(fd);
}

}  // namespace
}  // namespace fedgw::net

namespace fedgw::net {
namespace {

// external_threads: no I/O thread of the reactor's own; the caller's thread runs a loop with poll().
TEST(Reactor, ExternalThreadsRunTheLoopInPoll) {
  reactor::options o;
  o.threads = 1;
  o.external_threads = true;
  reactor r(o);
  auto rec = std::make_shared<recorder>();
  rec->owner = &r;
  rec->echo = true;
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  int fd = connect_tcp(r.local_endpoint(id));
  ASSERT_EQ(::send(fd, "hello", 5, 0), 5);
  // Nobody polls: nothing is accepted.
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(rec->accepted.empty());
  std::atomic<bool> done{false};
  std::thread::id poller_id;
  std::thread poller([&] {
    poller_id = std::this_thread::get_id();
    while (!done) r.poll(0, 50ms);
  });
  EXPECT_EQ(read_exactly(fd, 5), "hello");
  // A second poller of the same loop is turned away while the first one runs it (waits in it for 50 ms).
  bool second = true;
  for (int i = 0; i < 50 && second; ++i) {
    second = r.poll(0, 0ms);
    if (second) std::this_thread::sleep_for(1ms);
  }
  EXPECT_FALSE(second);
  done = true;
  poller.join();
  ::close(fd);
  r.stop();
  EXPECT_FALSE(r.poll(0, 0ms));  // stopped
}

// A polling thread's writes to an idle connection wait for its next poll() and then leave together;
// a thread that does not poll sends at once.
TEST(Reactor, WritesOfAPollingThreadLeaveAtItsNextPoll) {
  reactor::options o;
  o.threads = 1;
  o.external_threads = true;
  reactor r(o);
  auto rec = std::make_shared<recorder>();
  rec->owner = &r;
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  int fd = connect_tcp(r.local_endpoint(id));
  for (int i = 0; i < 100 && !r.connection_count(); ++i) r.poll(0, 50ms);
  auto conn = rec->wait_accepted(1);
  ASSERT_NE(conn, 0u);
  ASSERT_TRUE(r.write(conn, "one,"));
  ASSERT_TRUE(r.write(conn, "two"));
  std::this_thread::sleep_for(50ms);
  char byte;
  EXPECT_EQ(::recv(fd, &byte, 1, MSG_DONTWAIT), -1);  // nothing sent before the next poll
  EXPECT_EQ(errno, EAGAIN);
  r.poll(0, 0ms);
  EXPECT_EQ(read_exactly(fd, 7), "one,two");
  std::thread other([&] { EXPECT_TRUE(r.write(conn, "three")); });
  other.join();
  EXPECT_EQ(read_exactly(fd, 5), "three");  // nobody polled meanwhile
  // flush() sends a polling thread's writes without polling; on another thread it changes nothing.
  ASSERT_TRUE(r.write(conn, "4"));
  r.flush();
  EXPECT_EQ(read_exactly(fd, 1), "4");
  std::thread flusher([&] {
    r.flush();
    EXPECT_TRUE(r.write(conn, "5"));
  });
  flusher.join();
  EXPECT_EQ(read_exactly(fd, 1), "5");
  // Closing with coalesced output still pending sends it first.
  ASSERT_TRUE(r.write(conn, "four"));
  r.close(conn);
  r.poll(0, 0ms);
  EXPECT_EQ(read_exactly(fd, 4), "four");
  for (int i = 0; i < 100 && r.connection_count(); ++i) r.poll(0, 10ms);
  EXPECT_EQ(r.connection_count(), 0u);
  ::close(fd);
  r.stop();
}

// poll_all: one thread runs every loop that has events. Connections go to the loops round robin, so of four,
// two are on loop 1: polling loop 0 alone echoes only the others; poll_all echoes all four.
TEST(Reactor, PollAllRunsEveryLoopThatHasEvents) {
  reactor r({.threads = 2, .external_threads = true});
  auto rec = std::make_shared<recorder>();
  rec->owner = &r;
  rec->echo = true;
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);  // listeners live on loop 0
  ASSERT_NE(id, 0u) << error;
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(connect_tcp(r.local_endpoint(id)));
    for (int k = 0; k < 100 && rec->accepted.size() < clients.size(); ++k) r.poll(0, 10ms);
  }
  ASSERT_EQ(r.connection_count(), 4u);
  for (int fd : clients) ASSERT_EQ(::send(fd, "ping", 4, 0), 4);
  for (int k = 0; k < 20; ++k) r.poll(0, 10ms);
  size_t echoed_by_loop_0 = 0;
  for (int fd : clients) {
    char buf[4];
    if (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) == 4) ++echoed_by_loop_0;
  }
  EXPECT_EQ(echoed_by_loop_0, 2u);
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done) EXPECT_TRUE(r.poll_all(50ms));
  });
  size_t echoed = 0;
  for (int fd : clients) {
    ASSERT_EQ(::send(fd, "pong", 4, 0), 4);
    std::string got;
    while (got.size() < 4 || (got.substr(0, 4) == "ping" && got.size() < 8)) {
      char buf[8];
      auto n = ::recv(fd, buf, sizeof buf, 0);  // 5 s receive timeout
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    if (got.size() >= 4 && got.substr(got.size() - 4) == "pong") ++echoed;
  }
  EXPECT_EQ(echoed, 4u);
  done = true;
  watcher.join();
  for (int fd : clients) ::close(fd);
  r.stop();
  EXPECT_FALSE(r.poll_all(0ms));  // stopped
}

// poll_all waits no longer than the earliest deadline of any loop, and runs it: connections on both loops
// that never get established are closed by a thread that only calls poll_all with a 20 s wait.
TEST(Reactor, PollAllRunsTheDeadlinesOfEveryLoop) {
  reactor r({.threads = 2, .establish_timeout = 200ms, .external_threads = true});
  auto rec = std::make_shared<recorder>();
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  std::vector<int> clients;
  for (int i = 0; i < 2; ++i) clients.push_back(connect_tcp(r.local_endpoint(id)));
  auto started = std::chrono::steady_clock::now();
  for (int round = 0; round < 20 && r.connection_count() + rec->closed_count < 2; ++round) r.poll_all(1s);
  ASSERT_EQ(rec->accepted.size(), 2u);
  while (rec->closed_count < 2 && std::chrono::steady_clock::now() - started < 15s) r.poll_all(20s);
  EXPECT_EQ(rec->closed_count, 2);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  for (int fd : clients) EXPECT_TRUE(closed_by_peer(fd));
  for (int fd : clients) ::close(fd);
}

// A loop that another thread polls is not a reason for poll_all to return: while one thread's handler runs (here
// it blocks until released) and more data waits on that loop, a waiting poll_all waits (it used to return at once,
// hundreds of thousands of times a second: a spin); when the other thread's turn ends, the loop's events wake
// poll_all again.
TEST(Reactor, PollAllDoesNotSpinOnALoopAnotherThreadPolls) {
  struct gated : recorder {
    std::mutex gate_mutex;
    std::condition_variable gate_changed;
    bool in_handler = false;
    bool open = false;
    void on_data(reactor::conn_id conn, std::string_view bytes) override {
      {
        std::unique_lock<std::mutex> lock(gate_mutex);
        in_handler = true;
        gate_changed.notify_all();
        gate_changed.wait_for(lock, 10s, [&] { return open; });
      }
      owner->consumed(conn, bytes.size());
      recorder::on_data(conn, bytes);
    }
  };
  reactor r({.threads = 2, .external_threads = true});
  auto rec = std::make_shared<gated>();
  rec->owner = &r;
  std::string error;
  auto id = r.listen_tcp({"127.0.0.1", 0}, accept_into(rec), error);
  ASSERT_NE(id, 0u) << error;
  int fd = connect_tcp(r.local_endpoint(id));
  for (int k = 0; k < 100 && r.connection_count() == 0; ++k) r.poll(0, 10ms);
  ASSERT_EQ(r.connection_count(), 1u);
  ASSERT_EQ(::send(fd, "first", 5, 0), 5);
  std::thread holder([&] { r.poll_all(5s); });  // runs the connection's loop; its handler blocks
  {
    std::unique_lock<std::mutex> lock(rec->gate_mutex);
    ASSERT_TRUE(rec->gate_changed.wait_for(lock, 5s, [&] { return rec->in_handler; }));
  }
  ASSERT_EQ(::send(fd, "second", 6, 0), 6);  // the loop is ready again, and still held
  std::this_thread::sleep_for(20ms);
  size_t returns = 0;
  auto watching_until = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < watching_until) {
    EXPECT_TRUE(r.poll_all(100ms));
    ++returns;
  }
  EXPECT_LE(returns, 6u);  // one that finds the loop held, then waits of 100 ms
  {
    std::lock_guard<std::mutex> lock(rec->gate_mutex);
    rec->open = true;
    rec->gate_changed.notify_all();
  }
  holder.join();  // its turn ended (it may have read "second" itself)
  ASSERT_EQ(::send(fd, "third", 5, 0), 5);
  auto started = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - started < 10s) {
    {
      std::lock_guard<std::mutex> lock(rec->mutex);
      if (rec->received.find("third") != std::string::npos) break;
    }
    r.poll_all(20s);  // the loop is back in poll_all's set: "third" wakes it
  }
  EXPECT_EQ(rec->received, "firstsecondthird");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  ::close(fd);
  r.stop();
}

// wake() of any loop ends a poll_all early.
TEST(Reactor, WakeEndsAPollAllEarly) {
  reactor r({.threads = 2, .external_threads = true});
  auto started = std::chrono::steady_clock::now();
  std::thread waker([&] {
    std::this_thread::sleep_for(100ms);
    r.wake(1);
  });
  EXPECT_TRUE(r.poll_all(20s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  waker.join();
}

TEST(Reactor, WakeEndsAPollEarly) {
  reactor::options o;
  o.threads = 2;
  o.external_threads = true;
  reactor r(o);
  auto started = std::chrono::steady_clock::now();
  std::thread waker([&] {
    std::this_thread::sleep_for(100ms);
    r.wake(1);
  });
  EXPECT_TRUE(r.poll(1, 20s));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  waker.join();
  EXPECT_FALSE(r.poll(2, 0ms));  // no such loop
}

}  // namespace
}  // namespace fedgw::net
