// libFuzzer target for the proxy layer's plain cores (issue 10 §9): a random
// request is checked and routed (gateway/proxy/routing.h) from both origins,
// accepted requests get the edits proxy_core's handle_request makes
// (pop own Routes, strip RFC 3325 identities, Max-Forwards, double
// Record-Route, our Via), are serialized and re-parsed, and the policy
// invariants are asserted. The input's last bytes also drive the
// client-transaction table (gateway/proxy/transactions.h) with a fake clock.
//
// Input: the whole input is parsed as one SIP message (bytes beyond its
// Content-Length are ignored by the parser); its last up to 24 bytes are the
// transaction action sequence, so seeds append them after an empty body.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/proxy/routing.h"
#include "gateway/proxy/transactions.h"
#include "gateway/sip/grammar.h"
#include "gateway/sip/message.h"
#include "gateway/sip/response.h"
#include "tests/gateway/proxy/gateway_config.h"

using namespace fedgw;
using proxy::side;

namespace {

void check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "proxy_fuzz invariant failed: %s\n", what);
    std::abort();
  }
}

using proxy::testing::gateway_a;

// The peer certificate's identities for external origins. blocked.test is
// among them so that the block list (not only the identity check) is exercised.
const std::vector<std::string> external_ids{"b.test", "blocked.test"};
const std::vector<std::string> no_ids{};

sip::ParseOptions relaxed() {
  sip::ParseOptions o;
  o.limits.max_header_bytes = 1 << 20;
  o.limits.max_line_bytes = 1 << 20;
  o.limits.max_header_count = 1 << 16;
  o.limits.max_via_values = 1 << 16;
  o.limits.max_route_values = 1 << 16;
  return o;
}

sip::Message parse_or_die(const std::string& text, const char* what) {
  auto m = sip::parse_message(text, relaxed());
  check(m.ok(), what);
  return std::move(*m);
}

// A request built as the UC server or a partner would send it.
std::string request_text(const std::string& method, const std::string& from_domain, const std::string& origin_branch,
                         const std::string& our_branch = "") {
  std::string t = method + " sip:alice@a.test SIP/2.0\r\n";
  if (!our_branch.empty()) t += "Via: SIP/2.0/TCP 127.0.0.1:5060;branch=" + our_branch + "\r\n";
  t += "Via: SIP/2.0/TLS 192.0.2.7:5061;branch=" + origin_branch + "\r\n";
  t += "Max-Forwards: 69\r\nFrom: <sip:bob@" + from_domain + ">;tag=pt1\r\nTo: <sip:alice@a.test>\r\n";
  t += "Call-ID: fuzz-call-1@" + from_domain + "\r\nCSeq: 1 " + method + "\r\nContent-Length: 0\r\n\r\n";
  return t;
}

struct fixture {
  proxy::settings s = proxy::settings::from_config(gateway_a(), proxy::instance_keys::random());
  std::mt19937_64 rng{12345};
  uint64_t sequence = 0;

  fixture() { check_route_signature(); }

  // A Route we produced verifies for its dialog; flipping any byte of its fgwm,
  // swapping its side or changing the dialog makes it fail (and count as forged).
  void check_route_signature() {
    auto req = parse_or_die(request_text("SUBSCRIBE", "b.test", "z9hG4bK-o1"), "fixed request parses");
    for (side facing : {side::external, side::internal}) {
      std::string domain = facing == side::external ? "b.test" : "";
      std::string rr = proxy::record_route_value(s, facing, domain, req);
      {
        auto na = sip::parse_name_addr(rr);
        check(na.ok(), "own Record-Route parses");
        bool forged = false;
        auto own = proxy::parse_own_route(*na, req, s, &forged);
        check(own.has_value() && !forged, "own Record-Route verifies");
        check(own->facing == facing && own->domain == domain, "own Record-Route says what was signed");
      }
      auto at = rr.find("fgwm=");
      check(at != std::string::npos, "fgwm present");
      at += 5;
      auto end = rr.find('>', at);
      check(end != std::string::npos && end > at, "fgwm value");
      for (size_t i = at; i < end; ++i) {
        std::string bad = rr;
        bad[i] = bad[i] == '0' ? '1' : '0';
        auto na = sip::parse_name_addr(bad);
        check(na.ok(), "flipped Record-Route parses");
        bool forged = false;
        check(!proxy::parse_own_route(*na, req, s, &forged).has_value() && forged, "flipped fgwm is refused");
      }
      std::string swapped = rr;
      auto f = swapped.find(facing == side::external ? "fgw=ext" : "fgw=int");
      swapped.replace(f, 7, facing == side::external ? "fgw=int" : "fgw=ext");
      auto na = sip::parse_name_addr(swapped);
      check(na.ok() && !proxy::parse_own_route(*na, req, s).has_value(), "swapped side is refused");
      auto other = parse_or_die(request_text("SUBSCRIBE", "c.test", "z9hG4bK-o2"), "other dialog parses");
      auto na2 = sip::parse_name_addr(rr);
      check(na2.ok() && !proxy::parse_own_route(*na2, other, s).has_value(), "other dialog is refused");
    }
  }
};

fixture& fx() {
  static fixture f;
  return f;
}

std::string lower(std::string_view v) {
  std::string out(v);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Policy invariants of one decision. `signed_routes`: how many Route values at
// the top the harness itself produced with record_route_value (all others come
// from the input and can never verify).
void check_policy(const sip::Message& m, side origin, const proxy::decision& d, const proxy::decision& origin_check,
                  size_t signed_routes) {
  auto& s = fx().s;
  const auto& ids = origin == side::external ? external_ids : no_ids;
  auto routes = m.routes();
  if (routes) {
    for (size_t i = signed_routes; i < routes->size(); ++i)
      check(!proxy::parse_own_route((*routes)[i], m, s).has_value(), "a Route from the input verified as ours");
  }
  if (d.status != 0) return;
  check(origin_check.status == 0, "route_request accepted what check_origin refused");
  check(d.routes_to_pop <= signed_routes, "an unsigned Route was popped as ours");
  check(d.to != origin, "relay between two domains of the same side");
  auto from_domain = proxy::uri_domain(m.from().uri_text);
  if (origin == side::external) {
    check(std::find(ids.begin(), ids.end(), from_domain) != ids.end(),
          "external request accepted with a From domain not in the identity list");
    check(from_domain != "blocked.test", "request from blocked.test accepted");
    check(d.to == side::internal, "accepted external request not going internal");
    check(d.strip_identity, "identity headers kept for an untrusted partner");
  } else {
    check(from_domain == "a.test", "internal request accepted with a From domain other than a.test");
    check(d.to == side::external, "accepted internal request not going external");
    check(d.domain != "blocked.test", "internal request routed to blocked.test");
    check(!s.serves(d.domain), "internal request routed to a served domain");
    if (!d.in_dialog)
      check(d.domain == lower(proxy::uri_domain(m.request_uri())) && !d.domain.empty(),
            "internal request not routed to its Request-URI host");
  }
}

// proxy_core's handle_request edits, then serialize, re-parse and check.
std::optional<sip::Message> apply_edits(const sip::Message& m, side origin, const proxy::decision& d) {
  auto& f = fx();
  const auto& s = f.s;
  sip::Message e = m;
  auto vias_before = m.vias().size();
  auto routes_before = m.routes();
  auto rr_before = m.record_routes();
  check(routes_before.ok(), "accepted request has parseable Routes");
  for (size_t i = 0; i < d.routes_to_pop; ++i) check(e.remove_top_route(), "remove_top_route");
  if (d.strip_identity)
    for (auto name : proxy::identity_headers) e.remove_header(name);
  auto mf_before = m.max_forwards();
  auto mf = e.decrement_max_forwards();
  check(mf.has_value(), "decrement_max_forwards after check_max_forwards passed");
  check(*mf == (mf_before ? *mf_before - 1 : 70u), "Max-Forwards decreased by one (or set to 70)");
  if (d.record_route) {
    auto origin_domain = origin == side::external ? d.domain : std::string();
    auto target_domain = d.to == side::external ? d.domain : std::string();
    check(e.prepend_record_route(proxy::record_route_value(s, origin, origin_domain, e)).ok(), "Record-Route 1");
    check(e.prepend_record_route(proxy::record_route_value(s, d.to, target_domain, e)).ok(), "Record-Route 2");
  }
  auto branch = proxy::make_branch(s, 3, ++f.sequence, f.rng());
  check(e.prepend_via(proxy::via_value(s.facing(d.to), branch)).ok(), "prepend_via");

  auto wire = e.serialize();
  auto r = sip::parse_message(wire, relaxed());
  if (!r.ok()) {
    std::fprintf(stderr, "re-parse error: %s\n--- forwarded ---\n%s\n", r.error().message.c_str(), wire.c_str());
    check(false, "forwarded request re-parses");
  }
  auto vias = r->vias();
  check(vias.size() == vias_before + 1, "Via count grew by exactly one");
  check(vias[0].branch() && *vias[0].branch() == branch, "top Via branch is ours");
  check(proxy::is_looped(*r, s), "is_looped on the forwarded request");
  check(r->max_forwards() == std::optional<uint32_t>(*mf), "Max-Forwards on the wire");
  if (d.strip_identity)
    for (auto name : proxy::identity_headers) check(!r->has(name), "identity header left after strip_identity");
  auto routes_after = r->routes();
  check(routes_after.ok() && routes_after->size() + d.routes_to_pop == routes_before->size(), "Routes popped");
  auto rr_after = r->record_routes();
  check(rr_after.ok(), "Record-Routes parse");
  if (d.record_route) {
    check(rr_before.ok() && rr_after->size() == rr_before->size() + 2, "two Record-Routes added");
    // corpus/finding-record-route-without-from-tag: a dialog without From tag
    // (RFC 2543) once got a Record-Route that never verified.
    {
      auto top = proxy::parse_own_route((*rr_after)[0], *r, s);
      auto second = proxy::parse_own_route((*rr_after)[1], *r, s);
      check(top && top->facing == d.to, "top Record-Route faces the next hop and verifies");
      check(second && second->facing == origin, "second Record-Route faces the origin and verifies");
    }
  }
  check(r->call_id() == m.call_id() && r->request_uri() == m.request_uri() && r->body() == m.body(),
        "Call-ID, Request-URI and body unchanged");
  return std::move(*r);
}

// Both origins; the accepted forwarded request (if any) is returned for the transaction driver.
std::optional<sip::Message> route_both(const sip::Message& m, size_t signed_routes) {
  auto& s = fx().s;
  std::optional<sip::Message> forwarded;
  for (side origin : {side::internal, side::external}) {
    const auto& ids = origin == side::external ? external_ids : no_ids;
    auto co = proxy::check_origin(m, origin, ids, s);
    auto d = proxy::route_request(m, origin, ids, s);
    check_policy(m, origin, d, co, signed_routes);
    // handle_request answers 483 / 482 before routing.
    if (d.status != 0 || !sip::check_max_forwards(m).ok() || proxy::is_looped(m, s)) continue;
    auto r = apply_edits(m, origin, d);
    if (r) forwarded = std::move(r);
  }
  return forwarded;
}

// ---- client transactions

using table = proxy::client_transactions<int>;

struct tx_state {
  std::string branch;         // ours
  std::string origin_branch;  // the second Via's
  int origin = 0;
  bool invite = false;
  bool provisional = false;  // a 1xx reached the table
  int finals = 0;            // final answers that reached the origin
  bool first_final_2xx = false;
};

struct recorder : table::callbacks {
  std::vector<tx_state>* txs = nullptr;
  int calls = 0;

  tx_state* by_origin(int origin) {
    for (auto& t : *txs)
      if (t.origin == origin) return &t;
    return nullptr;
  }
  tx_state* by_branch(std::string_view b) {
    for (auto& t : *txs)
      if (t.branch == b) return &t;
    return nullptr;
  }
  void final_answer(tx_state& t, int code) {
    if (t.finals > 0)
      check(t.invite && t.first_final_2xx && code >= 200 && code < 300,
            "more than one final answer (other than 2xx to INVITE) reached the origin");
    else
      t.first_final_2xx = code >= 200 && code < 300;
    ++t.finals;
  }
  void to_origin(const int& origin, int reported_code, std::string wire) override {
    ++calls;
    auto* t = by_origin(origin);
    check(t != nullptr, "to_origin for an origin without transaction");
    auto r = sip::parse_message(wire, relaxed());
    check(r.ok() && r->is_response(), "response to the origin parses");
    int code = r->status_code();
    check(code == reported_code, "to_origin reports the response's status code");
    check(code != 100, "100 Trying forwarded");
    auto via = r->top_via().branch();
    check(!via || *via != t->branch, "our Via not removed");
    if (code < 200) {
      check(t->finals == 0, "provisional response after a final one");
      return;
    }
    final_answer(*t, code);
  }
  void answer(const int& origin, const sip::Message& request, int code, std::string) override {
    ++calls;
    auto* t = by_origin(origin);
    check(t != nullptr, "answer for an origin without transaction");
    auto b = request.top_via().branch();
    check(b && *b == t->branch, "answer for the wrong request");
    check(code >= 300, "gateway answer is a failure");
    final_answer(*t, code);
  }
  void to_next_hop(const proxy::next_hop&, std::string wire) override {
    ++calls;
    auto r = sip::parse_message(wire, relaxed());
    check(r.ok() && r->is_request(), "CANCEL/ACK parses");
    auto b = r->top_via().branch();
    check(b.has_value(), "CANCEL/ACK has a branch");
    auto* t = by_branch(*b);
    check(t != nullptr, "CANCEL/ACK for an unknown branch");
    check(t->invite, "CANCEL/ACK for a non-INVITE");
    if (r->method() == "CANCEL") check(t->provisional, "CANCEL before a provisional response (RFC 3261 9.1)");
    else check(r->method() == "ACK", "hop-by-hop request is CANCEL or ACK");
  }
};

std::optional<sip::Message> response_to(const sip::Message& forwarded, int code) {
  std::string text = "SIP/2.0 " + std::to_string(code) + " Whatever\r\n";
  for (auto v : forwarded.get_all("Via")) text += "Via: " + std::string(v) + "\r\n";
  text += "From: " + std::string(forwarded.get("From").value_or("")) + "\r\n";
  std::string to(forwarded.get("To").value_or(""));
  if (code > 100 && !forwarded.to_tag()) to += ";tag=tt1";
  text += "To: " + to + "\r\nCall-ID: " + std::string(forwarded.call_id()) + "\r\nCSeq: " +
          std::to_string(forwarded.cseq().number) + " " + std::string(forwarded.cseq().method) +
          "\r\nContent-Length: 0\r\n\r\n";
  auto r = sip::parse_message(text, relaxed());
  if (!r.ok()) return std::nullopt;
  return std::move(*r);
}

void drive_transactions(const uint8_t* actions, size_t n, const std::optional<sip::Message>& fuzzed) {
  static constexpr int codes[] = {100, 180, 183, 200, 202, 300, 404, 408, 486, 487, 500, 603};
  static constexpr std::chrono::milliseconds steps[] = {
      std::chrono::milliseconds(0),     std::chrono::milliseconds(250),    std::chrono::milliseconds(1000),
      std::chrono::milliseconds(31999), std::chrono::milliseconds(32001),  std::chrono::milliseconds(180000),
      std::chrono::milliseconds(181001), std::chrono::milliseconds(3600000)};
  std::vector<tx_state> txs;
  std::vector<sip::Message> requests;
  recorder out;
  out.txs = &txs;
  table t(proxy::transaction_timers{}, out);
  auto now = proxy::steady_clock::time_point{} + std::chrono::hours(1);
  auto& s = fx().s;

  auto unknown_no_callback = [&](auto&& call, const char* what) {
    int before = out.calls;
    call();
    check(out.calls == before, what);
  };

  for (size_t i = 0; i < n; ++i) {
    uint8_t op = actions[i] & 7, arg = actions[i] >> 3;
    tx_state* tx = txs.empty() ? nullptr : &txs[arg % txs.size()];
    switch (op) {
      case 0: {  // start
        if (txs.size() >= 8) break;
        tx_state st;
        st.branch = proxy::make_branch(s, 0, txs.size() + 1, arg);
        st.origin = static_cast<int>(txs.size()) + 1;
        sip::Message m;
        if ((arg & 3) == 3 && fuzzed && fuzzed->method() != "ACK" && fuzzed->method() != "CANCEL") {
          m = *fuzzed;  // proxy_core starts no transaction for ACK or CANCEL
          st.branch = std::string(*m.top_via().branch());
          bool dup = false;
          for (auto& o : txs) dup |= o.branch == st.branch;
          if (dup) break;
        } else {
          static const char* methods[] = {"INVITE", "MESSAGE", "SUBSCRIBE"};
          st.origin_branch = "z9hG4bK-o" + std::to_string(txs.size());
          m = parse_or_die(request_text(methods[arg % 3], "b.test", st.origin_branch, st.branch), "template parses");
        }
        st.invite = m.method() == "INVITE";
        auto vias = m.vias();
        if (vias.size() >= 2 && vias[1].branch()) st.origin_branch = std::string(*vias[1].branch());
        else st.origin_branch.clear();
        txs.push_back(st);
        requests.push_back(m);
        t.start(st.branch, st.origin, st.origin_branch, std::move(m), proxy::next_hop{side::external, "b.test", ""}, now);
        break;
      }
      case 1: {  // response
        if (!tx) break;
        int code = codes[(arg + i) % std::size(codes)];
        auto r = response_to(requests[tx - txs.data()], code);
        if (!r) break;
        // Before the call: a pending CANCEL goes out from inside on_response.
        if (code < 200) tx->provisional = true;
        t.on_response(tx->branch, *r, now);
        break;
      }
      case 2: {  // CANCEL, from the right origin or (odd arg) another one
        if (!tx || tx->origin_branch.empty()) break;
        int origin = (arg & 1) ? -tx->origin : tx->origin;
        if (origin < 0)
          unknown_no_callback([&] { check(t.on_cancel(origin, tx->origin_branch, now) == table::cancel_result::unknown,
                                          "CANCEL from another origin matched"); },
                              "callback for a CANCEL from another origin");
        else
          t.on_cancel(origin, tx->origin_branch, now);
        break;
      }
      case 3:  // delivery failure
        if (tx) t.on_failure(tx->branch, 503, "Service Unavailable", now);
        break;
      case 4:  // clock advances, timers run
        now += steps[arg % std::size(steps)];
        t.expire(now);
        break;
      case 5:  // the origin's ACK
        if (tx && !tx->origin_branch.empty()) t.absorb_ack(tx->origin_branch);
        break;
      case 6: {  // response / failure for a branch never started
        std::string unknown = proxy::make_branch(s, 7, 1000 + arg, arg);
        auto r = parse_or_die(request_text("INVITE", "b.test", "z9hG4bK-x", unknown), "unknown request parses");
        auto resp = response_to(r, codes[arg % std::size(codes)]);
        check(resp.has_value(), "response to a template parses");
        unknown_no_callback([&] { check(!t.on_response(unknown, *resp, now), "unknown branch accepted"); },
                            "callback for a response on an unknown branch");
        unknown_no_callback([&] { t.on_failure(unknown, 503, "x", now); }, "callback for a failure on an unknown branch");
        break;
      }
      case 7:  // CANCEL for an INVITE never seen
        unknown_no_callback([&] {
          check(t.on_cancel(1, "z9hG4bK-never" + std::to_string(arg), now) == table::cancel_result::unknown,
                "CANCEL for an unknown INVITE matched");
        }, "callback for an unknown CANCEL");
        break;
    }
  }
  // Far in the future everything has ended (timer C -> CANCEL -> 408 -> absorbed ACK takes three rounds).
  for (int round = 0; round < 4; ++round) {
    now += std::chrono::hours(1);
    t.expire(now);
  }
  check(t.size() == 0, "transactions left after expiring far in the future");
  check(t.absorbed_ack_count() == 0, "absorbed ACKs left after expiring far in the future");
  // Every transaction ended with a final answer to its origin (forwarded, or the gateway's own).
  for (auto& x : txs) check(x.finals >= 1, "a transaction ended without a final answer to its origin");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)fx();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t tail = size < 24 ? size : 24;
  std::optional<sip::Message> forwarded;

  auto parsed = sip::parse_message(input);
  if (parsed.ok() && parsed->is_request()) {
    const sip::Message& m = *parsed;
    forwarded = route_both(m, 0);

    // The same request inside a dialog we record-routed: a valid own Route on
    // top (the side chosen by the input), so the in-dialog paths run too.
    side facing = (size & 1) ? side::external : side::internal;
    std::string rr = proxy::record_route_value(fx().s, facing, facing == side::external ? "b.test" : "", m);
    std::string text(m.raw());
    auto eol = text.find("\r\n");
    if (eol != std::string::npos) {
      text.insert(eol + 2, "Route: " + rr + "\r\n");
      auto with_route = sip::parse_message(text);
      if (with_route.ok()) {
        auto routes = with_route->routes();
        if (routes && !routes->empty() && proxy::parse_own_route((*routes)[0], *with_route, fx().s)) {
          auto r = route_both(*with_route, 1);
          if (r && !forwarded) forwarded = std::move(r);
        }
      }
    }
  }
  drive_transactions(data + size - tail, tail, forwarded);
  return 0;
}
