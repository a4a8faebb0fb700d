#include "gateway/dns/engine.h"

#include <pthread.h>
#include <ares.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>
#include <unordered_map>

#include "gateway/dns/wire.h"
#include "gateway/net/address.h"

namespace fedgw::dns {

namespace {

struct library_init {
  library_init() { ares_library_init(ARES_LIB_INIT_ALL); }
};

std::string describe_servers(ares_channel ch) {
  ares_addr_port_node* list = nullptr;
  if (ares_get_servers_ports(ch, &list) != ARES_SUCCESS) return "?";
  std::string out;
  for (auto* n = list; n != nullptr; n = n->next) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(n->family, n->family == AF_INET6 ? static_cast<const void*>(&n->addr.addr6)
                                               : static_cast<const void*>(&n->addr.addr4),
              text, sizeof text);
    net::endpoint ep{text, static_cast<uint16_t>(n->udp_port != 0 ? n->udp_port : 53)};
    if (!out.empty()) out += ", ";
    out += ep.to_string();
  }
  ares_free_data(list);
  return out.empty() ? "(none)" : out;
}

std::string server_phrase(const raw_result& raw) {
  bool several = raw.servers.find(',') != std::string::npos;
  return (several ? "servers " : "server ") + raw.servers;
}

}  // namespace

answer to_answer(const raw_result& raw, rr_type type) {
  answer a;
  auto parse = [&] {
    a = parse_response(reinterpret_cast<const unsigned char*>(raw.response.data()), raw.response.size(), type);
    if (a.result == outcome::server_failure) a.detail = server_phrase(raw) + " answered " + a.detail;
    if (a.result == outcome::bad_answer) a.detail = "malformed answer from " + server_phrase(raw) + ": " + a.detail;
  };
  switch (raw.status) {
    case ARES_SUCCESS:
      parse();
      break;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
      if (!raw.response.empty()) {
        parse();
      } else {
        a.result = raw.status == ARES_ENOTFOUND ? outcome::nxdomain : outcome::nodata;
      }
      break;
    case ARES_ETIMEOUT:
      a.result = outcome::timeout;
      a.detail = server_phrase(raw) + " timed out after " + std::to_string(raw.tries) +
                 (raw.tries == 1 ? " try" : " tries") + " (" + std::to_string(raw.timeout_ms) + " ms each)";
      break;
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
    case ARES_ENOTIMP:
      a.result = outcome::server_failure;
      a.detail = server_phrase(raw) + " answered " +
                 (raw.status == ARES_ESERVFAIL ? "SERVFAIL" : raw.status == ARES_EREFUSED ? "REFUSED" : "NOTIMP");
      break;
    case ARES_ECONNREFUSED:
      a.result = outcome::server_failure;
      a.detail = server_phrase(raw) + ": no usable answer after " + std::to_string(raw.tries) +
                 (raw.tries == 1 ? " try" : " tries") + " (connection refused, SERVFAIL or REFUSED)";
      break;
    case ARES_EBADRESP:
      a.result = outcome::bad_answer;
      a.detail = "malformed answer from " + server_phrase(raw);
      break;
    case ARES_EBADNAME:
      a.result = outcome::error;
      a.detail = "not a valid DNS name";
      break;
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED:
      a.result = outcome::error;
      a.detail = "resolver shut down";
      break;
    case ARES_ENOTINITIALIZED:
      a.result = outcome::error;
      a.detail = "no DNS servers configured";
      break;
    default:
      a.result = outcome::error;
      a.detail = std::string("c-ares: ") + ares_strerror(raw.status);
      break;
  }
  return a;
}

struct engine::channel {
  engine* owner = nullptr;
  ares_channel ch = nullptr;
  std::string servers;
  uint32_t tries = 0;
  uint32_t timeout_ms = 0;
  size_t pending = 0;
  std::unordered_map<int, uint32_t> fds;  // socket -> epoll events
  ~channel() {
    if (ch != nullptr) ares_destroy(ch);  // fails pending queries with ARES_EDESTRUCTION
  }
};

namespace {
struct pending_query {
  engine::callback done;
  void* ch;  // engine::channel*
};
}  // namespace

engine::engine() {
  static library_init init;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || event_fd_ < 0) throw std::system_error(errno, std::generic_category(), "dns engine");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = event_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev);
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "fedgw-dns");
}

engine::~engine() {
  stopping_ = true;
  wake();
  if (thread_.joinable()) thread_.join();
  // The DNS thread is gone: destroy channels here (their sockets leave epoll).
  for (auto& ch : channels_) ch.reset();
  channels_.clear();
  for (auto& r : queue_) {
    r.install.reset();
    raw_result raw;
    raw.status = ARES_EDESTRUCTION;
    if (r.done) r.done(std::move(raw));
  }
  close(event_fd_);
  close(epoll_fd_);
}

void engine::wake() {
  uint64_t one = 1;
  ssize_t n = write(event_fd_, &one, sizeof one);
  (void)n;
}

bool engine::configure(const engine_settings& settings, std::string& error) {
  std::string csv;
  for (const auto& s : settings.servers) {
    auto ep = net::parse_endpoint(s);
    if (!ep) {
      error = "DNS: server \"" + s + "\" is not ip:port or [ipv6]:port";
      return false;
    }
    if (!csv.empty()) csv += ",";
    csv += ep->to_string();
  }
  auto ch = std::make_unique<channel>();
  ch->owner = this;
  ch->tries = settings.tries == 0 ? 1 : settings.tries;
  ch->timeout_ms = settings.timeout_ms == 0 ? 2000 : settings.timeout_ms;
  ares_options opts{};
  opts.timeout = static_cast<int>(ch->timeout_ms);
  opts.tries = static_cast<int>(ch->tries);
  opts.sock_state_cb = &engine::sock_state_cb;
  opts.sock_state_cb_data = ch.get();
  opts.flags = 0;
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS;
  int rc = ares_init_options(&ch->ch, &opts, mask);
  if (rc != ARES_SUCCESS) {
    ch->ch = nullptr;
    error = std::string("DNS: c-ares initialisation failed: ") + ares_strerror(rc);
    return false;
  }
  if (!csv.empty()) {
    rc = ares_set_servers_ports_csv(ch->ch, csv.c_str());
    if (rc != ARES_SUCCESS) {
      error = "DNS: servers \"" + csv + "\" rejected by c-ares: " + ares_strerror(rc);
      return false;
    }
  }
  ch->servers = describe_servers(ch->ch);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    servers_ = ch->servers;
    request r;
    r.install = std::move(ch);
    queue_.push_back(std::move(r));
  }
  wake();
  return true;
}

std::string engine::servers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return servers_;
}

void engine::query(std::string name, rr_type type, callback done) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(request{std::move(name), type, std::move(done), nullptr});
  }
  wake();
}

void engine::sock_state_cb(void* data, int fd, int readable, int writable) {
  auto* ch = static_cast<channel*>(data);
  ch->owner->update_socket(ch, fd, readable != 0, writable != 0);
}

void engine::update_socket(channel* ch, int fd, bool read, bool write) {
  uint32_t events = (read ? EPOLLIN : 0u) | (write ? EPOLLOUT : 0u);
  auto it = ch->fds.find(fd);
  epoll_event e{};
  e.events = events;
  e.data.fd = fd;
  if (events == 0) {
    if (it != ch->fds.end()) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      ch->fds.erase(it);
    }
    return;
  }
  if (it == ch->fds.end()) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &e);
    ch->fds.emplace(fd, events);
  } else if (it->second != events) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &e);
    it->second = events;
  }
}

void engine::query_cb(void* arg, int status, int timeouts, unsigned char* abuf, int alen) {
  auto* pq = static_cast<pending_query*>(arg);
  auto* ch = static_cast<channel*>(pq->ch);
  raw_result raw;
  raw.status = status;
  raw.timeouts = timeouts;
  if (abuf != nullptr && alen > 0) raw.response.assign(reinterpret_cast<const char*>(abuf), static_cast<size_t>(alen));
  raw.servers = ch->servers;
  raw.tries = ch->tries;
  raw.timeout_ms = ch->timeout_ms;
  --ch->pending;
  auto done = std::move(pq->done);
  delete pq;
  if (done) done(std::move(raw));
}

void engine::drain_queue() {
  std::vector<request> work;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    work.swap(queue_);
  }
  for (auto& r : work) {
    if (r.install) {
      channels_.push_back(std::move(r.install));
      continue;
    }
    if (channels_.empty()) {
      raw_result raw;
      raw.status = ARES_ENOTINITIALIZED;
      r.done(std::move(raw));
      continue;
    }
    auto* ch = channels_.back().get();
    auto* pq = new pending_query{std::move(r.done), ch};
    ++ch->pending;
    ++sent_;
    ares_query(ch->ch, r.name.c_str(), 1 /* IN */, static_cast<int>(r.type), &engine::query_cb, pq);
  }
}

void engine::run() {
  epoll_event events[64];
  while (!stopping_) {
    int timeout = -1;
    for (auto& ch : channels_) {
      timeval tv{};
      if (ares_timeout(ch->ch, nullptr, &tv) != nullptr) {
        long long ms = static_cast<long long>(tv.tv_sec) * 1000 + (tv.tv_usec + 999) / 1000;
        if (ms > INT_MAX) ms = INT_MAX;
        if (timeout < 0 || ms < timeout) timeout = static_cast<int>(ms);
      }
    }
    int n = epoll_wait(epoll_fd_, events, 64, timeout);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == event_fd_) {
        uint64_t count;
        while (read(event_fd_, &count, sizeof count) > 0) {
        }
        drain_queue();
        continue;
      }
      for (auto& ch : channels_) {
        if (!ch->fds.count(fd)) continue;
        uint32_t ev = events[i].events;
        ares_socket_t r = (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD;
        ares_socket_t w = (ev & EPOLLOUT) ? fd : ARES_SOCKET_BAD;
        ares_process_fd(ch->ch, r, w);
        break;
      }
    }
    // Timeouts (and retries) of every channel.
    for (auto& ch : channels_) ares_process_fd(ch->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    // Retired channels go once their last query has finished.
    for (size_t i = 0; i + 1 < channels_.size();) {
      if (channels_[i]->pending == 0) {
        channels_.erase(channels_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
}

}  // namespace fedgw::dns
