#include "gateway/net/reactor.h"

#include "gateway/net/file_kind.h"

#include <pthread.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <future>
#include <queue>

namespace fedgw::net {

namespace {
std::string errno_text(const char* what, int err = errno) { return std::string(what) + ": " + std::strerror(err); }

std::string peer_name(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    return endpoint{text, ntohs(a.sin_port)}.to_string();
  }
  if (addr.ss_family == AF_INET6) {
    auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
    return endpoint{text, ntohs(a.sin6_port)}.to_string();
  }
  return "unix";
}

// The IP address alone: connection limits count per address, not per port.
std::string peer_ip(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof text);
  else if (addr.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, text, sizeof text);
  return text;
}

// "5 s" or "250 ms", for close reasons.
std::string duration_text(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + " s" : std::to_string(d.count()) + " ms";
}


// What epoll's data pointer refers to.
struct watch {
  bool is_listener;
};

constexpr auto never = reactor::clock::time_point::max();
}  // namespace

struct reactor::counters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused_max_connections{0};
  std::atomic<uint64_t> refused_per_source{0};
  std::atomic<uint64_t> accept_failures{0};
  std::atomic<uint64_t> establish_timeouts{0};
  std::atomic<uint64_t> close_timeouts{0};
  std::atomic<uint64_t> write_failures{0};
  std::atomic<uint64_t> wakeups{0};
};

struct reactor::io_thread {
  size_t index = 0;  // in threads_
  int epoll_fd = -1;
  int wake_fd = -1;
  std::thread thread;
  std::mutex tasks_mutex;
  std::vector<std::function<void()>> tasks;
  bool closed = false;  // under tasks_mutex: stop() ran, posts are dropped
  // Connections finished during one epoll batch stay alive until it ends,
  // because later events of the batch may still point at them.
  std::vector<std::shared_ptr<connection>> graveyard;
  // Deadlines of this thread's connections, earliest first. An entry is live
  // only while it matches its connection's `armed` time; others are skipped.
  struct timer {
    clock::time_point when;
    std::weak_ptr<connection> c;
    bool operator>(const timer& other) const { return when > other.when; }
  };
  std::priority_queue<timer, std::vector<timer>, std::greater<>> timers;
  std::atomic<bool> polling{false};  // external_threads: a thread is in poll() for this loop
  // external_threads, several loops: poll_all took this loop out of all_loops_fd_ (it was ready while another
  // thread polled it, and level-triggered it would have been reported again at once: a spin); the thread
  // polling it puts it back when its turn ends (see park()).
  std::atomic<bool> parked{false};
  // external_threads: the loop's earliest deadline (clock ticks; max: none), as its last round left it, for
  // poll_all's wait. Deadlines armed from other threads arrive as posted tasks, which wake the loop.
  std::atomic<clock::rep> next_due{never.time_since_epoch().count()};
  clock::time_point accept_resume = never;  // thread 0 only: paused listeners come back

  void post(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(tasks_mutex);
    if (closed) return;  // dropping the task releases what it holds (e.g. a promise)
    tasks.push_back(std::move(task));
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }
};

namespace {
// The I/O thread running on this thread, if any: lets the reactor act inline
// instead of posting to itself.
thread_local const void* current_io_thread = nullptr;
}  // namespace

// external_threads: the writes a polling thread made between two polls, sent when it polls next (see write()).
struct reactor::coalesced_writes {
  const reactor* owner = nullptr;  // the reactor this thread polled last
  std::vector<std::shared_ptr<connection>> conns;
  std::vector<std::shared_ptr<connection>> spare;  // keeps the capacity across flushes
};

reactor::coalesced_writes& reactor::this_thread_writes() {
  thread_local coalesced_writes writes;
  return writes;
}

struct reactor::connection : watch, std::enable_shared_from_this<reactor::connection> {
  conn_id id = 0;
  int fd = -1;
  io_thread* owner = nullptr;
  std::shared_ptr<handler> on;
  std::mutex mutex;
  std::string out;
  size_t out_sent = 0;
  size_t unconsumed = 0;
  uint32_t interest = 0;
  bool registered = false;  // in epoll (or finishing); before that, events are not watched
  bool connecting = false;
  std::string remote;  // for connect errors
  bool closing = false;    // no more writes or reads; output may still be flushing
  bool deferred = false;   // queued in a polling thread's coalesced writes (no EPOLLOUT meanwhile)
  bool congested = false;  // unsent output went over congested_above; on_drained when down to a quarter
  bool finishing = false;  // finish() is posted (or waits for registration)
  std::string finish_reason;
  bool closed = false;
  bool counted = false;  // an accepted TCP connection in inbound_ / per_source_
  std::string source;    // its peer IP
  // Deadline (establishment, set_deadline or close flush) and the earliest
  // time queued in the owner's timers for it.
  clock::time_point deadline = never;
  std::string deadline_reason;
  clock::time_point armed = never;
};

struct reactor::listener : watch {
  uint64_t id = 0;
  int fd = -1;
  accept_fn on_accept;
  bool unix_socket = false;
  std::string path;
};

reactor::reactor(options opts) : opts_(opts), counters_(std::make_unique<counters>()) {
  if (opts_.threads == 0) opts_.threads = 1;
  for (size_t i = 0; i < opts_.threads; ++i) {
    auto t = std::make_unique<io_thread>();
    t->index = i;
    t->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // nullptr marks the wake-up eventfd
    epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, t->wake_fd, &ev);
    threads_.push_back(std::move(t));
  }
  if (opts_.external_threads) {
    if (threads_.size() > 1) {
      all_loops_fd_ = epoll_create1(EPOLL_CLOEXEC);
      for (size_t i = 0; i < threads_.size(); ++i) {
        epoll_event ev{};
        ev.events = EPOLLIN;  // an epoll fd is readable while it has events to report
        ev.data.u64 = i;
        epoll_ctl(all_loops_fd_, EPOLL_CTL_ADD, threads_[i]->epoll_fd, &ev);
      }
    }
    return;
  }
  // Named, so that per-thread CPU (/proc/PID/task, top -H, bench scaling) tells them apart.
  for (auto& t : threads_) {
    t->thread = std::thread([this, raw = t.get()] { run(*raw); });
    pthread_setname_np(t->thread.native_handle(), "fedgw-io");
  }
}

reactor::~reactor() { stop(); }

void reactor::stop() {
  if (stopping_.exchange(true)) return;
  for (auto& t : threads_) t->post([] {});
  if (opts_.external_threads) {
    // poll() checks stopping_ after counting itself in: once the count is 0, no poll() touches the loops.
    while (pollers_.load() != 0) std::this_thread::yield();
  }
  for (auto& t : threads_)
    if (t->thread.joinable()) t->thread.join();
  for (auto& t : threads_) {
    std::lock_guard<std::mutex> lock(t->tasks_mutex);
    t->closed = true;
    t->tasks.clear();  // e.g. a stop_listening() waiting on a task returns
  }
  std::unordered_map<conn_id, std::shared_ptr<connection>> connections;
  std::unordered_map<uint64_t, std::unique_ptr<listener>> listeners;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connections.swap(connections_);
    listeners.swap(listeners_);
  }
  for (auto& [id, c] : connections) {
    std::lock_guard<std::mutex> lock(c->mutex);
    if (c->fd >= 0) ::close(c->fd);
    c->fd = -1;
    c->closed = true;
  }
  for (auto& [id, l] : listeners) {
    if (l->fd >= 0) ::close(l->fd);
    if (l->unix_socket) ::unlink(l->path.c_str());
  }
  retired_listeners_.clear();
  for (auto& t : threads_) {
    t->graveyard.clear();
    t->timers = {};
    ::close(t->epoll_fd);
    ::close(t->wake_fd);
  }
  if (all_loops_fd_ >= 0) ::close(all_loops_fd_);
  all_loops_fd_ = -1;
}

uint64_t reactor::add_listener(int fd, accept_fn on_accept, bool unix_socket, std::string path) {
  auto l = std::make_unique<listener>();
  l->is_listener = true;
  l->id = next_id_++;
  l->fd = fd;
  l->on_accept = std::move(on_accept);
  l->unix_socket = unix_socket;
  l->path = std::move(path);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = static_cast<watch*>(l.get());
  auto id = l->id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    listeners_.emplace(id, std::move(l));
  }
  epoll_ctl(threads_[0]->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  return id;
}

namespace {
// Fills `addr` from a textual endpoint; 0 when the IP is malformed.
socklen_t to_sockaddr(const endpoint& where, sockaddr_storage& addr) {
  addr = {};
  if (is_ipv6(where.ip)) {
    auto& a = reinterpret_cast<sockaddr_in6&>(addr);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(where.port);
    inet_pton(AF_INET6, where.ip.c_str(), &a.sin6_addr);
    return sizeof a;
  }
  auto& a = reinterpret_cast<sockaddr_in&>(addr);
  a.sin_family = AF_INET;
  a.sin_port = htons(where.port);
  return inet_pton(AF_INET, where.ip.c_str(), &a.sin_addr) == 1 ? sizeof a : 0;
}
}  // namespace

uint64_t reactor::listen_tcp(const endpoint& where, accept_fn on_accept, std::string& error) {
  sockaddr_storage addr;
  socklen_t len = to_sockaddr(where, addr);
  if (len == 0) {
    error = where.ip + " is not an IP address";
    return 0;
  }
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno_text("socket");
    return 0;
  }
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 1024) != 0) {
    error = "cannot listen on " + where.to_string() + ": " + std::strerror(errno);
    ::close(fd);
    return 0;
  }
  return add_listener(fd, std::move(on_accept), false, {});
}

uint64_t reactor::listen_unix(const std::string& path, mode_t mode, accept_fn on_accept,
                              std::string& error) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    error = path + ": path too long for a Unix socket";
    return 0;
  }
  // Only a socket file may be replaced: a typo must not delete someone's file.
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
    error = path + " is " + file_kind(st.st_mode) + ", not a socket; not replacing it";
    return 0;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno_text("socket");
    return 0;
  }
  // A socket file left by a crashed run is stale when nobody accepts on it.
  int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    ::close(probe);
    ::close(fd);
    error = path + ": another process is already listening there";
    return 0;
  }
  ::close(probe);
  ::unlink(path.c_str());
  // Create the socket with the final mode: no window in which others may connect.
  mode_t old_mask = ::umask(~mode & 0777);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old_mask);
  if (rc != 0 || ::listen(fd, 64) != 0) {
    error = "cannot listen on " + path + ": " + std::strerror(errno);
    ::close(fd);
    return 0;
  }
  ::chmod(path.c_str(), mode);
  return add_listener(fd, std::move(on_accept), true, path);
}

// I/O thread 0 only.
void reactor::remove_listener(uint64_t id) {
  std::unique_ptr<listener> l;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = listeners_.find(id);
    if (it == listeners_.end()) return;
    l = std::move(it->second);
    listeners_.erase(it);
  }
  epoll_ctl(threads_[0]->epoll_fd, EPOLL_CTL_DEL, l->fd, nullptr);
  ::close(l->fd);
  l->fd = -1;
  if (l->unix_socket) ::unlink(l->path.c_str());
  // Kept until destruction: events of the current batch may still point at it.
  retired_listeners_.push_back(std::move(l));
}

void reactor::stop_listening_later(uint64_t id) {
  if (stopping_) return;
  threads_[0]->post([this, id] { remove_listener(id); });
}

void reactor::stop_listening(uint64_t id) {
  if (stopping_) return;
  if (current_io_thread == threads_[0].get()) return remove_listener(id);
  auto done = std::make_shared<std::promise<void>>();
  auto removed = done->get_future();
  threads_[0]->post([this, id, done] {
    remove_listener(id);
    done->set_value();
  });
  // Also returns when stop() drops the task: the promise is then broken.
  removed.wait();
}

endpoint reactor::local_endpoint(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = listeners_.find(id);
  if (it == listeners_.end() || it->second->unix_socket) return {};
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(it->second->fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto text = peer_name(addr);
  return parse_endpoint(text).value_or(endpoint{});
}

// Starts watching the connection; it is already in connections_, so its owner
// may have written to it or closed it meanwhile.
void reactor::register_connection(const std::shared_ptr<connection>& c) {
  std::lock_guard<std::mutex> lock(c->mutex);
  c->registered = true;
  if (c->finishing) {
    c->owner->post([this, c, reason = c->finish_reason] { finish(c, reason); });
    return;
  }
  if (c->deadline != never) arm(c, c->deadline);
  c->interest = wanted_events(*c);
  epoll_event ev{};
  ev.events = c->interest;
  ev.data.ptr = static_cast<watch*>(c.get());
  epoll_ctl(c->owner->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev);
}

reactor::conn_id reactor::connect_tcp(const endpoint& remote, const std::string& local_ip,
                                      std::shared_ptr<handler> on, std::string& error) {
  sockaddr_storage addr;
  socklen_t len = to_sockaddr(remote, addr);
  if (len == 0) {
    error = remote.ip + " is not an IP address";
    return 0;
  }
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno_text("socket");
    return 0;
  }
  if (!local_ip.empty()) {
    sockaddr_storage local;
    socklen_t local_len = to_sockaddr({local_ip, 0}, local);
    if (local_len == 0 || local.ss_family != addr.ss_family ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&local), local_len) != 0) {
      error = "cannot bind to local address " + local_ip + ": " +
              (local_len == 0 ? std::string("not an IP address")
                              : local.ss_family != addr.ss_family ? "address family differs from " + remote.ip
                                                                  : std::strerror(errno));
      ::close(fd);
      return 0;
    }
  }
  int on_flag = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on_flag, sizeof on_flag);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) {
    error = "connect to " + remote.to_string() + " failed: " + std::strerror(errno);
    ::close(fd);
    return 0;
  }
  auto c = std::make_shared<connection>();
  c->is_listener = false;
  c->id = next_id_++;
  c->fd = fd;
  c->owner = threads_[next_thread_++ % threads_.size()].get();
  c->on = std::move(on);
  c->connecting = true;
  c->remote = remote.to_string();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.emplace(c->id, c);
  }
  register_connection(c);
  return c->id;
}

std::shared_ptr<reactor::connection> reactor::find(conn_id conn) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = connections_.find(conn);
  return it == connections_.end() ? nullptr : it->second;
}

size_t reactor::connection_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return connections_.size();
}

reactor::stats reactor::get_stats() const {
  stats s;
  s.accepted = counters_->accepted;
  s.refused_max_connections = counters_->refused_max_connections;
  s.refused_per_source = counters_->refused_per_source;
  s.accept_failures = counters_->accept_failures;
  s.establish_timeouts = counters_->establish_timeouts;
  s.close_timeouts = counters_->close_timeouts;
  s.write_failures = counters_->write_failures;
  s.wakeups = counters_->wakeups;
  std::lock_guard<std::mutex> lock(mutex_);
  s.inbound = inbound_;
  return s;
}

// Caller holds c.mutex. Only events that will be handled are asked for: a
// level-triggered EPOLLRDHUP nobody reads would wake the thread forever.
uint32_t reactor::wanted_events(const connection& c) const {
  if (c.connecting) return EPOLLOUT;
  uint32_t wanted = 0;
  if (c.unconsumed < opts_.read_window && !c.closing) wanted |= EPOLLIN | EPOLLRDHUP;
  if (c.out_sent < c.out.size() && !c.deferred) wanted |= EPOLLOUT;
  return wanted;
}

// Caller holds c.mutex.
void reactor::update_interest(connection& c) {
  if (!c.registered || c.closed || c.finishing) return;
  auto wanted = wanted_events(c);
  if (wanted == c.interest) return;
  c.interest = wanted;
  epoll_event ev{};
  ev.events = wanted;
  ev.data.ptr = static_cast<watch*>(&c);
  epoll_ctl(c.owner->epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
}

// Caller holds c->mutex. finish() runs on the owner thread, once the
// connection is registered (an accept_fn may close it before that).
void reactor::request_finish(const std::shared_ptr<connection>& c, std::string reason) {
  if (c->closed || c->finishing) return;
  c->closing = true;
  c->finishing = true;
  c->finish_reason = std::move(reason);
  if (c->registered && !stopping_) c->owner->post([this, c, r = c->finish_reason] { finish(c, r); });
}

// Caller holds c->mutex; queues a timer at `when` unless an earlier one is queued.
void reactor::arm(const std::shared_ptr<connection>& c, clock::time_point when) {
  if (!c->registered || when >= c->armed) return;
  c->armed = when;
  if (current_io_thread == c->owner) {
    c->owner->timers.push({when, c});
  } else {
    std::weak_ptr<connection> weak = c;
    c->owner->post([owner = c->owner, when, weak] { owner->timers.push({when, weak}); });
  }
}

// On a thread that polls this reactor (external_threads: a CAF worker), a write to an idle connection is
// queued and sent when the thread polls next: before it waits, or after a few jobs under load. The answers
// one burst of input produces then leave in one send() instead of one each (half the CPU of the thread
// reading a busy connection was send(); on loopback each send() also runs the receiver's stack).
bool reactor::write(conn_id conn, std::string_view bytes, bool* congested) {
  auto c = find(conn);
  if (!c) return false;
  std::lock_guard<std::mutex> lock(c->mutex);
  if (c->closed || c->closing) return false;
  if (congested) *congested = c->congested;  // as it stays unless the bytes are queued below
  if (c->out_sent == c->out.size() && !c->connecting && c->registered) {
    c->out.clear();
    c->out_sent = 0;
    auto& coalesced = this_thread_writes();
    if (coalesced.owner == this && !stopping_) {
      c->out.append(bytes);
      c->deferred = true;
      coalesced.conns.push_back(c);
      return true;
    }
    // Nothing queued: try to send right away from the caller's thread.
    int err = 0;
    if (!send_some(*c, bytes, err)) {
      ++counters_->write_failures;
      request_finish(c, errno_text("send", err));
      return false;
    }
    if (bytes.empty()) return true;
  }
  if (c->out.size() - c->out_sent + bytes.size() > opts_.max_write_buffer) {
    ++counters_->write_failures;
    request_finish(c, "output buffer over " + std::to_string(opts_.max_write_buffer) +
                        " bytes (the peer does not read)");
    return false;
  }
  c->out.append(bytes);
  if (c->out.size() - c->out_sent > opts_.congested_above) c->congested = true;
  if (congested) *congested = c->congested;
  update_interest(*c);
  return true;
}

// Caller holds c.mutex, after sending: true when a congested output is down to a quarter of the mark
// (the caller calls on_drained once the lock is released).
bool reactor::drained(connection& c) const {
  if (!c.congested || c.out.size() - c.out_sent > opts_.congested_above / 4) return false;
  c.congested = false;
  return true;
}

// Caller holds c.mutex. Sends from `bytes` until it is empty or the socket is full (EAGAIN); consumes what
// was sent. False on a send error, with its errno in `err`.
bool reactor::send_some(connection& c, std::string_view& bytes, int& err) {
  while (!bytes.empty()) {
    auto n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;
    } else {
      err = errno;
      return false;
    }
  }
  return true;
}

// Caller holds c.mutex: sends what is queued; false on a send error (errno in `err`).
bool reactor::send_queued(connection& c, int& err) {
  std::string_view rest(c.out.data() + c.out_sent, c.out.size() - c.out_sent);
  size_t before = rest.size();
  bool ok = send_some(c, rest, err);
  c.out_sent += before - rest.size();
  return ok;
}

// The calling thread's coalesced writes, in the order they were made.
void reactor::flush_coalesced(coalesced_writes& coalesced) {
  coalesced.spare.swap(coalesced.conns);
  for (auto& c : coalesced.spare) {
    bool now_drained = false;
    {
      std::lock_guard<std::mutex> lock(c->mutex);
      c->deferred = false;
      if (c->closed || c->finishing) continue;
      int err = 0;
      if (!send_queued(*c, err)) {
        ++counters_->write_failures;
        request_finish(c, errno_text("send", err));
      } else if (c->closing && c->out_sent == c->out.size()) {
        request_finish(c, "closed locally");
      } else {
        now_drained = drained(*c);
        update_interest(*c);  // what the socket did not take waits for EPOLLOUT
      }
    }
    if (now_drained) c->on->on_drained(c->id);
  }
  coalesced.spare.clear();
}

void reactor::consumed(conn_id conn, size_t bytes) {
  auto c = find(conn);
  if (!c) return;
  std::lock_guard<std::mutex> lock(c->mutex);
  c->unconsumed -= std::min(bytes, c->unconsumed);
  update_interest(*c);
}

void reactor::close(conn_id conn, bool flush) {
  auto c = find(conn);
  if (!c) return;
  std::lock_guard<std::mutex> lock(c->mutex);
  if (c->closed || c->finishing) return;
  if (flush && c->out_sent < c->out.size()) {
    if (!c->closing) {
      c->closing = true;
      c->deadline = clock::now() + opts_.close_timeout;
      c->deadline_reason = "output not sent within " + duration_text(opts_.close_timeout) + " of closing";
      arm(c, c->deadline);
      update_interest(*c);
    }
    return;  // the I/O thread closes once the output is sent, or at the deadline
  }
  request_finish(c, "closed locally");
}

void reactor::established(conn_id conn) {
  auto c = find(conn);
  if (!c) return;
  std::lock_guard<std::mutex> lock(c->mutex);
  if (!c->closing) c->deadline = never;
}

void reactor::set_deadline(conn_id conn, clock::time_point when, std::string reason) {
  auto c = find(conn);
  if (!c) return;
  std::lock_guard<std::mutex> lock(c->mutex);
  if (c->closing || c->closed) return;
  c->deadline = when;
  c->deadline_reason = std::move(reason);
  arm(c, when);
}

void reactor::finish(const std::shared_ptr<connection>& c, const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(c->mutex);
    if (c->closed) return;
    c->closed = true;
    c->finishing = true;
    epoll_ctl(c->owner->epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    c->fd = -1;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.erase(c->id);
    if (c->counted) {
      --inbound_;
      auto it = per_source_.find(c->source);
      if (it != per_source_.end() && --it->second == 0) per_source_.erase(it);
    }
  }
  // A file descriptor is free again: paused listeners may accept.
  if (accept_paused_.exchange(false) && !stopping_) threads_[0]->post([this] { resume_accepting(); });
  c->owner->graveyard.push_back(c);
  if (!stopping_) c->on->on_closed(c->id, reason);
}

// I/O thread 0 only. Out of file descriptors (or similar): the listener stays
// readable, so watching it would wake the thread at once, forever.
void reactor::pause_accepting(listener& l) {
  epoll_ctl(threads_[0]->epoll_fd, EPOLL_CTL_DEL, l.fd, nullptr);
  paused_listeners_.push_back(l.id);
  threads_[0]->accept_resume = std::min(threads_[0]->accept_resume, clock::now() + opts_.accept_retry);
  accept_paused_ = true;
}

// I/O thread 0 only.
void reactor::resume_accepting() {
  threads_[0]->accept_resume = never;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto id : paused_listeners_) {
    auto it = listeners_.find(id);
    if (it == listeners_.end()) continue;  // stopped meanwhile
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = static_cast<watch*>(it->second.get());
    epoll_ctl(threads_[0]->epoll_fd, EPOLL_CTL_ADD, it->second->fd, &ev);
  }
  paused_listeners_.clear();
}

void reactor::handle_listener(io_thread&, listener& l) {
  // Bounded so that one busy listener cannot starve the other sockets; it
  // stays readable (level-triggered) and comes back in the next round.
  for (int round = 0; round < 64; ++round) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;  // that one is gone
      ++counters_->accept_failures;
      pause_accepting(l);
      return;
    }
    auto c = std::make_shared<connection>();
    c->is_listener = false;
    c->fd = fd;
    if (!l.unix_socket) {
      int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      c->source = peer_ip(addr);
      std::lock_guard<std::mutex> lock(mutex_);
      if (opts_.max_connections != 0 && inbound_ >= opts_.max_connections) {
        ++counters_->refused_max_connections;
        ::close(fd);
        continue;
      }
      auto& from_source = per_source_[c->source];
      if (opts_.max_connections_per_source != 0 && from_source >= opts_.max_connections_per_source) {
        ++counters_->refused_per_source;
        ::close(fd);
        continue;
      }
      ++from_source;
      ++inbound_;
      c->counted = true;
      if (opts_.establish_timeout.count() > 0) {
        c->deadline = clock::now() + opts_.establish_timeout;
        c->deadline_reason = "no TLS handshake / SIP message within " + duration_text(opts_.establish_timeout);
      }
    }
    c->id = next_id_++;
    c->owner = threads_[next_thread_++ % threads_.size()].get();
    {
      // Known before on_accept runs, so that its handler may write or close at once.
      std::lock_guard<std::mutex> lock(mutex_);
      connections_.emplace(c->id, c);
    }
    auto on = l.on_accept(c->id, l.unix_socket ? std::string("unix") : peer_name(addr));
    if (!on) {
      {
        std::lock_guard<std::mutex> lock(c->mutex);
        c->closed = true;
        ::close(fd);
        c->fd = -1;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      connections_.erase(c->id);
      if (c->counted) {
        --inbound_;
        if (--per_source_[c->source] == 0) per_source_.erase(c->source);
      }
      continue;
    }
    if (c->counted) ++counters_->accepted;
    {
      std::lock_guard<std::mutex> lock(c->mutex);
      c->on = std::move(on);
    }
    register_connection(c);
  }
}

void reactor::handle_connection(io_thread&, const std::shared_ptr<connection>& c, uint32_t events) {
  bool connected_now = false;
  {
    std::unique_lock<std::mutex> lock(c->mutex);
    if (c->closed || c->finishing) return;  // finish() is queued
    if (c->connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0 && !(events & (EPOLLERR | EPOLLHUP))) {
        c->connecting = false;
        connected_now = true;
        update_interest(*c);
      } else {
        lock.unlock();
        finish(c, "connect to " + c->remote + " failed: " + std::strerror(err != 0 ? err : ECONNREFUSED));
        return;
      }
    }
  }
  if (connected_now) {
    c->on->on_connected(c->id);
    events = EPOLLOUT;  // flush what was queued while connecting
  }
  if (events & EPOLLOUT) {
    std::unique_lock<std::mutex> lock(c->mutex);
    if (c->finishing) return;  // on_connected closed it
    int err = 0;
    if (!send_queued(*c, err)) {
      auto reason = errno_text("send", err);
      c->finishing = true;
      lock.unlock();
      finish(c, reason);
      return;
    }
    bool done_closing = c->closing && c->out_sent == c->out.size();
    if (done_closing) c->finishing = true;
    bool now_drained = !done_closing && drained(*c);
    update_interest(*c);
    lock.unlock();
    if (done_closing) {
      finish(c, "closed locally");
      return;
    }
    if (now_drained) c->on->on_drained(c->id);
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
    char buffer[64 * 1024];
    for (int round = 0; round < 4; ++round) {
      {
        std::unique_lock<std::mutex> lock(c->mutex);
        if (c->closed || c->finishing) return;
        if (c->closing || c->unconsumed >= opts_.read_window) {
          // Not reading now. EPOLLERR and EPOLLHUP are reported whatever the
          // interest set, so a dead socket must go now or it wakes us forever.
          if (events & (EPOLLERR | EPOLLHUP)) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            c->finishing = true;
            lock.unlock();
            finish(c, err != 0 ? std::string("connection error: ") + std::strerror(err) : "closed by peer");
            return;
          }
          update_interest(*c);
          return;
        }
      }
      auto n = ::recv(c->fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        {
          std::lock_guard<std::mutex> lock(c->mutex);
          c->unconsumed += static_cast<size_t>(n);
        }
        c->on->on_data(c->id, std::string_view(buffer, static_cast<size_t>(n)));
        if (static_cast<size_t>(n) < sizeof buffer) return;
      } else if (n == 0) {
        finish(c, "closed by peer");
        return;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN) {
        return;
      } else {
        finish(c, errno_text("recv"));
        return;
      }
    }
  }
}

// Closes the connections whose deadline has passed; resumes paused listeners.
void reactor::run_timers(io_thread& t) {
  auto now = clock::now();
  if (t.accept_resume <= now) resume_accepting();
  while (!t.timers.empty() && t.timers.top().when <= now) {
    auto entry = t.timers.top();
    t.timers.pop();
    auto c = entry.c.lock();
    if (!c) continue;
    std::unique_lock<std::mutex> lock(c->mutex);
    if (c->closed || c->finishing || entry.when != c->armed) continue;  // finished or superseded
    c->armed = never;
    if (c->deadline == never) continue;  // established() cleared it
    if (c->deadline > now) {  // moved later: one new entry
      c->armed = c->deadline;
      t.timers.push({c->deadline, c});
      continue;
    }
    ++(c->closing ? counters_->close_timeouts : counters_->establish_timeouts);
    auto reason = c->deadline_reason;
    c->finishing = true;
    lock.unlock();
    finish(c, reason);
  }
}

namespace {
// epoll_wait's timeout until `next`: -1 for none, rounded up so that the
// thread does not wake just before it is due and spin.
int timeout_until(reactor::clock::time_point next) {
  if (next == never) return -1;
  auto now = reactor::clock::now();
  if (next <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}
}  // namespace

void reactor::run(io_thread& t) {
  current_io_thread = &t;
  while (!stopping_) run_once(t, -1);
}

namespace {
// Counts a poll(), poll_all() or wake() in pollers_ while it runs: stop() closes the epoll and event fds only
// once none is in progress.
struct in_progress {
  std::atomic<int>& n;
  explicit in_progress(std::atomic<int>& count) : n(count) { n.fetch_add(1); }
  ~in_progress() { n.fetch_sub(1); }
  in_progress(const in_progress&) = delete;
  in_progress& operator=(const in_progress&) = delete;
};
}  // namespace

bool reactor::poll(size_t index, std::chrono::milliseconds max_wait) {
  in_progress in(pollers_);
  if (stopping_ || index >= threads_.size()) return false;
  flush_as_poller();  // also when another thread has the loop: this thread may wait elsewhere next
  return take_turn(*threads_[index], static_cast<int>(std::min<int64_t>(max_wait.count(), INT_MAX)));
}

bool reactor::poll_all(std::chrono::milliseconds max_wait) {
  in_progress in(pollers_);
  if (stopping_) return false;
  if (all_loops_fd_ < 0) return poll(0, max_wait);  // one loop
  flush_as_poller();
  auto due = never.time_since_epoch().count();
  for (auto& t : threads_) {
    auto next = t->next_due.load(std::memory_order_relaxed);
    if (next >= due) continue;
    // A deadline already due on a loop another thread polls is that thread's to run: not a reason to return at once.
    // (The clock is read only then: not on the watcher's usual path.)
    if (t->polling.load(std::memory_order_relaxed) && next <= clock::now().time_since_epoch().count()) continue;
    due = next;
  }
  int timeout = timeout_until(clock::time_point(clock::duration(due)));
  int max_wait_ms = static_cast<int>(std::min<int64_t>(max_wait.count(), INT_MAX));
  if (timeout < 0 || timeout > max_wait_ms) timeout = max_wait_ms;
  epoll_event ready[64];
  int n = epoll_wait(all_loops_fd_, ready, 64, timeout);
  ++counters_->wakeups;
  // Loops past 64 ready at once, or with a deadline due, are found by the scan below.
  thread_local std::vector<uint8_t> marked;
  marked.assign(threads_.size(), 0);
  for (int i = 0; i < n; ++i)
    if (ready[i].data.u64 < marked.size()) marked[ready[i].data.u64] = 1;
  auto now = clock::now().time_since_epoch().count();
  for (size_t i = 0; i < threads_.size() && !stopping_; ++i) {
    auto& t = *threads_[i];
    if (marked[i] || t.next_due.load(std::memory_order_relaxed) <= now || n == 64)
      if (!take_turn(t, 0) && marked[i] && timeout != 0) park(t);
  }
  return true;
}

// A waiting poll_all found loop `t` ready but polled by another thread. The loop's epoll fd stays readable
// until that thread has read its sockets, so the next poll_all would return at once, again and again, for as
// long as the other thread keeps the loop (a watcher spinning on a core the other thread may need). Instead
// the loop leaves the set until the other thread's turn ends (take_turn puts it back). Either this thread sees
// `polling` cleared after marking the loop parked, or the polling thread sees `parked` after clearing
// `polling` (both sequentially consistent), so a loop is never left out.
void reactor::park(io_thread& t) {
  epoll_event ev{};
  ev.events = 0;  // stays in the set, reports nothing
  ev.data.u64 = t.index;
  if (epoll_ctl(all_loops_fd_, EPOLL_CTL_MOD, t.epoll_fd, &ev) != 0) return;
  t.parked.store(true);
  if (!t.polling.load()) unpark(t);
}

void reactor::unpark(io_thread& t) {
  if (!t.parked.exchange(false)) return;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = t.index;
  epoll_ctl(all_loops_fd_, EPOLL_CTL_MOD, t.epoll_fd, &ev);
}

bool reactor::take_turn(io_thread& t, int max_wait_ms) {
  if (t.polling.exchange(true)) return false;
  current_io_thread = &t;
  run_once(t, max_wait_ms);
  current_io_thread = nullptr;
  t.polling.store(false);
  if (t.parked.load()) unpark(t);
  return true;
}

void reactor::flush() {
  auto& coalesced = this_thread_writes();
  if (coalesced.owner == this) flush_coalesced(coalesced);  // else this thread's writes were not coalesced
}

// A polling thread: its writes to idle connections are coalesced from now on (see write()).
void reactor::flush_as_poller() {
  auto& coalesced = this_thread_writes();
  if (coalesced.owner != this) {
    coalesced.conns.clear();  // a thread polls one reactor (until it stops): these were for one gone
    coalesced.owner = this;
  }
  flush_coalesced(coalesced);
}

void reactor::wake(size_t index) {
  in_progress in(pollers_);
  if (stopping_ || index >= threads_.size()) return;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(threads_[index]->wake_fd, &one, sizeof one);
}

// One round of an I/O loop: epoll (at most max_wait_ms; -1: until the next deadline), events, deadlines.
void reactor::run_once(io_thread& t, int max_wait_ms) {
  epoll_event events[128];
  {
    auto next = t.timers.empty() ? never : t.timers.top().when;
    int timeout = timeout_until(std::min(next, t.accept_resume));
    if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms)) timeout = max_wait_ms;
    int n = epoll_wait(t.epoll_fd, events, 128, timeout);
    ++counters_->wakeups;
    for (int i = 0; i < n && !stopping_; ++i) {
      auto* w = static_cast<watch*>(events[i].data.ptr);
      if (w == nullptr) {
        uint64_t count;
        [[maybe_unused]] auto r = ::read(t.wake_fd, &count, sizeof count);
        std::vector<std::function<void()>> tasks;
        {
          std::lock_guard<std::mutex> lock(t.tasks_mutex);
          tasks.swap(t.tasks);
        }
        for (auto& task : tasks) task();
      } else if (w->is_listener) {
        handle_listener(t, *static_cast<listener*>(w));
      } else {
        // Alive: owned by connections_, or by the graveyard until this batch ends.
        handle_connection(t, static_cast<connection*>(w)->shared_from_this(), events[i].events);
      }
    }
    if (!stopping_) run_timers(t);
    t.graveyard.clear();
    auto due = std::min(t.timers.empty() ? never : t.timers.top().when, t.accept_resume);
    t.next_due.store(due.time_since_epoch().count(), std::memory_order_relaxed);
  }
}

}  // namespace fedgw::net
