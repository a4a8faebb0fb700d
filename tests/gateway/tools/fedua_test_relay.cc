// Gateway stand-in for the fedua tests: listens on 127.0.0.1:<ephemeral>,
// prints the port on stdout, and relays SIP messages unchanged between the
// first accepted connection (the hub, e.g. `fedua serve`) and the current
// second one (a fedua client). When the client leaves, the next accepted
// connection takes its place (connections accepted meanwhile wait, unread,
// in order); when the hub leaves, the relay exits. Hub messages while no
// client is connected are dropped.
//
// With --record-route it behaves like a record-routing proxy for dialogs:
// it adds "Record-Route: <sip:127.0.0.1:PORT;transport=tcp;lr>" to every
// out-of-dialog request, removes its own Route from in-dialog requests, and
// DROPS in-dialog requests that do not carry its Route (printing
// "relay: dropped ..." on stderr), so a UA that ignores the route set fails.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string>

#include "gateway/sip/framer.h"
#include "gateway/sip/message.h"

namespace {

namespace sip = fedgw::sip;

bool write_all(int fd, std::string_view data) {
  const char* p = data.data();
  size_t n = data.size();
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) {
      pollfd pf{fd, POLLOUT, 0};
      if (w < 0 && errno == EAGAIN && ::poll(&pf, 1, 1000) > 0) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

struct Relay;

// One side: frames what it reads and hands it to the relay.
struct Side : sip::StreamFramer::Callbacks {
  Relay* relay = nullptr;
  int fd = -1;
  bool is_hub = false;
  sip::StreamFramer framer{[] {
    sip::ParseOptions o;
    o.stream = true;
    return o;
  }()};
  void on_message(sip::Message&& m) override;
  void on_message_error(const sip::Error& e, std::string_view raw) override;
  void on_ping() override;
  void on_pong() override;
  void on_stream_error(const sip::Error& e) override {
    std::fprintf(stderr, "relay: stream error: %s\n", e.message.c_str());
  }
};

struct Relay {
  Side hub, client;
  bool record_route = false;
  std::string self;  // "127.0.0.1:PORT"

  void forward(Side& from, std::string_view data) {
    Side& to = from.is_hub ? client : hub;
    if (to.fd >= 0) write_all(to.fd, data);
  }
  bool is_self(const sip::NameAddr& route) const {
    std::string hp = std::string(route.uri.host) + ":" + std::to_string(route.uri.port);
    return hp == self;
  }
  void handle(Side& from, sip::Message& m) {
    if (record_route && m.is_request()) {
      auto routes = m.routes();
      bool via_us = routes && !routes->empty() && is_self(routes->front());
      if (m.to_tag()) {
        if (!via_us) {
          std::fprintf(stderr, "relay: dropped in-dialog %.*s without Route to %s\n",
                       static_cast<int>(m.method().size()), m.method().data(), self.c_str());
          return;
        }
        m.remove_top_route();
      } else {
        (void)m.prepend_record_route("<sip:" + self + ";transport=tcp;lr>");
      }
    }
    forward(from, m.serialize());
  }
};

void Side::on_message(sip::Message&& m) { relay->handle(*this, m); }
void Side::on_message_error(const sip::Error& e, std::string_view raw) {
  std::fprintf(stderr, "relay: invalid message forwarded: %s\n", e.message.c_str());
  relay->forward(*this, raw);
}
void Side::on_ping() { relay->forward(*this, sip::StreamFramer::kPing); }
void Side::on_pong() { relay->forward(*this, sip::StreamFramer::kPong); }

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  Relay relay;
  relay.hub.relay = relay.client.relay = &relay;
  relay.hub.is_hub = true;
  relay.record_route = argc > 1 && std::strcmp(argv[1], "--record-route") == 0;

  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 16) != 0) {
    std::perror("relay: bind/listen");
    return 1;
  }
  socklen_t len = sizeof a;
  ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len);
  relay.self = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  std::printf("%u\n", ntohs(a.sin_port));
  std::fflush(stdout);

  std::deque<int> waiting;
  char buf[65536];
  for (;;) {
    pollfd p[3] = {{ls, POLLIN, 0}, {relay.hub.fd, POLLIN, 0}, {relay.client.fd, POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) continue;
    if (p[0].revents & POLLIN) {
      int fd = ::accept(ls, nullptr, nullptr);
      if (fd >= 0) {
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (relay.hub.fd < 0) relay.hub.fd = fd;
        else if (relay.client.fd < 0) relay.client.fd = fd;
        else waiting.push_back(fd);  // one client at a time
      }
    }
    if (relay.hub.fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::recv(relay.hub.fd, buf, sizeof buf, 0);
      if (n <= 0) return 0;
      relay.hub.framer.feed(std::string_view(buf, static_cast<size_t>(n)), relay.hub);
    }
    if (relay.client.fd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = ::recv(relay.client.fd, buf, sizeof buf, 0);
      if (n <= 0) {
        ::close(relay.client.fd);
        relay.client.fd = -1;
        relay.client.framer = sip::StreamFramer(relay.client.framer.options());
        if (!waiting.empty()) {
          relay.client.fd = waiting.front();
          waiting.pop_front();
        }
      } else {
        relay.client.framer.feed(std::string_view(buf, static_cast<size_t>(n)), relay.client);
      }
    }
  }
}
