#include "gateway/net/reactor.h"

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

#include <cerrno>
#include <cstring>

namespace fedgw::net {

namespace {
std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

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

// What epoll's data pointer refers to.
struct watch {
  bool is_listener;
};
}  // namespace

struct reactor::io_thread {
  int epoll_fd = -1;
  int wake_fd = -1;
  std::thread thread;
  std::mutex tasks_mutex;
  std::vector<std::function<void()>> tasks;
  // Connections finished during one epoll batch stay alive until it ends,
  // because later events of the batch may still point at them.
  std::vector<std::shared_ptr<connection>> graveyard;

  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(tasks_mutex);
      tasks.push_back(std::move(task));
    }
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }
};

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
  bool connecting = false;
  std::string remote;  // for connect errors
  bool closing = false;
  bool closed = false;
};

struct reactor::listener : watch {
  uint64_t id = 0;
  int fd = -1;
  accept_fn on_accept;
  bool unix_socket = false;
  std::string path;
};

reactor::reactor(options opts) : opts_(opts) {
  if (opts_.threads == 0) opts_.threads = 1;
  for (size_t i = 0; i < opts_.threads; ++i) {
    auto t = std::make_unique<io_thread>();
    t->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // nullptr marks the wake-up eventfd
    epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, t->wake_fd, &ev);
    threads_.push_back(std::move(t));
  }
  for (auto& t : threads_) t->thread = std::thread([this, raw = t.get()] { run(*raw); });
}

reactor::~reactor() { stop(); }

void reactor::stop() {
  if (stopping_.exchange(true)) return;
  for (auto& t : threads_) t->post([] {});
  for (auto& t : threads_) t->thread.join();
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
    t->tasks.clear();
    ::close(t->epoll_fd);
    ::close(t->wake_fd);
  }
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

void reactor::stop_listening(uint64_t id) {
  if (stopping_) return;
  threads_[0]->post([this, id] {
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
  });
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

void reactor::register_connection(const std::shared_ptr<connection>& c, uint32_t events) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.emplace(c->id, c);
  }
  std::lock_guard<std::mutex> lock(c->mutex);
  c->interest = events;
  epoll_event ev{};
  ev.events = events | EPOLLRDHUP;
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
  register_connection(c, EPOLLOUT);
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

// Caller holds c.mutex.
void reactor::update_interest(connection& c) {
  uint32_t wanted = 0;
  if (c.connecting) {
    wanted = EPOLLOUT;
  } else {
    if (c.unconsumed < opts_.read_window && !c.closing) wanted |= EPOLLIN;
    if (c.out_sent < c.out.size()) wanted |= EPOLLOUT;
  }
  if (wanted == c.interest || c.closed) return;
  c.interest = wanted;
  epoll_event ev{};
  ev.events = wanted | EPOLLRDHUP;
  ev.data.ptr = static_cast<watch*>(&c);
  epoll_ctl(c.owner->epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
}

bool reactor::write(conn_id conn, std::string_view bytes) {
  auto c = find(conn);
  if (!c) return false;
  std::lock_guard<std::mutex> lock(c->mutex);
  if (c->closed || c->closing) return false;
  if (c->out_sent == c->out.size() && !c->connecting) {
    c->out.clear();
    c->out_sent = 0;
    // Nothing queued: try to send right away from the caller's thread.
    while (!bytes.empty()) {
      auto n = ::send(c->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        break;  // EAGAIN or an error the I/O thread will see
      }
    }
    if (bytes.empty()) return true;
  }
  if (c->out.size() - c->out_sent + bytes.size() > opts_.max_write_buffer) return false;
  c->out.append(bytes);
  update_interest(*c);
  return true;
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
  {
    std::lock_guard<std::mutex> lock(c->mutex);
    c->closing = true;
    if (flush && c->out_sent < c->out.size()) {
      update_interest(*c);
      return;  // the I/O thread closes once the output is sent
    }
  }
  if (stopping_) return;
  c->owner->post([this, c] { finish(c, "closed locally"); });
}

void reactor::finish(const std::shared_ptr<connection>& c, const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(c->mutex);
    if (c->closed) return;
    c->closed = true;
    epoll_ctl(c->owner->epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    c->fd = -1;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.erase(c->id);
  }
  c->owner->graveyard.push_back(c);
  if (!stopping_) c->on->on_closed(c->id, reason);
}

void reactor::handle_listener(io_thread&, listener& l) {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an error such as EMFILE: retried on the next event
    if (!l.unix_socket) {
      int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }
    auto c = std::make_shared<connection>();
    c->is_listener = false;
    c->id = next_id_++;
    c->fd = fd;
    c->owner = threads_[next_thread_++ % threads_.size()].get();
    c->on = l.on_accept(c->id, l.unix_socket ? std::string("unix") : peer_name(addr));
    if (!c->on) {
      ::close(fd);
      continue;
    }
    register_connection(c, EPOLLIN);
  }
}

void reactor::handle_connection(io_thread&, const std::shared_ptr<connection>& c, uint32_t events) {
  bool connected_now = false;
  {
    std::unique_lock<std::mutex> lock(c->mutex);
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
    while (c->out_sent < c->out.size()) {
      auto n = ::send(c->fd, c->out.data() + c->out_sent, c->out.size() - c->out_sent, MSG_NOSIGNAL);
      if (n > 0) {
        c->out_sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        break;
      } else {
        lock.unlock();
        finish(c, errno_text("send"));
        return;
      }
    }
    bool done_closing = c->closing && c->out_sent == c->out.size();
    update_interest(*c);
    lock.unlock();
    if (done_closing) {
      finish(c, "closed locally");
      return;
    }
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
    char buffer[64 * 1024];
    for (int round = 0; round < 4; ++round) {
      {
        std::lock_guard<std::mutex> lock(c->mutex);
        if (c->closed || c->closing || c->unconsumed >= opts_.read_window) {
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

void reactor::run(io_thread& t) {
  epoll_event events[128];
  while (!stopping_) {
    int n = epoll_wait(t.epoll_fd, events, 128, -1);
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
    t.graveyard.clear();
  }
}

}  // namespace fedgw::net
