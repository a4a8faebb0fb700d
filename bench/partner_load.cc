// partner_load: many federation partner domains in one process, for the
// "many domains" benchmark (bench/scenarios/domains.sh).
//
// Each partner domain pN.<suffix> gets its own certificate (SAN DNS:pN.<suffix>,
// URI:sip:pN.<suffix>), issued in-process by one test CA key (all leaves share one
// EC P-256 key pair: issuing 10,000 certificates takes well under a second), and
// opens one mutual-TLS connection from its own loopback source address to the
// gateway's federation listener. A connection counts as set up once the TLS
// handshake is done and the gateway answered an OPTIONS with 200 (the gateway
// requires a first SIP message within limits.establish_timeout_s).
// Single thread, epoll, non-blocking sockets, SSL_MODE_RELEASE_BUFFERS.
//
// After set-up it prints one "established ..." line and then takes commands on
// stdin, one per line (so the caller can sample the gateway between phases):
//   go COUNT WINDOW SECONDS   closed loop: COUNT MESSAGEs, WINDOW outstanding, spread
//                             round robin over all partner connections; prints "result ..."
//   quit                      closes everything and exits
// Keep-alive pings (CRLFCRLF) from the gateway are answered (CRLF).
//
// --serve 1 (the outbound direction): instead of connecting, listen as every
// partner domain pN on its own loopback address (127.<100 + N / 62500>.x.y, the
// port of --target) with its own certificate, require and verify the gateway's
// client certificate, and answer every request 200 OK. Commands: stats, quit.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
double now_s() { return std::chrono::duration<double>(clock_type::now().time_since_epoch()).count(); }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "partner_load: %s\n", what.c_str());
  ERR_print_errors_fp(stderr);
  std::exit(2);
}

struct options {
  std::string target_ip = "127.0.1.1";
  int target_port = 5061;
  std::string server_name = "a.test";  // the gateway's domain: verified against its certificate
  std::string to_domain = "a.test";    // users of the gateway's domain
  std::string suffix = "test";         // partner domains are p<N>.<suffix>
  std::string issuer_cert, issuer_key, chain, trust;
  int domains = 100;
  int setup_concurrency = 128;
  double setup_timeout = 120;
  int src_second_octet = 100;  // partner i connects from 127.<100 + i / 62500>.x.y
  int max_seconds = 1800;      // hard bound on the whole run
  bool serve = false;          // --serve: listen as the N partner domains instead of connecting
};

enum class state { connecting, handshake, options_sent, established, closed, listening };

struct conn {
  int fd = -1;
  SSL* ssl = nullptr;
  state st = state::connecting;
  std::string in, out;
  bool want_out = false;
  double started = 0;
  bool server = false;  // accepted by a --serve listener
  int domain = 0;       // the partner domain index
};

struct load {
  options o;
  SSL_CTX* ctx = nullptr;
  EVP_PKEY* leaf_key = nullptr;
  std::vector<X509*> certs;
  std::vector<conn> conns;
  std::vector<int> established;  // indexes of established connections
  int ep = -1;
  int next_setup = 0, in_setup = 0, failed = 0, closed_later = 0;
  double setup_first = 0, setup_last = 0;
  // traffic
  std::vector<double> sent_at;
  std::vector<double> latencies;
  std::map<int, long> codes;
  long total = 0, sent = 0, answered = 0, ok = 0, window = 0, outstanding = 0;
  long requests_received = 0, pings = 0;
  bool running = false;
  SSL_CTX* server_ctx = nullptr;
  long accepted = 0, served = 0;
};

std::string domain_of(const options& o, int i) { return "p" + std::to_string(i) + "." + o.suffix; }

// Partner i's loopback address: 127.<src_second_octet + i / 62500>.<(i % 62500) / 250>.<i % 250 + 1>.
uint32_t partner_address(const options& o, int i) {
  return (127u << 24) | (static_cast<uint32_t>(o.src_second_octet + i / 62500) << 16) |
         (static_cast<uint32_t>((i % 62500) / 250) << 8) | static_cast<uint32_t>(i % 250 + 1);
}

X509* make_cert(const std::string& domain, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, long serial) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("fedgw bench"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(domain.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(x, X509_get_subject_name(issuer));
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer, x, nullptr, nullptr, 0);
  std::string san = "DNS:" + domain + ",URI:sip:" + domain;
  const std::pair<int, std::string> exts[] = {{NID_basic_constraints, "CA:FALSE"},
                                              {NID_key_usage, "critical,digitalSignature"},
                                              {NID_ext_key_usage, "serverAuth,clientAuth"},
                                              {NID_subject_alt_name, san}};
  for (const auto& [nid, value] : exts) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (!e) die("extension " + value);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
  if (!X509_sign(x, issuer_key, EVP_sha256())) die("signing " + domain);
  return x;
}

template <class T>
T* read_pem(const std::string& path, T* (*reader)(FILE*, T**, pem_password_cb*, void*)) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) die("cannot open " + path);
  T* v = reader(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!v) die("cannot read " + path);
  return v;
}

void set_events(load& L, int i) {
  conn& c = L.conns[i];
  epoll_event ev{};
  ev.events = EPOLLIN | (c.want_out ? uint32_t{EPOLLOUT} : 0u);
  ev.data.u32 = static_cast<uint32_t>(i);
  epoll_ctl(L.ep, EPOLL_CTL_MOD, c.fd, &ev);
}

void close_conn(load& L, int i, const char* why) {
  conn& c = L.conns[i];
  if (c.st == state::closed) return;
  bool was_setup = c.st != state::established;
  if (c.server) {
    ++L.closed_later;
  } else if (was_setup) {
    ++L.failed;
    --L.in_setup;
    if (L.failed <= 5) std::fprintf(stderr, "partner_load: %s: set-up failed: %s\n", domain_of(L.o, i).c_str(), why);
  } else {
    ++L.closed_later;
    if (L.closed_later <= 5) std::fprintf(stderr, "partner_load: %s: closed: %s\n", domain_of(L.o, i).c_str(), why);
    L.established.erase(std::remove(L.established.begin(), L.established.end(), i), L.established.end());
  }
  if (c.ssl) SSL_free(c.ssl);
  c.ssl = nullptr;
  epoll_ctl(L.ep, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  c.fd = -1;
  c.st = state::closed;
  std::string().swap(c.in);
  std::string().swap(c.out);
}

void flush(load& L, int i) {
  conn& c = L.conns[i];
  while (!c.out.empty()) {
    int n = SSL_write(c.ssl, c.out.data(), static_cast<int>(c.out.size()));
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    int err = SSL_get_error(c.ssl, n);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      if (!c.want_out) {
        c.want_out = true;
        set_events(L, i);
      }
      return;
    }
    close_conn(L, i, "write failed");
    return;
  }
  if (c.want_out) {
    c.want_out = false;
    set_events(L, i);
  }
}

void send_text(load& L, int i, const std::string& text) {
  L.conns[i].out += text;
  flush(L, i);
}

void send_options(load& L, int i) {
  std::string d = domain_of(L.o, i), id = std::to_string(i);
  send_text(L, i,
            "OPTIONS sip:" + L.o.to_domain + " SIP/2.0\r\nVia: SIP/2.0/TLS " + d + ";branch=z9hG4bKplo" + id +
              ";alias\r\nMax-Forwards: 70\r\nFrom: <sip:bench@" + d + ">;tag=o" + id + "\r\nTo: <sip:" +
              L.o.to_domain + ">\r\nCall-ID: o" + id + "@" + d +
              "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
}

void send_message(load& L) {
  long id = L.sent++;
  int i = L.established[static_cast<size_t>(id) % L.established.size()];
  std::string d = domain_of(L.o, i), n = std::to_string(id);
  L.sent_at[static_cast<size_t>(id)] = now_s();
  ++L.outstanding;
  send_text(L, i,
            "MESSAGE sip:user" + std::to_string(i % 1000) + "@" + L.o.to_domain + " SIP/2.0\r\nVia: SIP/2.0/TLS " + d +
              ";branch=z9hG4bKplm" + n + ";alias\r\nMax-Forwards: 70\r\nFrom: <sip:user" + std::to_string(id % 100) +
              "@" + d + ">;tag=m" + n + "\r\nTo: <sip:user" + std::to_string(i % 1000) + "@" + L.o.to_domain +
              ">\r\nCall-ID: m" + n + "@" + d +
              "\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello partner");
}

void established(load& L, int i) {
  conn& c = L.conns[i];
  c.st = state::established;
  --L.in_setup;
  L.established.push_back(i);
  L.setup_last = now_s();
}

// Case-insensitive search for a header line's value start ("\r\nName:").
size_t find_header(const std::string& head, const char* name) {
  std::string needle = std::string("\r\n") + name + ":";
  auto it = std::search(head.begin(), head.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  return it == head.end() ? std::string::npos : static_cast<size_t>(it - head.begin()) + needle.size();
}

// 200 OK to a request: its Via, From, To (with a tag), Call-ID and CSeq.
void answer_200(load& L, int i, const std::string& head) {
  if (head.compare(0, 4, "ACK ") == 0) return;
  std::string r = "SIP/2.0 200 OK\r\n";
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos + 2 < head.size()) {
    size_t next = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, (next == std::string::npos ? head.size() : next) - pos - 2);
    pos = next;
    std::string name = line.substr(0, line.find(':'));
    while (!name.empty() && name.back() == ' ') name.pop_back();
    for (auto& ch : name) ch = static_cast<char>(std::tolower(ch));
    if (name == "via" || name == "v" || name == "from" || name == "f" || name == "call-id" || name == "i" ||
        name == "cseq")
      r += line + "\r\n";
    else if (name == "to" || name == "t")
      r += line + (line.find("tag=") == std::string::npos ? ";tag=pl" + std::to_string(i) : "") + "\r\n";
  }
  r += "Content-Length: 0\r\n\r\n";
  ++L.served;
  send_text(L, i, r);
}

void on_message(load& L, int i, const std::string& head) {
  if (head.compare(0, 8, "SIP/2.0 ") != 0) {
    ++L.requests_received;  // only the --serve side expects requests
    if (L.o.serve) answer_200(L, i, head);
    return;
  }
  int code = std::atoi(head.c_str() + 8);
  if (code < 200) return;
  size_t b = head.find("branch=z9hG4bKpl");
  if (b == std::string::npos) return;
  char kind = head[b + 16];
  long id = std::atol(head.c_str() + b + 17);
  if (kind == 'o') {
    if (L.conns[i].st == state::options_sent) {
      if (code == 200)
        established(L, i);
      else {
        std::string why = "OPTIONS answered " + std::to_string(code);
        close_conn(L, i, why.c_str());
      }
    }
    return;
  }
  if (kind != 'm' || id < 0 || id >= L.total || L.sent_at[static_cast<size_t>(id)] <= 0) return;
  L.latencies.push_back(now_s() - L.sent_at[static_cast<size_t>(id)]);
  L.sent_at[static_cast<size_t>(id)] = -1;  // answered (a second final response is not counted)
  --L.outstanding;
  ++L.answered;
  if (code / 100 == 2)
    ++L.ok;
  else
    ++L.codes[code];
}

void parse_input(load& L, int i) {
  conn& c = L.conns[i];
  size_t pos = 0;
  for (;;) {
    if (c.st == state::closed) return;
    // keep-alive: CRLFCRLF ping -> CRLF pong; a lone CRLF is a pong
    if (c.in.compare(pos, 4, "\r\n\r\n") == 0) {
      ++L.pings;
      pos += 4;
      send_text(L, i, "\r\n");
      continue;
    }
    if (c.in.size() - pos >= 3 && c.in.compare(pos, 2, "\r\n") == 0) {
      pos += 2;
      continue;
    }
    size_t end = c.in.find("\r\n\r\n", pos);
    if (end == std::string::npos) break;
    std::string head = c.in.substr(pos, end + 2 - pos);
    size_t body = 0, h = find_header(head, "content-length");
    if (h == std::string::npos) h = find_header(head, "l");
    if (h != std::string::npos) body = std::strtoul(head.c_str() + h, nullptr, 10);
    if (c.in.size() < end + 4 + body) break;
    pos = end + 4 + body;
    on_message(L, i, head);
  }
  if (c.st != state::closed) c.in.erase(0, pos);
}

void on_readable(load& L, int i) {
  conn& c = L.conns[i];
  char buf[16384];
  for (;;) {
    int n = SSL_read(c.ssl, buf, sizeof buf);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      continue;
    }
    int err = SSL_get_error(c.ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
    parse_input(L, i);
    close_conn(L, i, err == SSL_ERROR_ZERO_RETURN ? "closed by the gateway" : "read failed");
    return;
  }
  parse_input(L, i);
}

void drive_handshake(load& L, int i) {
  conn& c = L.conns[i];
  int r = SSL_do_handshake(c.ssl);
  if (r == 1 && c.server) {
    c.st = state::established;
    c.want_out = false;
    set_events(L, i);
    on_readable(L, i);
    return;
  }
  if (r == 1) {
    c.st = state::options_sent;
    c.want_out = false;
    set_events(L, i);
    send_options(L, i);
    return;
  }
  int err = SSL_get_error(c.ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    bool out = err == SSL_ERROR_WANT_WRITE;
    if (out != c.want_out) {
      c.want_out = out;
      set_events(L, i);
    }
    return;
  }
  unsigned long e = ERR_peek_last_error();
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  ERR_clear_error();
  close_conn(L, i, text);
}

void start_setup(load& L, int i) {
  conn& c = L.conns[i];
  c.started = now_s();
  if (L.setup_first == 0) L.setup_first = c.started;
  ++L.in_setup;
  c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) die("socket: " + std::string(std::strerror(errno)));
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(partner_address(L.o, i));
  if (bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) die("bind: " + std::string(std::strerror(errno)));
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(L.o.target_port));
  inet_pton(AF_INET, L.o.target_ip.c_str(), &dst.sin_addr);
  c.st = state::connecting;
  c.want_out = true;
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u32 = static_cast<uint32_t>(i);
  epoll_ctl(L.ep, EPOLL_CTL_ADD, c.fd, &ev);
  if (connect(c.fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS)
    close_conn(L, i, std::strerror(errno));
}

void on_connected(load& L, int i) {
  conn& c = L.conns[i];
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return close_conn(L, i, std::strerror(err));
  c.ssl = SSL_new(L.ctx);
  SSL_set_fd(c.ssl, c.fd);
  SSL_set_connect_state(c.ssl);
  SSL_set_tlsext_host_name(c.ssl, L.o.server_name.c_str());
  SSL_set1_host(c.ssl, L.o.server_name.c_str());
  SSL_use_certificate(c.ssl, L.certs[static_cast<size_t>(i)]);
  SSL_use_PrivateKey(c.ssl, L.leaf_key);
  c.st = state::handshake;
  drive_handshake(L, i);
}

void drive_handshake(load& L, int i);
void on_readable(load& L, int i);

// --serve: accept on listener i (partner domain i); the connection presents domain i's certificate.
void on_accept(load& L, int i) {
  for (;;) {
    int fd = accept4(L.conns[i].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (L.conns.size() == L.conns.capacity()) {  // never reallocate under references
      close(fd);
      std::fprintf(stderr, "partner_load: too many accepted connections\n");
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++L.accepted;
    L.conns.emplace_back();
    int k = static_cast<int>(L.conns.size() - 1);
    conn& c = L.conns.back();
    c.fd = fd;
    c.server = true;
    c.domain = i;
    c.st = state::handshake;
    c.ssl = SSL_new(L.server_ctx);
    SSL_set_fd(c.ssl, fd);
    SSL_set_accept_state(c.ssl);
    SSL_use_certificate(c.ssl, L.certs[static_cast<size_t>(i)]);
    SSL_use_PrivateKey(c.ssl, L.leaf_key);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(k);
    epoll_ctl(L.ep, EPOLL_CTL_ADD, fd, &ev);
    drive_handshake(L, k);
  }
}

void on_event(load& L, int i, uint32_t events) {
  conn& c = L.conns[i];
  switch (c.st) {
    case state::connecting:
      on_connected(L, i);
      break;
    case state::handshake:
      drive_handshake(L, i);
      break;
    case state::options_sent:
    case state::established:
      if (events & EPOLLOUT) flush(L, i);
      if (c.st != state::closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(L, i);
      break;
    case state::listening:
      on_accept(L, i);
      break;
    case state::closed:
      break;
  }
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

// One epoll round (at most `timeout_ms`); returns false when stdin closed.
bool poll_once(load& L, int timeout_ms, std::string& stdin_buf, std::vector<std::string>& commands) {
  epoll_event events[512];
  int n = epoll_wait(L.ep, events, 512, timeout_ms);
  bool open = true;
  for (int k = 0; k < n; ++k) {
    uint32_t i = events[k].data.u32;
    if (i == UINT32_MAX) {
      char buf[4096];
      ssize_t r = read(0, buf, sizeof buf);
      if (r <= 0) {
        open = false;
        epoll_ctl(L.ep, EPOLL_CTL_DEL, 0, nullptr);
        continue;
      }
      stdin_buf.append(buf, static_cast<size_t>(r));
      size_t nl;
      while ((nl = stdin_buf.find('\n')) != std::string::npos) {
        commands.push_back(stdin_buf.substr(0, nl));
        stdin_buf.erase(0, nl + 1);
      }
      continue;
    }
    on_event(L, static_cast<int>(i), events[k].events);
  }
  return open;
}

void run_traffic(load& L, long count, long window, double seconds, std::string& stdin_buf,
                 std::vector<std::string>& commands) {
  if (L.established.empty()) {
    std::printf("result sent=0 answered=0 ok=0 unanswered=0 secs=0 msg_s=0 error=no-connections\n");
    std::fflush(stdout);
    return;
  }
  L.total = count;
  L.sent = L.answered = L.ok = L.outstanding = 0;
  L.codes.clear();
  L.latencies.clear();
  L.latencies.reserve(static_cast<size_t>(count));
  L.sent_at.assign(static_cast<size_t>(count), 0);
  L.window = window;
  double start = now_s(), deadline = start + seconds;
  while (L.answered < count && now_s() < deadline && !L.established.empty()) {
    while (L.sent < count && L.outstanding < window && !L.established.empty()) send_message(L);
    poll_once(L, 5, stdin_buf, commands);
  }
  double secs = now_s() - start;
  long unanswered = L.sent - L.answered;
  std::string codes;
  for (auto& [code, n] : L.codes) codes += (codes.empty() ? "" : ",") + std::to_string(code) + ":" + std::to_string(n);
  std::printf("result sent=%ld answered=%ld ok=%ld non2xx=%ld unanswered=%ld secs=%.3f msg_s=%.1f p50_ms=%.2f "
              "p99_ms=%.2f codes=%s connections=%zu\n",
              L.sent, L.answered, L.ok, L.answered - L.ok, unanswered, secs, static_cast<double>(L.answered) / secs,
              percentile(L.latencies, 0.5) * 1000, percentile(L.latencies, 0.99) * 1000,
              codes.empty() ? "-" : codes.c_str(), L.established.size());
  std::fflush(stdout);
  L.total = 0;
}

void usage() {
  std::fprintf(stderr,
               "usage: partner_load --issuer-cert PEM --issuer-key PEM --chain PEM --trust PEM [--target IP:PORT]\n"
               "  [--server-name a.test] [--to-domain a.test] [--suffix test] [--domains N] [--setup-concurrency C]\n"
               "  [--setup-timeout S] [--src-octet 100] [--max-seconds S]\n"
               "then on stdin: 'go COUNT WINDOW SECONDS' ... 'quit'\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  load L;
  options& o = L.o;
  for (int k = 1; k < argc; ++k) {
    std::string a = argv[k];
    if (k + 1 >= argc) usage();
    std::string v = argv[++k];
    if (a == "--issuer-cert") o.issuer_cert = v;
    else if (a == "--issuer-key") o.issuer_key = v;
    else if (a == "--chain") o.chain = v;
    else if (a == "--trust") o.trust = v;
    else if (a == "--target") {
      auto colon = v.rfind(':');
      o.target_ip = v.substr(0, colon);
      o.target_port = std::atoi(v.c_str() + colon + 1);
    } else if (a == "--server-name") o.server_name = v;
    else if (a == "--to-domain") o.to_domain = v;
    else if (a == "--suffix") o.suffix = v;
    else if (a == "--domains") o.domains = std::atoi(v.c_str());
    else if (a == "--setup-concurrency") o.setup_concurrency = std::max(1, std::atoi(v.c_str()));
    else if (a == "--setup-timeout") o.setup_timeout = std::atof(v.c_str());
    else if (a == "--src-octet") o.src_second_octet = std::atoi(v.c_str());
    else if (a == "--max-seconds") o.max_seconds = std::atoi(v.c_str());
    else if (a == "--serve") o.serve = v == "1";
    else usage();
  }
  if (o.issuer_cert.empty() || o.issuer_key.empty() || o.trust.empty() || o.domains < 1) usage();
  signal(SIGPIPE, SIG_IGN);
  alarm(static_cast<unsigned>(o.max_seconds));  // hard bound: SIGALRM ends the process

  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(o.domains) + 64)
    die("open-file limit " + std::to_string(rl.rlim_cur) + " is below --domains + 64 (raise ulimit -n)");

  X509* issuer = read_pem<X509>(o.issuer_cert, PEM_read_X509);
  EVP_PKEY* issuer_key = read_pem<EVP_PKEY>(o.issuer_key, PEM_read_PrivateKey);
  L.leaf_key = EVP_EC_gen("P-256");
  if (!L.leaf_key) die("key generation");
  double t0 = now_s();
  L.certs.reserve(static_cast<size_t>(o.domains));
  for (int i = 0; i < o.domains; ++i) L.certs.push_back(make_cert(domain_of(o, i), L.leaf_key, issuer, issuer_key, 1000 + i));
  double cert_s = now_s() - t0;

  L.ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(L.ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(L.ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(L.ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_load_verify_locations(L.ctx, o.trust.c_str(), nullptr) != 1) die("trust " + o.trust);
  SSL_CTX_set_verify(L.ctx, SSL_VERIFY_PEER, nullptr);
  if (!o.chain.empty()) {
    FILE* f = std::fopen(o.chain.c_str(), "r");
    if (!f) die("cannot open " + o.chain);
    while (X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr)) SSL_CTX_add_extra_chain_cert(L.ctx, x);
    ERR_clear_error();
    std::fclose(f);
  }

  L.ep = epoll_create1(EPOLL_CLOEXEC);
  L.conns.resize(static_cast<size_t>(o.domains));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = UINT32_MAX;
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  bool stdin_open = epoll_ctl(L.ep, EPOLL_CTL_ADD, 0, &ev) == 0;
  std::string stdin_buf;
  std::vector<std::string> commands;

  if (o.serve) {
    // Listen as every partner domain: p<i> on its own address, port --target's, its own certificate.
    L.server_ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(L.server_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(L.server_ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                       SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(L.server_ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(L.server_ctx, 0);
    if (SSL_CTX_load_verify_locations(L.server_ctx, o.trust.c_str(), nullptr) != 1) die("trust " + o.trust);
    SSL_CTX_set_verify(L.server_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    if (!o.chain.empty()) {
      FILE* f = std::fopen(o.chain.c_str(), "r");
      if (!f) die("cannot open " + o.chain);
      while (X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr)) SSL_CTX_add_extra_chain_cert(L.server_ctx, x);
      ERR_clear_error();
      std::fclose(f);
    }
    L.conns.reserve(static_cast<size_t>(o.domains) * 4 + 16);
    for (int i = 0; i < o.domains; ++i) {
      conn& c = L.conns[static_cast<size_t>(i)];
      c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      int one = 1;
      setsockopt(c.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(o.target_port));
      a.sin_addr.s_addr = htonl(partner_address(o, i));
      if (bind(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(c.fd, 64) != 0)
        die("listen for " + domain_of(o, i) + ": " + std::strerror(errno));
      c.st = state::listening;
      c.domain = i;
      epoll_event lev{};
      lev.events = EPOLLIN;
      lev.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(L.ep, EPOLL_CTL_ADD, c.fd, &lev);
    }
    std::printf("listening n=%d cert_gen_s=%.3f\n", o.domains, cert_s);
    std::fflush(stdout);
    L.next_setup = o.domains;  // nothing to connect
  }

  // Set-up: at most setup_concurrency connections in progress at once.
  double setup_deadline = now_s() + o.setup_timeout;
  while ((L.next_setup < o.domains || L.in_setup > 0) && now_s() < setup_deadline) {
    while (L.next_setup < o.domains && L.in_setup < o.setup_concurrency) start_setup(L, L.next_setup++);
    stdin_open = poll_once(L, 10, stdin_buf, commands) && stdin_open;
  }
  double setup_s = L.setup_last > L.setup_first ? L.setup_last - L.setup_first : 0;
  int pending = L.in_setup;
  for (int i = 0; i < o.domains; ++i)
    if (!o.serve && L.conns[static_cast<size_t>(i)].st != state::established &&
        L.conns[static_cast<size_t>(i)].st != state::closed)
      close_conn(L, i, "set-up timed out");
  std::printf("established n=%zu failed=%d timed_out=%d setup_s=%.3f setup_per_s=%.1f cert_gen_s=%.3f\n",
              L.established.size(), L.failed - pending, pending, setup_s,
              setup_s > 0 ? static_cast<double>(L.established.size()) / setup_s : 0.0, cert_s);
  std::fflush(stdout);

  // Commands.
  for (;;) {
    while (!commands.empty()) {
      std::string cmd = commands.front();
      commands.erase(commands.begin());
      if (cmd.rfind("go ", 0) == 0) {
        long count = 0, window = 0;
        double seconds = 0;
        if (std::sscanf(cmd.c_str() + 3, "%ld %ld %lf", &count, &window, &seconds) == 3 && count > 0 && window > 0)
          run_traffic(L, count, window, seconds, stdin_buf, commands);
        else
          std::printf("error bad command: %s\n", cmd.c_str());
      } else if (cmd == "stats") {
        std::printf("stats connections=%zu closed=%d pings=%ld requests_received=%ld accepted=%ld served=%ld\n",
                    L.established.size(), L.closed_later, L.pings, L.requests_received, L.accepted, L.served);
      } else if (cmd == "quit") {
        std::printf("stats connections=%zu closed=%d pings=%ld requests_received=%ld accepted=%ld served=%ld\n",
                    L.established.size(), L.closed_later, L.pings, L.requests_received, L.accepted, L.served);
        std::fflush(stdout);
        return 0;
      }
      std::fflush(stdout);
    }
    if (!stdin_open) return 0;
    stdin_open = poll_once(L, 100, stdin_buf, commands);
  }
}
