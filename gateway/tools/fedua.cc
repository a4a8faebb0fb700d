// fedua: a small SIP user agent that plays a company's internal UC server
// towards a fedgw internal listener (demo, integration tests, benchmarks).
// See `fedua --help` and gateway/tools/ua.h.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gateway/sip/response.h"
#include "gateway/tools/ua.h"

namespace {

namespace sip = fedgw::sip;
using namespace fedgw::tools;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConnect = 3;

constexpr const char* kAllow =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, INFO, SUBSCRIBE, NOTIFY, PUBLISH";
constexpr uint32_t kMaxExpires = 3600;
constexpr uint64_t kMaxLoadCount = 10'000'000;

constexpr const char* kHelp = R"(usage: fedua --gateway IP:PORT --domain DOMAIN [OPTIONS] COMMAND [ARGS...]

A small SIP user agent that plays a company's internal UC server towards a
fedgw internal listener: one plain TCP connection to the gateway, requests
for its users sent on it and requests for them received on it.

Commands:
  send TO TEXT...         MESSAGE (text/plain) from USER@DOMAIN to TO; waits for
                          the final response
  chat TO TEXT...         Microsoft-style IM session: INVITE (SDP m=message),
                          ACK, MESSAGE inside the dialog, BYE
  subscribe TO [SECONDS]  SUBSCRIBE (Event: presence), prints every NOTIFY for
                          SECONDS (default 5; SIGINT/SIGTERM end it early),
                          then unsubscribes (Expires: 0)
  publish STATUS [NOTE...]  PUBLISH a PIDF document (STATUS open|closed) for
                          USER@DOMAIN; `fedua serve` takes it as that entity's
                          presence and notifies its subscribers
  options TARGET          OPTIONS to TARGET (a domain or URI); prints the final
                          response and its Allow/Accept/Supported/Server headers
  serve [SECONDS]         plays the UC server of DOMAIN until SECONDS elapsed
                          (default: forever) or SIGTERM/SIGINT: MESSAGE 200
                          (printed); SUBSCRIBE 200 + NOTIFY (PIDF of the
                          request's To); INVITE 200 with SDP, ACK, BYE, CANCEL,
                          OPTIONS, INFO, PUBLISH answered; 404 for other methods
  load TO COUNT [RATE]    COUNT MESSAGEs (at most 10000000) to TO, RATE/s paced
                          by --arrivals (without a RATE: as fast as the window
                          allows) with at most --window outstanding; prints
                          sent, final responses by class and code, timeouts,
                          latency median/p90/p99, elapsed time and achieved
                          messages/s; TO may be a comma-separated list, used
                          in turn (one per MESSAGE)

TO is sip:user@host, sips:user@host or user@host; TARGET may also be a bare
host. TEXT and NOTE are the remaining arguments joined by spaces (use -- to
pass text starting with "--").

Options:
  --gateway IP:PORT       the gateway's internal listener (required; [v6]:port)
  --domain DOMAIN         this side's domain (required)
  --user USER             this side's user (default: fedua)
  --name "NAME"           display name in From
  --timeout SECONDS       wait for each final response (default 10); for load
                          the cap on the whole run (default 60)
  --presence open|closed  serve: initial presence of every entity (default open)
  --note TEXT             serve: presence note (default Available / Offline)
  --change-after SECONDS  serve: then flip every entity's presence and NOTIFY
                          every active subscriber
  --change-note TEXT      serve: note after the change (default Available / Offline)
  --users U1,U2,...       serve: only these users exist; other users get 404
  --expires SECONDS       Expires of subscribe (default 600; 0 = fetch: one
                          NOTIFY, no unsubscribe) and publish (3600)
  --window N              load: outstanding requests (default 64)
  --arrivals even|poisson load with RATE: one request every 1/RATE s (even, the
                          default) or random gaps of mean 1/RATE s, the arrivals
                          of many independent users (poisson; a fixed seed, so
                          every run sends on the same schedule)
  -q, --quiet             serve: print only the summary, not every request
  -v, --verbose           print every message sent and received on stderr
  -h, --help              this text

Output: one line per event on stdout, each starting with "fedua: ", e.g.
  fedua: sent MESSAGE to sip:bob@b.test -> 200 OK (1.23 ms)
  fedua: received MESSAGE from sip:alice@a.test: hello bob
  fedua: SUBSCRIBE sip:bob@b.test -> 200 OK (0.91 ms)
  fedua: NOTIFY from sip:bob@b.test: basic=open note="Available" state=active;expires=600
  fedua: load: sent 1000, 2xx 1000, 3xx 0, 4xx 0, 5xx 0, 6xx 0, timeouts 0, median 1.20 ms, ...

Exit status: 0 the command's goal was reached (send/chat/options/publish: 2xx;
subscribe: at least one NOTIFY; load: a final response for every request;
serve: ran until the end), 1 it was not (the reason is printed), 2 usage
error, 3 cannot connect to the gateway.
)";

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

void say(const std::string& line) {
  std::string s = "fedua: " + line + "\n";
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

struct UsageError {
  std::string message;
};

struct Args {
  std::string gateway;
  std::string domain;
  std::string user = "fedua";
  std::string name;
  std::optional<double> timeout;
  std::string presence = "open";
  std::optional<std::string> note;
  std::optional<double> change_after;
  std::optional<std::string> change_note;
  std::vector<std::string> users;
  std::optional<uint32_t> expires;
  size_t window = 64;
  std::optional<ArrivalSchedule::Kind> arrivals;
  bool quiet = false;
  bool verbose = false;
  bool help = false;
  std::vector<std::string> positional;  // COMMAND ARGS...
};

double parse_seconds(const std::string& text, const std::string& what, bool allow_zero) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !(v >= 0) || v > 1e6 ||
      (!allow_zero && v == 0))
    throw UsageError{what + ": \"" + text + "\" is not a number of seconds" +
                     (allow_zero ? "" : " > 0")};
  return v;
}

uint64_t parse_count(const std::string& text, const std::string& what, uint64_t max,
                     uint64_t min = 1) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || *end != '\0' || errno != 0 || v < min || v > max)
    throw UsageError{what + ": \"" + text + "\" is not a number from " + std::to_string(min) +
                     " to " + std::to_string(max)};
  return v;
}

Args parse_args(int argc, char** argv) {
  Args a;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (options_done || arg.size() < 2 || arg[0] != '-' || (arg[1] != '-' && arg.size() != 2)) {
      a.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") { a.help = true; continue; }
    if (arg == "-v" || arg == "--verbose") { a.verbose = true; continue; }
    if (arg == "-q" || arg == "--quiet") { a.quiet = true; continue; }
    std::string name = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    static const std::set<std::string> kValued = {
        "--gateway", "--domain", "--user", "--name", "--timeout", "--presence", "--note",
        "--change-after", "--change-note", "--users", "--expires", "--window",
        "--arrivals"};
    if (!kValued.count(name)) throw UsageError{"unknown option " + name};
    if (!has_value) {
      if (i + 1 >= argc) throw UsageError{name + " needs a value"};
      value = argv[++i];
    }
    if (name == "--gateway") a.gateway = value;
    else if (name == "--domain") a.domain = value;
    else if (name == "--user") a.user = value;
    else if (name == "--name") a.name = value;
    else if (name == "--timeout") a.timeout = parse_seconds(value, name, false);
    else if (name == "--presence") a.presence = value;
    else if (name == "--note") a.note = value;
    else if (name == "--change-after") a.change_after = parse_seconds(value, name, true);
    else if (name == "--change-note") a.change_note = value;
    else if (name == "--expires")
      a.expires = static_cast<uint32_t>(parse_count(value, name, 86400 * 7, 0));
    else if (name == "--window") a.window = parse_count(value, name, 100000);
    else if (name == "--arrivals") {
      if (value == "even") a.arrivals = ArrivalSchedule::Kind::kEven;
      else if (value == "poisson") a.arrivals = ArrivalSchedule::Kind::kPoisson;
      else throw UsageError{"--arrivals: \"" + value + "\" is not even or poisson"};
    }
    else if (name == "--users") {
      size_t pos = 0;
      while (pos <= value.size()) {
        size_t comma = value.find(',', pos);
        std::string u = value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (!u.empty()) a.users.push_back(u);
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    }
  }
  return a;
}

std::string join(const std::vector<std::string>& v, size_t from) {
  std::string s;
  for (size_t i = from; i < v.size(); ++i) {
    if (i > from) s += ' ';
    s += v[i];
  }
  return s;
}

std::string tag_of(const std::string& header_value) {
  auto na = sip::parse_name_addr(header_value);
  if (!na || !na->tag()) return "";
  return std::string(*na->tag());
}

// "sip:user@host" of a header's URI (no params), for entity keys.
std::string entity_of(const sip::NameAddr& na) {
  if (!na.uri.is_sip()) return std::string(na.uri_text);
  std::string s(na.uri.scheme == sip::Scheme::kSips ? "sips:" : "sip:");
  if (!na.uri.user.empty()) s.append(na.uri.user).append("@");
  return s.append(na.uri.host);
}

std::string first_token(std::string_view v) {
  size_t end = v.find_first_of("; \t");
  return std::string(v.substr(0, end));
}

Clock::time_point after(double seconds) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// ---- the UC server side ------------------------------------------------------

// Answers inbound requests (all commands; `serve` is nothing else) and keeps
// presence subscriptions and IM sessions.
class Server {
 public:
  Server(UserAgent& ua, const Args& a, double timeout) : ua_(ua), args_(a), timeout_(timeout) {
    default_.basic = a.presence;
    default_.note = a.note.value_or(default_note(a.presence));
    if (a.change_after) change_at_ = after(*a.change_after);
  }

  void handle(sip::Message&& m);
  // Presence change (--change-after) and subscription expiry.
  void tick(Clock::time_point now);
  std::optional<Clock::time_point> next_timer() const;
  // NOTIFY terminated to every subscriber (end of serve).
  void terminate_all();
  size_t subscriptions() const { return subs_.size(); }
  std::string summary() const;

 private:
  struct Subscription {
    std::string key;
    Dialog dialog;
    std::string entity;
    std::string contact_user;
    std::string event;
    Clock::time_point expires_at;
  };

  void log(const std::string& line) {
    if (!args_.quiet) say(line);
  }
  void answer(const sip::Message& m, int code, const char* reason, const HeaderList& h = {},
              std::string_view ctype = {}, std::string_view body = {},
              std::string_view to_tag = {}, const std::string& detail = "") {
    ua_.respond(m, code, reason, h, ctype, body, to_tag);
    log("received " + std::string(m.method()) + " from " + std::string(m.from().uri_text) +
        detail + " -> " + std::to_string(code) + " " + reason);
  }
  Presence presence_of(const std::string& entity) const {
    auto it = presence_.find(entity);
    Presence p = it == presence_.end() ? default_ : it->second;
    p.entity = entity;
    return p;
  }
  std::string contact(const std::string& user) const {
    return "<sip:" + (user.empty() ? args_.user : user) + "@" + ua_.sent_by() + ";transport=tcp>";
  }
  void notify(Subscription& s, const std::string& state);
  void on_subscribe(const sip::Message& m);
  void on_invite(const sip::Message& m);
  void on_publish(const sip::Message& m);

  UserAgent& ua_;
  const Args& args_;
  double timeout_;
  Presence default_;
  std::map<std::string, Presence> presence_;  // by entity, from PUBLISH
  std::map<std::string, Subscription> subs_;  // by Call-ID + '\n' + our tag
  std::set<std::string> calls_;               // IM sessions, same key
  std::map<std::string, uint64_t> received_;  // requests by method
  uint64_t notifies_sent_ = 0;
  std::optional<Clock::time_point> change_at_;
};

void Server::handle(sip::Message&& m) {
  std::string method(m.method());
  ++received_[method];
  auto to_tag = m.to_tag();
  std::string key = std::string(m.call_id()) + "\n" + std::string(to_tag.value_or(""));
  if (method == "ACK") {
    log("received ACK from " + std::string(m.from().uri_text));
    return;
  }
  // RFC 3261 §8.2.2.3: no extension is supported.
  auto unsupported = sip::unsupported_option_tags(m, sip::HeaderId::kRequire, {});
  if (!unsupported.empty()) {
    std::string list;
    for (const auto& t : unsupported) list += (list.empty() ? "" : ", ") + t;
    answer(m, 420, "Bad Extension", {{"Unsupported", list}});
    return;
  }
  // Out-of-dialog requests for users that do not exist.
  if (!to_tag && !args_.users.empty() && method != "CANCEL") {
    auto ruri = m.parse_request_uri();
    if (ruri && !ruri->user.empty()) {
      std::string user = ruri->user_decoded();
      bool known = false;
      for (const auto& u : args_.users) known = known || u == user;
      if (!known) {
        answer(m, 404, "Not Found", {}, {}, {}, {}, " for " + std::string(m.request_uri()));
        return;
      }
    }
  }
  if (method == "MESSAGE") {
    ua_.respond(m, 200, "OK");
    std::string ctype(m.get(sip::HeaderId::kContentType).value_or(""));
    std::string text = ctype.empty() || ctype.rfind("text/", 0) == 0
                           ? one_line(m.body())
                           : "[" + ctype + ", " + std::to_string(m.body().size()) + " bytes]";
    log("received MESSAGE from " + std::string(m.from().uri_text) + ": " + text);
  } else if (method == "SUBSCRIBE") {
    on_subscribe(m);
  } else if (method == "INVITE") {
    on_invite(m);
  } else if (method == "BYE") {
    if (calls_.erase(key)) answer(m, 200, "OK");
    else answer(m, 481, "Call/Transaction Does Not Exist");
  } else if (method == "CANCEL") {
    answer(m, 200, "OK");  // INVITEs are answered at once: nothing left to cancel
  } else if (method == "OPTIONS") {
    answer(m, 200, "OK",
           {{"Allow", kAllow},
            {"Accept", "application/sdp, application/pidf+xml, text/plain"},
            {"Allow-Events", "presence"}});
  } else if (method == "INFO") {
    answer(m, 200, "OK");
  } else if (method == "PUBLISH") {
    on_publish(m);
  } else if (method == "NOTIFY") {
    answer(m, 481, "Subscription Does Not Exist");
  } else {
    answer(m, 404, "Not Found");
  }
}

void Server::on_subscribe(const sip::Message& m) {
  std::string event(m.get(sip::HeaderId::kEvent).value_or(""));
  if (first_token(event) != "presence") {
    answer(m, 489, "Bad Event", {{"Allow-Events", "presence"}}, {}, {}, {},
           " (Event: " + event + ")");
    return;
  }
  uint32_t expires = kMaxExpires;
  if (auto e = m.get(sip::HeaderId::kExpires)) {
    std::string v(*e);
    char* end = nullptr;
    unsigned long n = std::strtoul(v.c_str(), &end, 10);
    if (!v.empty() && *end == '\0') expires = static_cast<uint32_t>(std::min<unsigned long>(n, kMaxExpires));
  }
  std::string from(m.from().uri_text);
  auto to_tag = m.to_tag();
  std::string detail = " for " + entity_of(m.to()) + " (Expires: " + std::to_string(expires) + ")";
  HeaderList h = {{"Expires", std::to_string(expires)}};
  if (to_tag) {  // refresh or unsubscribe
    std::string key = std::string(m.call_id()) + "\n" + std::string(*to_tag);
    auto it = subs_.find(key);
    if (it == subs_.end()) {
      answer(m, 481, "Subscription Does Not Exist", {}, {}, {}, {}, detail);
      return;
    }
    Subscription& s = it->second;
    h.emplace_back("Contact", contact(s.contact_user));
    answer(m, 200, "OK", h, {}, {}, {}, detail);
    refresh_target(s.dialog, m);
    if (expires == 0) {
      notify(s, "terminated;reason=timeout");
      subs_.erase(it);
    } else {
      s.expires_at = after(expires);
      notify(s, "active;expires=" + std::to_string(expires));
    }
    return;
  }
  std::string tag = sip::generate_tag();
  auto dialog = dialog_as_uas(m, tag);
  if (!dialog) {
    answer(m, 400, "Bad Request", {}, {}, {}, {}, detail);
    return;
  }
  Subscription s;
  s.key = std::string(m.call_id()) + "\n" + tag;
  s.dialog = std::move(*dialog);
  s.entity = entity_of(m.to());
  s.contact_user = m.to().uri.user_decoded();
  s.event = event;
  s.expires_at = after(expires);
  h.emplace_back("Contact", contact(s.contact_user));
  answer(m, 200, "OK", h, {}, {}, tag, detail);
  if (expires == 0) {  // a fetch
    notify(s, "terminated;reason=timeout");
    return;
  }
  auto [it, inserted] = subs_.emplace(s.key, std::move(s));
  notify(it->second, "active;expires=" + std::to_string(expires));
}

void Server::notify(Subscription& s, const std::string& state) {
  OutRequest r = s.dialog.request("NOTIFY");
  r.contact_user = s.contact_user.empty() ? args_.user : s.contact_user;
  r.headers = {{"Event", s.event}, {"Subscription-State", state}};
  Presence p = presence_of(s.entity);
  r.content_type = "application/pidf+xml";
  r.body = make_pidf(s.entity, p.basic, p.note);
  ++notifies_sent_;
  std::string line = "sent NOTIFY to " + s.dialog.remote_aor() + ": " + describe(p) +
                     " state=" + state;
  std::string key = s.key;
  ua_.send_request(r, [this, line, key](const Reply& rep) {
    log(line + " -> " + rep.summary());
    if (!rep.ok()) subs_.erase(key);  // RFC 6665 §4.2.2: the subscription is gone
  }, timeout_);
}

void Server::on_invite(const sip::Message& m) {
  auto to_tag = m.to_tag();
  std::string user = m.to().uri.user_decoded();
  std::string uri = entity_of(m.to());
  std::string sdp = make_im_answer(m.body(), ua_.local_ip(), uri);
  HeaderList h = {{"Contact", contact(user)}, {"Allow", kAllow}};
  if (to_tag) {  // re-INVITE
    std::string key = std::string(m.call_id()) + "\n" + std::string(*to_tag);
    if (!calls_.count(key)) {
      answer(m, 481, "Call/Transaction Does Not Exist");
      return;
    }
    answer(m, 200, "OK", h, "application/sdp", sdp);
    return;
  }
  std::string tag = sip::generate_tag();
  calls_.insert(std::string(m.call_id()) + "\n" + tag);
  answer(m, 200, "OK", h, "application/sdp", sdp, tag);
}

void Server::on_publish(const sip::Message& m) {
  std::string event(m.get(sip::HeaderId::kEvent).value_or(""));
  if (first_token(event) != "presence") {
    answer(m, 489, "Bad Event", {{"Allow-Events", "presence"}});
    return;
  }
  std::string expires(m.get(sip::HeaderId::kExpires).value_or("3600"));
  HeaderList h = {{"SIP-ETag", random_hex(12)}, {"Expires", expires}};
  std::string entity = entity_of(m.to());
  auto p = m.body().empty() ? std::nullopt : parse_pidf(m.body());
  if (!m.body().empty() && !p) {
    answer(m, 400, "Bad Request", {}, {}, {}, {}, " (no PIDF <basic> element)");
    return;
  }
  if (!p) {  // refresh
    answer(m, 200, "OK", h, {}, {}, {}, " for " + entity);
    return;
  }
  p->entity.clear();
  presence_[entity] = *p;
  answer(m, 200, "OK", h, {}, {}, {}, " for " + entity + ": " + describe(*p));
  for (auto& [key, s] : subs_)
    if (s.entity == entity)
      notify(s, "active;expires=" + std::to_string(std::max<int64_t>(
                                        0, std::chrono::duration_cast<std::chrono::seconds>(
                                               s.expires_at - Clock::now()).count())));
}

void Server::tick(Clock::time_point now) {
  if (change_at_ && now >= *change_at_) {
    change_at_.reset();
    default_.basic = default_.basic == "open" ? "closed" : "open";
    default_.note = args_.change_note.value_or(default_note(default_.basic));
    for (auto& [entity, p] : presence_) p = default_;
    say("presence changed: " + describe(default_) + " (" + std::to_string(subs_.size()) +
        " subscriber(s) notified)");
    for (auto& [key, s] : subs_) {
      auto left = std::chrono::duration_cast<std::chrono::seconds>(s.expires_at - now).count();
      notify(s, "active;expires=" + std::to_string(std::max<int64_t>(left, 0)));
    }
  }
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (it->second.expires_at <= now) {
      notify(it->second, "terminated;reason=timeout");
      it = subs_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<Clock::time_point> Server::next_timer() const {
  std::optional<Clock::time_point> t = change_at_;
  for (const auto& [key, s] : subs_)
    if (!t || s.expires_at < *t) t = s.expires_at;
  return t;
}

void Server::terminate_all() {
  for (auto& [key, s] : subs_) notify(s, "terminated;reason=noresource");
  subs_.clear();
}

std::string Server::summary() const {
  uint64_t total = 0;
  std::string by;
  for (const auto& [method, n] : received_) {
    total += n;
    by += (by.empty() ? "" : ", ") + method + " " + std::to_string(n);
  }
  return "received " + std::to_string(total) + " request(s)" + (by.empty() ? "" : " (" + by + ")") +
         ", sent " + std::to_string(notifies_sent_) + " NOTIFY";
}

// ---- commands -------------------------------------------------------------

struct Context {
  UserAgent& ua;
  Server& server;
  const Args& args;
  double timeout;
  // Command-specific handling of inbound requests; false hands the request
  // to the Server.
  std::function<bool(sip::Message&)> filter;
};

// Outcome of transact(): reply.message points into `response`.
struct Outcome {
  Reply reply;
  std::unique_ptr<sip::Message> response;
  bool ok() const { return reply.ok(); }
};

// Sends `r` and waits for its outcome; prints "<label> -> <summary>" as
// soon as it is known (before what arrived with or after it).
Outcome transact(Context& c, const OutRequest& r, const std::string& label) {
  Outcome out;
  bool done = false;
  c.ua.send_request(r, [&](const Reply& rep) {
    done = true;
    say(label + " -> " + rep.summary());
    out.reply = rep;
    if (rep.message) {
      out.response = std::make_unique<sip::Message>(*rep.message);
      out.reply.message = out.response.get();
    }
  }, c.timeout);
  c.ua.run_until([&] { return done; }, after(c.timeout + 1));
  if (!done) {  // cannot happen: the transaction times out first
    c.ua.drop_transactions();
    out.reply.failure = "timeout";
    say(label + " -> " + out.reply.summary());
  }
  return out;
}

int cmd_send(Context& c, const std::string& to, const std::string& text) {
  OutRequest r = c.ua.new_request("MESSAGE", to);
  r.content_type = "text/plain;charset=UTF-8";
  r.body = text;
  Outcome o = transact(c, r, "sent MESSAGE to " + to);
  const Reply& rep = o.reply;
  if (rep.ok()) return kExitOk;
  say("send: " + rep.failure_text(c.timeout));
  return kExitFailed;
}

int cmd_options(Context& c, const std::string& target) {
  OutRequest r = c.ua.new_request("OPTIONS", target);
  r.headers = {{"Accept", "application/sdp, application/pidf+xml, text/plain"}};
  Outcome o = transact(c, r, "OPTIONS " + target);
  const Reply& rep = o.reply;
  if (rep.message) {
    for (size_t i = 0; i < rep.message->header_count(); ++i) {
      auto h = rep.message->header(i);
      using sip::HeaderId;
      if (h.id == HeaderId::kAllow || h.id == HeaderId::kAccept || h.id == HeaderId::kSupported ||
          h.id == HeaderId::kAllowEvents || h.id == HeaderId::kServer ||
          h.id == HeaderId::kUserAgent)
        say("OPTIONS header " + std::string(sip::canonical_name(h.id)) + ": " + one_line(h.value));
    }
  }
  if (rep.ok()) return kExitOk;
  say("options: " + rep.failure_text(c.timeout));
  return kExitFailed;
}

int cmd_publish(Context& c, const std::string& status, const std::string& note) {
  std::string aor = c.ua.aor();
  OutRequest r = c.ua.new_request("PUBLISH", aor);
  r.headers = {{"Event", "presence"},
               {"Expires", std::to_string(c.args.expires.value_or(3600))}};
  r.content_type = "application/pidf+xml";
  r.body = make_pidf(aor, status, note);
  Presence p{status, note, aor};
  Outcome o = transact(c, r, "PUBLISH " + aor + ": " + describe(p));
  const Reply& rep = o.reply;
  if (rep.ok()) return kExitOk;
  say("publish: " + rep.failure_text(c.timeout));
  return kExitFailed;
}

int cmd_chat(Context& c, const std::string& to, const std::string& text) {
  OutRequest inv = c.ua.new_request("INVITE", to);
  inv.headers = {{"Allow", kAllow}};
  inv.content_type = "application/sdp";
  inv.body = make_im_sdp(c.ua.local_ip(), c.ua.aor());
  std::string local_tag = tag_of(inv.from);
  bool remote_bye = false;
  c.filter = [&](sip::Message& m) {
    if (m.method() != "BYE" || m.call_id() != inv.call_id || m.to_tag() != local_tag) return false;
    remote_bye = true;
    c.ua.respond(m, 200, "OK");
    say("received BYE from " + std::string(m.from().uri_text) + " -> 200 OK");
    return true;
  };
  Outcome o = transact(c, inv, "INVITE " + to);
  if (!o.ok()) {
    say("chat: " + o.reply.failure_text(c.timeout));
    return kExitFailed;
  }
  auto dialog = dialog_as_uac(inv, *o.reply.message);
  if (!dialog) {
    say("chat: the 2xx to INVITE has an unusable To, Contact or Record-Route");
    return kExitFailed;
  }
  c.ua.send_stateless(dialog->request("ACK", inv.cseq));
  say("sent ACK to " + to);

  int rc = kExitOk;
  OutRequest msg = dialog->request("MESSAGE");
  msg.contact_user = c.ua.options().user;
  msg.content_type = "text/plain;charset=UTF-8";
  msg.body = text;
  o = transact(c, msg, "sent MESSAGE to " + to);
  if (!o.ok()) {
    say("chat: MESSAGE: " + o.reply.failure_text(c.timeout));
    rc = kExitFailed;
  }
  if (!remote_bye && !c.ua.closed()) {
    o = transact(c, dialog->request("BYE"), "BYE " + to);
    if (!o.ok()) {
      say("chat: BYE: " + o.reply.failure_text(c.timeout));
      rc = kExitFailed;
    }
  }
  return rc;
}

int cmd_subscribe(Context& c, const std::string& to, double seconds) {
  uint32_t expires = c.args.expires.value_or(600);
  OutRequest sub;
  std::optional<Dialog> dialog;
  std::string local_tag;
  int notifies = 0;
  bool terminated = false;
  c.filter = [&](sip::Message& m) {
    if (m.method() != "NOTIFY" || m.call_id() != sub.call_id || m.to_tag() != local_tag)
      return false;
    c.ua.respond(m, 200, "OK");
    if (!dialog) {
      dialog = dialog_as_uas(m, local_tag);
      if (dialog) dialog->local_cseq = sub.cseq;
    } else {
      refresh_target(*dialog, m);
      if (dialog->remote_tag.empty() && m.from_tag()) dialog->remote_tag = *m.from_tag();
    }
    std::string state(m.get(sip::HeaderId::kSubscriptionState).value_or("(none)"));
    auto p = parse_pidf(m.body());
    say("NOTIFY from " + std::string(m.from().uri_text) + ": " +
        (p ? describe(*p) : "no PIDF body") + " state=" + one_line(state));
    ++notifies;
    if (first_token(state) == "terminated") terminated = true;
    return true;
  };

  Outcome o;
  for (int attempt = 0; attempt < 2; ++attempt) {
    sub = c.ua.new_request("SUBSCRIBE", to);
    local_tag = tag_of(sub.from);
    sub.headers = {{"Event", "presence"},
                   {"Accept", "application/pidf+xml"},
                   {"Expires", std::to_string(expires)}};
    o = transact(c, sub, "SUBSCRIBE " + to);
    if (o.reply.code != 423 || !o.response) break;
    auto min = o.response->get(sip::HeaderId::kMinExpires);
    if (!min) break;
    expires = static_cast<uint32_t>(std::strtoul(std::string(*min).c_str(), nullptr, 10));
  }
  if (!o.ok()) {
    say("subscribe: " + o.reply.failure_text(c.timeout));
    return kExitFailed;
  }
  // The NOTIFY may have been read before the 2xx; the 2xx's Record-Route
  // (the route set of the SUBSCRIBE dialog) wins over a NOTIFY without one.
  auto from_2xx = dialog_as_uac(sub, *o.response);
  if (!dialog) {
    dialog = from_2xx;
    if (!dialog) {
      say("subscribe: the 2xx to SUBSCRIBE has an unusable To, Contact or Record-Route");
      return kExitFailed;
    }
  } else if (from_2xx && dialog->route_set.empty()) {
    dialog->route_set = from_2xx->route_set;
  }
  c.ua.run_until([&] { return g_stop || terminated; }, after(seconds));
  if (!terminated && !c.ua.closed()) {
    OutRequest un = dialog->request("SUBSCRIBE");
    un.contact_user = c.ua.options().user;
    un.headers = {{"Event", "presence"}, {"Accept", "application/pidf+xml"}, {"Expires", "0"}};
    Outcome u = transact(c, un, "unsubscribe " + to);
    // The final NOTIFY (terminated) normally follows the 200.
    if (u.ok()) c.ua.run_until([&] { return terminated; }, after(std::min(1.0, c.timeout)));
  }
  if (notifies == 0) {
    say("subscribe: no NOTIFY received");
    return kExitFailed;
  }
  say("subscribe: " + std::to_string(notifies) + " NOTIFY received");
  return kExitOk;
}

int cmd_serve(Context& c, std::optional<double> seconds) {
  // A UC server introduces itself: the gateway uses an internal connection for
  // its domains' requests only once it has spoken SIP (or is authenticated).
  // Not waited for: a relay in the tests may never answer it.
  OutRequest hello = c.ua.new_request("OPTIONS", "sip:" + c.args.domain);
  std::string hello_label = "OPTIONS sip:" + c.args.domain;
  c.ua.send_request(hello, [hello_label](const Reply& rep) { say("serve: " + hello_label + " -> " + rep.summary()); },
                    c.timeout);
  say("serving " + c.args.domain + " via " + c.args.gateway + " (local " + c.ua.sent_by() + ")" +
      (seconds ? " for " + fixed(*seconds, 1) + " s" : " until SIGTERM"));
  std::optional<Clock::time_point> end;
  if (seconds) end = after(*seconds);
  while (!g_stop && !c.ua.closed()) {
    Clock::time_point now = Clock::now();
    if (end && now >= *end) break;
    c.server.tick(now);
    Clock::time_point wake = now + std::chrono::milliseconds(500);
    if (end) wake = std::min(wake, *end);
    if (auto t = c.server.next_timer()) wake = std::min(wake, std::max(*t, now));
    c.ua.run_until([] { return g_stop != 0; }, wake);
  }
  if (c.ua.closed()) {
    say("serve: " + c.ua.close_reason());
    say("serve: " + c.server.summary());
    return kExitFailed;
  }
  c.server.terminate_all();
  c.ua.run_until([&] { return c.ua.pending_transactions() == 0; }, after(std::min(1.0, c.timeout)));
  c.ua.flush(after(0.5));
  say("serve: " + c.server.summary());
  return kExitOk;
}

int cmd_load(Context& c, const std::vector<std::string>& to, uint64_t count, double rate) {
  size_t window = c.args.window;
  Clock::time_point start = Clock::now();
  Clock::time_point end = after(c.timeout);
  uint64_t sent = 0, finals = 0, timeouts = 0, errors = 0;
  uint64_t classes[7] = {};
  std::map<int, uint64_t> codes;
  std::vector<double> latencies;
  latencies.reserve(count);
  std::string last_error;
  // consulted only when rate > 0 (without a RATE the window alone paces the load)
  ArrivalSchedule schedule(rate > 0 ? rate : 1, c.args.arrivals.value_or(ArrivalSchedule::Kind::kEven));
  auto next_send = [&] {
    return start + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(schedule.due()));
  };
  uint64_t completed = 0;
  while (!g_stop) {
    Clock::time_point now = Clock::now();
    if (now >= end || c.ua.closed()) break;
    c.ua.hold_writes(true);
    while (sent < count && sent - completed < window && (rate <= 0 || now >= next_send())) {
      OutRequest r = c.ua.new_request("MESSAGE", to[sent % to.size()]);
      r.content_type = "text/plain;charset=UTF-8";
      r.body = "fedua load message " + std::to_string(sent + 1);
      ++sent;
      schedule.advance();
      double left = std::chrono::duration<double>(end - now).count();
      c.ua.send_request(r, [&](const Reply& rep) {
        ++completed;
        if (rep.message) {
          ++finals;
          ++classes[std::min(rep.code / 100, 6)];
          ++codes[rep.code];
          latencies.push_back(rep.ms);
        } else if (rep.failure == "timeout") {
          ++timeouts;
        } else {
          ++errors;
          last_error = rep.failure;
        }
      }, std::max(left, 0.001));
    }
    c.ua.hold_writes(false);
    if (sent == count && completed == sent) break;
    Clock::time_point wake = end;
    if (rate > 0 && sent < count && sent - completed < window) wake = std::min(wake, next_send());
    uint64_t before = completed;
    c.ua.run_until([&] { return completed != before; }, wake);
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  c.ua.run_until([] { return false; }, Clock::now());  // collect expiries / close failures
  timeouts += sent - completed;  // still outstanding at the end of the run
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) -> std::string {
    if (latencies.empty()) return "-";
    size_t idx = static_cast<size_t>(std::ceil(q * static_cast<double>(latencies.size())));
    idx = std::min(latencies.size() - 1, idx == 0 ? 0 : idx - 1);
    return fixed(latencies[idx], 2) + " ms";
  };
  std::string line = "load: sent " + std::to_string(sent);
  for (int k = 2; k <= 6; ++k)
    line += ", " + std::to_string(k) + "xx " + std::to_string(classes[k]);
  line += ", timeouts " + std::to_string(timeouts);
  if (errors) line += ", errors " + std::to_string(errors);
  line += ", median " + pct(0.5) + ", p90 " + pct(0.9) + ", p99 " + pct(0.99) + ", elapsed " +
          fixed(elapsed, 3) + " s, " + fixed(elapsed > 0 ? finals / elapsed : 0, 1) + " msg/s";
  say(line);
  std::string by_code;
  for (const auto& [code, n] : codes)
    by_code += (by_code.empty() ? "" : ", ") + std::to_string(code) + "=" + std::to_string(n);
  say("load: codes " + (by_code.empty() ? std::string("none") : by_code));
  if (finals == count) return kExitOk;
  std::string why = std::to_string(count - finals) + " of " + std::to_string(count) +
                    " without a final response";
  if (sent < count) why += " (" + std::to_string(count - sent) + " never sent)";
  if (g_stop) why += " (interrupted)";
  else if (c.ua.closed()) why += " (" + c.ua.close_reason() + ")";
  else if (!last_error.empty()) why += " (" + last_error + ")";
  else why += " within " + fixed(c.timeout, 1) + " s";
  say("load: " + why);
  return kExitFailed;
}

struct Endpoint {
  std::string ip;
  uint16_t port = 0;
};

std::optional<Endpoint> parse_gateway(const std::string& text) {
  Endpoint e;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    e.ip = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!sip::is_valid_ipv6(e.ip)) return std::nullopt;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    e.ip = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (!sip::is_valid_ipv4(e.ip)) return std::nullopt;
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  unsigned long p = std::strtoul(port.c_str(), nullptr, 10);
  if (p < 1 || p > 65535) return std::nullopt;
  e.port = static_cast<uint16_t>(p);
  return e;
}

struct Command {
  const char* name;
  size_t min_args;
  size_t max_args;  // SIZE_MAX: text joins the rest
};
constexpr Command kCommands[] = {
    {"send", 2, SIZE_MAX},   {"chat", 2, SIZE_MAX},   {"subscribe", 1, 2}, {"publish", 1, SIZE_MAX},
    {"options", 1, 1},       {"serve", 0, 1},         {"load", 2, 3},
};

std::string target_arg(const std::string& text, bool allow_host) {
  auto t = normalize_target(text, allow_host);
  if (!t)
    throw UsageError{"bad URI \"" + text + "\": expected sip:user@host, user@host" +
                     (allow_host ? " or a host" : "")};
  return *t;
}

int run(int argc, char** argv) {
  Args a = parse_args(argc, argv);
  if (a.help) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (a.positional.empty()) throw UsageError{"no command given"};
  const std::string& cmd = a.positional[0];
  const Command* command = nullptr;
  for (const auto& k : kCommands)
    if (cmd == k.name) command = &k;
  if (!command) throw UsageError{"unknown command \"" + cmd + "\""};
  size_t nargs = a.positional.size() - 1;
  if (nargs < command->min_args || nargs > command->max_args)
    throw UsageError{cmd + ": wrong number of arguments"};
  if (a.gateway.empty()) throw UsageError{"--gateway IP:PORT is required"};
  auto gw = parse_gateway(a.gateway);
  if (!gw) throw UsageError{"--gateway: \"" + a.gateway + "\" is not IP:PORT"};
  if (a.domain.empty()) throw UsageError{"--domain is required"};
  if (sip::classify_host(a.domain) == sip::HostType::kNone)
    throw UsageError{"--domain: \"" + a.domain + "\" is not a host name"};
  if (!normalize_target(a.user + "@" + a.domain, false))
    throw UsageError{"--user: \"" + a.user + "\" is not a valid SIP user"};
  if (a.presence != "open" && a.presence != "closed")
    throw UsageError{"--presence: \"" + a.presence + "\" is not open or closed"};
  for (const auto& u : a.users)
    if (!normalize_target(u + "@" + a.domain, false))
      throw UsageError{"--users: \"" + u + "\" is not a valid SIP user"};
  for (const std::string* s : {&a.name, a.note ? &*a.note : nullptr,
                               a.change_note ? &*a.change_note : nullptr})
    if (s && s->find_first_of("\r\n") != std::string::npos)
      throw UsageError{"option values must be single lines"};

  double timeout = a.timeout.value_or(cmd == "load" ? 60 : 10);
  const auto& p = a.positional;
  // Validate the command's arguments before connecting.
  std::string to, text, status;
  std::vector<std::string> load_to;
  double seconds = 5, rate = 0;
  uint64_t count = 0;
  std::optional<double> serve_seconds;
  if (cmd == "send" || cmd == "chat") {
    to = target_arg(p[1], false);
    text = join(p, 2);
  } else if (cmd == "subscribe") {
    to = target_arg(p[1], false);
    if (p.size() > 2) seconds = parse_seconds(p[2], "SECONDS", false);
  } else if (cmd == "publish") {
    status = p[1];
    if (status != "open" && status != "closed")
      throw UsageError{"publish: STATUS \"" + status + "\" is not open or closed"};
    text = p.size() > 2 ? join(p, 2) : default_note(status);
  } else if (cmd == "options") {
    to = target_arg(p[1], true);
  } else if (cmd == "serve") {
    if (p.size() > 1) serve_seconds = parse_seconds(p[1], "SECONDS", false);
  } else if (cmd == "load") {
    size_t start = 0;
    for (;;) {
      size_t comma = p[1].find(',', start);
      load_to.push_back(target_arg(p[1].substr(start, comma - start), false));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    count = parse_count(p[2], "COUNT", kMaxLoadCount);
    if (p.size() > 3) rate = parse_seconds(p[3], "RATE", false);
    if (a.arrivals && rate == 0) throw UsageError{"--arrivals needs a RATE (load TO COUNT RATE)"};
  }

  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  UserAgent::Options uo;
  uo.user = a.user;
  uo.domain = a.domain;
  uo.display_name = a.name;
  uo.verbose = a.verbose;
  UserAgent ua(uo);
  std::string err = ua.connect(gw->ip, gw->port, static_cast<int>(std::min(timeout, 5.0) * 1000));
  if (!err.empty()) {
    say("cannot connect to the gateway at " + a.gateway + ": " + err);
    return kExitConnect;
  }
  Server server(ua, a, timeout);
  Context c{ua, server, a, timeout, {}};
  ua.set_request_handler([&](sip::Message&& m) {
    if (c.filter && c.filter(m)) return;
    server.handle(std::move(m));
  });

  int rc = kExitFailed;
  if (cmd == "send") rc = cmd_send(c, to, text);
  else if (cmd == "chat") rc = cmd_chat(c, to, text);
  else if (cmd == "subscribe") rc = cmd_subscribe(c, to, seconds);
  else if (cmd == "publish") rc = cmd_publish(c, status, text);
  else if (cmd == "options") rc = cmd_options(c, to);
  else if (cmd == "serve") rc = cmd_serve(c, serve_seconds);
  else if (cmd == "load") rc = cmd_load(c, load_to, count, rate);
  // Callbacks and the filter refer to the command's locals: drop them, then
  // flush what is still buffered (e.g. the 200 to a last NOTIFY).
  c.filter = nullptr;
  ua.drop_transactions();
  ua.flush(after(0.5));
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "fedua: %s\nTry 'fedua --help'.\n", e.message.c_str());
    return kExitUsage;
  }
}
