// Building blocks of fedua, a small SIP user agent that plays a company's
// internal UC server towards a fedgw internal listener: one TCP connection,
// requests sent and received on it (RFC 5923 style connection reuse),
// client transactions matched by Via branch + CSeq method, dialogs with
// route sets from Record-Route (RFC 3261 §12), PIDF (RFC 3863) helpers.
//
// Single-threaded: UserAgent::run_until() polls the socket and runs every
// callback on the caller's thread. No actors, no CAF.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/sip/framer.h"
#include "gateway/sip/message.h"

namespace fedgw::tools {

using Clock = std::chrono::steady_clock;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// ---- text helpers --------------------------------------------------------

// n random lowercase hex digits.
std::string random_hex(size_t n);
// `s` on one line: CR, LF, TAB and backslash escaped as \r \n \t \\.
std::string one_line(std::string_view s);
// "sip:bob@b.test" / "sips:..." (validated), "bob@b.test" -> "sip:bob@b.test",
// and with allow_bare_host "b.test" -> "sip:b.test". nullopt when invalid.
std::optional<std::string> normalize_target(std::string_view text, bool allow_bare_host);
// Milliseconds between two time points.
double ms_between(Clock::time_point a, Clock::time_point b);
// "12.3" style formatting.
std::string fixed(double v, int decimals);

// Failure detail of a response: the text of the first Warning (warn-text) or
// of a Reason header (text="..."); "" when there is none.
std::string failure_detail(const sip::Message& response);

// "Display" <uri>;params without the tag param (for a dialog's local/remote URI).
std::string name_addr_without_tag(const sip::NameAddr& na);

// ---- load pacing -----------------------------------------------------------

// When the requests of an open-loop load are due, in seconds after its start; the first is due at 0.
// kEven: one every 1/rate s. kPoisson: gaps drawn from an exponential distribution of mean
// 1/rate s, the arrivals of many independent users (a Poisson process); a fixed seed makes
// runs repeat the same schedule (std::mt19937_64's output is fixed by the standard).
class ArrivalSchedule {
 public:
  enum class Kind { kEven, kPoisson };
  ArrivalSchedule(double rate, Kind kind, uint64_t seed = 1);
  // Seconds after the start at which the next request is due.
  double due() const { return due_; }
  // Moves on to the request after it.
  void advance();

 private:
  double rate_;
  Kind kind_;
  uint64_t advanced_ = 0;
  double due_ = 0;
  std::mt19937_64 rng_;
};

// ---- PIDF (RFC 3863) -----------------------------------------------------

struct Presence {
  std::string basic;  // "open" / "closed"
  std::string note;
  std::string entity;
};
std::string xml_escape(std::string_view s);
std::string make_pidf(std::string_view entity, std::string_view basic, std::string_view note);
// First <basic> and first <note> (any namespace prefix) and the presence
// entity; nullopt when there is no <basic> element.
std::optional<Presence> parse_pidf(std::string_view body);
// `basic=open note="Available"`
std::string describe(const Presence& p);
std::string default_note(std::string_view basic);

// ---- SDP for Microsoft-style IM sessions ---------------------------------

// Offer/answer with one "m=message 5060 sip <uri>" line.
std::string make_im_sdp(std::string_view local_ip, std::string_view uri);
// Answer to `offer`: m=message accepted, every other m-line rejected (port 0).
std::string make_im_answer(std::string_view offer, std::string_view local_ip,
                           std::string_view uri);

// ---- requests ------------------------------------------------------------

struct OutRequest {
  std::string method;
  std::string request_uri;
  std::vector<std::string> routes;  // Route values, in order
  std::string from;                 // full header values (with tags)
  std::string to;
  std::string call_id;
  uint32_t cseq = 1;
  std::string contact_user;  // Contact <sip:contact_user@local;transport=tcp>; "" = none
  HeaderList headers;        // extra headers, in order
  std::string content_type;  // with a body
  std::string body;
};

// Wire text of `r` with the given Via sent-by and branch.
std::string build_request(const OutRequest& r, std::string_view sent_by,
                          std::string_view branch);

// A dialog (RFC 3261 §12) seen from this side.
struct Dialog {
  std::string call_id;
  std::string local_tag;
  std::string remote_tag;
  std::string local_uri;   // name-addr without tag
  std::string remote_uri;  // name-addr without tag
  std::string remote_target;
  std::vector<std::string> route_set;  // Route values, in order
  uint32_t local_cseq = 0;

  // In-dialog request (RFC 3261 §12.2.1.1): Request-URI and Route from the
  // remote target and route set (loose or strict routing), From/To with
  // tags, next CSeq (`cseq` instead when non-zero, e.g. for ACK).
  OutRequest request(std::string method, uint32_t cseq = 0);
  std::string remote_aor() const;  // URI of remote_uri
};

// UAC side: from our request and the dialog-creating 2xx (route set =
// Record-Route reversed, remote target = Contact).
std::optional<Dialog> dialog_as_uac(const OutRequest& request, const sip::Message& response);
// UAS side, or a subscriber on the first NOTIFY (route set = Record-Route
// in order, remote target = Contact); local_tag is the tag of our To.
std::optional<Dialog> dialog_as_uas(const sip::Message& request, std::string local_tag);
// Refreshes the remote target from a target refresh request/response.
void refresh_target(Dialog& d, const sip::Message& m);

// Outcome of a client transaction.
struct Reply {
  const sip::Message* message = nullptr;  // the final response; null on failure
  int code = 0;
  std::string reason;
  double ms = 0;
  std::string failure;  // "timeout" or "connection closed" when message is null
  bool ok() const { return code >= 200 && code < 300; }
  // "200 OK (1.23 ms)" / "timeout (10000.00 ms)"
  std::string summary() const;
  // "404 Not Found - detail" / "no final response within 10 s" ...
  std::string failure_text(double timeout_s) const;
};

// ---- the user agent ------------------------------------------------------

class UserAgent : public sip::StreamFramer::Callbacks {
 public:
  struct Options {
    std::string user = "fedua";
    std::string domain;
    std::string display_name;
    bool verbose = false;  // wire trace on stderr
  };
  using ReplyFn = std::function<void(const Reply&)>;
  using RequestFn = std::function<void(sip::Message&&)>;

  explicit UserAgent(Options options);
  ~UserAgent() override;
  UserAgent(const UserAgent&) = delete;
  UserAgent& operator=(const UserAgent&) = delete;

  // Connects to ip:port (non-blocking, bounded by timeout_ms). "" on
  // success, else the error text.
  std::string connect(const std::string& ip, uint16_t port, int timeout_ms);

  const Options& options() const { return options_; }
  const std::string& local_ip() const { return local_ip_; }
  uint16_t local_port() const { return local_port_; }
  std::string sent_by() const;  // "ip:port" ([v6]:port)
  std::string aor() const;      // sip:user@domain
  // `"Name" <sip:user@domain>` (display name only when set)
  std::string local_name_addr() const;

  // Out-of-dialog request from aor() to `to_uri`: new Call-ID, From tag,
  // CSeq 1, Contact.
  OutRequest new_request(std::string method, const std::string& to_uri) const;

  // Sends `r` in a new client transaction; `fn` gets exactly one Reply (final
  // response, timeout after timeout_s, or connection closed), always from
  // run_until(), never from inside this call. A non-2xx final response to
  // INVITE is ACKed here. Returns the branch.
  std::string send_request(const OutRequest& r, ReplyFn fn, double timeout_s);
  // Sends a request outside any transaction (ACK for a 2xx).
  void send_stateless(const OutRequest& r);
  // Sends a response built with make_response() plus extra headers and body;
  // a 2xx to INVITE/SUBSCRIBE/NOTIFY/REFER copies the Record-Route lines.
  void respond(const sip::Message& request, int code, std::string_view reason,
               const HeaderList& headers = {}, std::string_view content_type = {},
               std::string_view body = {}, std::string_view to_tag = {});

  // Every inbound request (ACK included) goes here.
  void set_request_handler(RequestFn fn) { on_request_ = std::move(fn); }

  // Polls until done() is true (checked after every event), the deadline
  // passes or the connection closes. Returns done(). Callbacks (replies,
  // timeouts, requests) run only in here; once the connection is closed,
  // every pending transaction fails here with the close reason.
  bool run_until(const std::function<bool()>& done, Clock::time_point deadline);
  // Flushes pending output (bounded by the deadline).
  void flush(Clock::time_point deadline);
  // While held, what is sent is only queued; releasing writes it all (as few send() calls as the socket
  // takes). fedua load refills its window after a read with one write instead of one per request.
  // run_until() writes queued output whether held or not.
  void hold_writes(bool hold) {
    hold_writes_ = hold;
    if (!hold) write_some();
  }

  // Forgets every client transaction without calling its callback.
  void drop_transactions() { txs_.clear(); }

  bool closed() const { return fd_ < 0; }
  const std::string& close_reason() const { return close_reason_; }
  size_t pending_transactions() const { return txs_.size(); }

 private:
  struct Tx {
    OutRequest request;
    ReplyFn fn;
    Clock::time_point start;
    Clock::time_point deadline;
  };

  void on_message(sip::Message&& message) override;
  void on_message_error(const sip::Error& error, std::string_view raw) override;
  void on_ping() override;
  void on_stream_error(const sip::Error& error) override;

  void send_raw(std::string_view data);
  void write_some();
  void read_some();
  void close(std::string reason);
  void fail_all();
  void expire(Clock::time_point now);
  void trace(std::string_view dir, std::string_view data) const;

  Options options_;
  int fd_ = -1;
  std::string local_ip_;
  uint16_t local_port_ = 0;
  std::string out_;
  size_t out_off_ = 0;
  bool hold_writes_ = false;
  sip::StreamFramer framer_;
  std::map<std::string, Tx> txs_;  // by branch
  RequestFn on_request_;
  std::string close_reason_;
};

}  // namespace fedgw::tools
