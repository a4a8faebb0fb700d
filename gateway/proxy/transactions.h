// The proxy's client transactions (RFC 3261 §16.6-16.10, §17.1; RFC 6026):
// plain code with an injected steady clock and a callbacks interface, so the
// proxy_core actor is only an adapter and every timer case is unit-testable.
//
// One entry per forwarded request, keyed by the branch of the Via the gateway
// added. Timers:
//  - no response at all within `final_response` (timer B/F): 408 upstream;
//  - INVITE after a provisional response: timer C (`timer_c`, > 3 min), reset
//    by every provisional response other than 100; on expiry a CANCEL goes
//    downstream and, when no final answer follows within `final_response`, 408;
//  - an INVITE answered 2xx stays "accepted" for `linger` (64·T1) so that
//    retransmitted and forked 2xx are forwarded too (RFC 6026);
//  - an INVITE answered non-2xx: the gateway ACKs downstream itself and
//    absorbs the origin's ACK for `linger` (RFC 3261 §17.1.1.3).
// 100 Trying is never forwarded (§16.7 step 3: it is hop-by-hop). A CANCEL
// is matched by the origin's branch *and* origin (§9.2) and goes downstream
// only once a provisional response arrived (§9.1).
//
// `Origin` is whatever identifies the connection a request came in on
// (caf::actor in the gateway, an int in tests); it must be equality-comparable.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/proxy/routing.h"
#include "gateway/sip/message.h"

namespace fedgw::proxy {

using steady_clock = std::chrono::steady_clock;

struct transaction_timers {
  std::chrono::milliseconds final_response{32000};  // timer B / F
  std::chrono::milliseconds timer_c{181000};        // RFC 3261 §16.6 step 11: greater than 3 minutes
  std::chrono::milliseconds linger{32000};          // 64·T1: accepted INVITEs, absorbed ACKs
};

// Where a forwarded request went; its CANCEL and ACK go the same way.
struct next_hop {
  side to = side::external;
  std::string domain;
  std::string address;  // ip:port of an internal connection named by the Request-URI, or ""
  std::string node;     // external in-dialog: the partner node of the route set, or "" (decision::node)
  std::string call_id;  // external in-dialog: the dialog, whose partner connection is preferred (dialog_flows)
};

// A CANCEL or the ACK of a non-2xx answer for a forwarded INVITE (RFC 3261
// §9.1, §17.1.1.3): its Request-URI, our Via (same branch), Route, From,
// Call-ID and CSeq number, `to` as the To header.
std::string follow_up_request(const sip::Message& invite, std::string_view method, std::string_view to);

template <class Origin>
class client_transactions {
 public:
  class callbacks {
   public:
    virtual ~callbacks() = default;
    // A response (status `code`) for the origin, our Via already removed.
    virtual void to_origin(const Origin& origin, int code, std::string wire) = 0;
    // The gateway's own answer to `request` (as forwarded; its raw() holds the bytes as received).
    virtual void answer(const Origin& origin, const sip::Message& request, int code, std::string reason) = 0;
    // A hop-by-hop CANCEL or ACK; nothing that comes back for it reaches the origin.
    virtual void to_next_hop(const next_hop& hop, std::string wire) = 0;
    // Observers (metrics): a response from the next hop matched a transaction; a transaction got its
    // final answer upstream (`code`, the gateway's own or the next hop's), once per transaction.
    virtual void response_in(const Origin& /*origin*/, const next_hop& /*hop*/, const sip::Message& /*response*/) {}
    virtual void finished(const Origin& /*origin*/, int /*code*/, steady_clock::time_point /*now*/) {}
  };

  enum class cancel_result { unknown, cancelled, already_final };

  client_transactions(transaction_timers timers, callbacks& out) : timers_(timers), out_(out) {}

  // A request was forwarded with our Via branch `branch`; `origin_branch` is
  // the branch of the Via it arrived with (CANCEL and ACK matching). ACKs
  // have no transaction.
  void start(const std::string& branch, Origin origin, std::string_view origin_branch, sip::Message forwarded,
             next_hop hop, steady_clock::time_point now) {
    entry e;
    e.origin = std::move(origin);
    e.request = std::move(forwarded);
    e.hop = std::move(hop);
    e.invite = e.request.method() == "INVITE";
    if (e.invite && !origin_branch.empty()) {
      e.origin_branch = std::string(origin_branch);
      invites_by_origin_branch_[e.origin_branch] = branch;
    }
    e.deadline = now + timers_.final_response;
    schedule(branch, e.deadline);
    entries_.insert_or_assign(branch, std::move(e));
  }

  // A response whose top Via carries `branch` arrived (on the connection the
  // request went out on: the caller checks that). Returns false when no
  // transaction knows it (dropped).
  bool on_response(const std::string& branch, sip::Message& response, steady_clock::time_point now) {
    auto it = entries_.find(branch);
    if (it == entries_.end()) return false;
    auto& e = it->second;
    out_.response_in(e.origin, e.hop, response);
    if (response.cseq().method == "CANCEL") return true;  // our hop-by-hop CANCEL: answered here already
    int code = response.status_code();
    if (e.accepted) {
      // RFC 6026: further 2xx (retransmitted or forked) still go upstream; nothing else does.
      if (code >= 200 && code < 300) forward_upstream(e, response);
      return true;
    }
    if (code < 200) {
      e.provisional = true;
      if (e.invite) {
        // Proceeding: timer B stops, timer C runs (reset by each provisional) until a CANCEL went out.
        if (!e.cancel_sent) {
          e.deadline = now + timers_.timer_c;
          schedule(branch, e.deadline);
        }
        if (e.cancel_pending) send_cancel(branch, e, now);
      }
      if (code > 100) forward_upstream(e, response);
      return true;
    }
    if (e.invite && code >= 300) {
      out_.to_next_hop(e.hop, follow_up_request(e.request, "ACK", response.get("To").value_or("")));
    }
    if (!e.answered) forward_upstream(e, response);
    finish(it, code, now);
    return true;
  }

  // CANCEL from `origin` for the INVITE that arrived with `origin_branch`.
  // The caller answers the CANCEL itself (200, or 481 for unknown).
  cancel_result on_cancel(const Origin& origin, std::string_view origin_branch, steady_clock::time_point now) {
    auto found = invites_by_origin_branch_.find(std::string(origin_branch));
    if (found == invites_by_origin_branch_.end()) return cancel_result::unknown;
    auto it = entries_.find(found->second);
    if (it == entries_.end() || !(it->second.origin == origin)) return cancel_result::unknown;
    auto& e = it->second;
    if (e.accepted || e.answered) return cancel_result::already_final;
    if (e.provisional) send_cancel(it->first, e, now);
    else e.cancel_pending = true;  // RFC 3261 §9.1: not before a provisional response
    return cancel_result::cancelled;
  }

  // The origin's ACK for an INVITE this gateway ACKed itself (non-2xx answer):
  // true when it is absorbed here.
  bool absorb_ack(std::string_view origin_branch) {
    auto it = absorbed_acks_.find(std::string(origin_branch));
    if (it == absorbed_acks_.end()) return false;
    absorbed_acks_.erase(it);
    return true;
  }

  // The request could not be delivered (no connection, refused, lost).
  void on_failure(const std::string& branch, int code, const std::string& reason, steady_clock::time_point now) {
    auto it = entries_.find(branch);
    if (it == entries_.end() || it->second.accepted) return;
    if (!it->second.answered) out_.answer(it->second.origin, it->second.request, code, reason);
    finish(it, code, now);
  }

  // Runs the timers due at `now`.
  void expire(steady_clock::time_point now) {
    while (!deadlines_.empty() && deadlines_.top().first <= now) {
      auto [when, key] = deadlines_.top();
      deadlines_.pop();
      if (key.absorbed_ack) {
        auto a = absorbed_acks_.find(key.branch);
        if (a != absorbed_acks_.end() && a->second <= now) absorbed_acks_.erase(a);
        continue;
      }
      auto it = entries_.find(key.branch);
      if (it == entries_.end() || it->second.deadline != when) continue;  // stale heap entry
      auto& e = it->second;
      if (e.accepted || e.answered) {
        erase(it);
      } else if (e.invite && e.provisional && !e.cancel_sent) {
        // Timer C: cancel downstream; the 487 (or anything final) then answers the origin.
        send_cancel(it->first, e, now);
      } else {
        out_.answer(e.origin, e.request, 408, "Request Timeout - no final response from the next hop");
        finish(it, 408, now);  // an INVITE's origin ACKs the 408: absorbed here
      }
    }
  }

  size_t size() const { return entries_.size(); }
  size_t absorbed_ack_count() const { return absorbed_acks_.size(); }
  // Timer entries held, stale ones included (bounded: see push_deadline).
  size_t pending_timers() const { return deadlines_.size(); }

 private:
  struct entry {
    Origin origin;
    sip::Message request;  // as forwarded; raw() keeps the bytes as received
    next_hop hop;
    bool invite = false;
    bool provisional = false;     // a 1xx arrived (CANCEL may be sent)
    bool cancel_pending = false;  // CANCEL received before any provisional
    bool cancel_sent = false;
    bool answered = false;        // the origin has its final response
    bool accepted = false;        // INVITE with a 2xx: forwards further 2xx until deadline
    std::string origin_branch;
    steady_clock::time_point deadline{};
  };
  struct timer_key {
    std::string branch;
    bool absorbed_ack = false;
  };
  using timer = std::pair<steady_clock::time_point, timer_key>;
  struct later {
    bool operator()(const timer& a, const timer& b) const { return a.first > b.first; }
  };
  using iterator = typename std::unordered_map<std::string, entry>::iterator;
  static constexpr size_t kStaleTimerSlack = 1024;

  void schedule(const std::string& branch, steady_clock::time_point when) { push_deadline({when, {branch, false}}); }

  // The heap deletes lazily: a transaction answered at once leaves its timer B/F entry behind until that
  // deadline (32 s), i.e. 32 s x the request rate of them. Past twice the live timers (plus slack, so the
  // rebuild stays amortised O(1) per push) the heap is rebuilt from the live deadlines alone.
  void push_deadline(timer t) {
    if (deadlines_.size() >= 2 * (entries_.size() + absorbed_acks_.size()) + kStaleTimerSlack) {
      std::vector<timer> live;
      live.reserve(entries_.size() + absorbed_acks_.size() + 1);
      for (const auto& [branch, e] : entries_) live.push_back({e.deadline, {branch, false}});
      for (const auto& [origin_branch, until] : absorbed_acks_) live.push_back({until, {origin_branch, true}});
      deadlines_ = decltype(deadlines_)(later{}, std::move(live));
    }
    deadlines_.push(std::move(t));
  }

  void forward_upstream(entry& e, sip::Message& response) {
    response.remove_top_via();
    out_.to_origin(e.origin, response.status_code(), response.serialize());
  }

  // RFC 3261 §9.1: without a final answer 64·T1 after the CANCEL, the INVITE is given up (408 upstream).
  void send_cancel(const std::string& branch, entry& e, steady_clock::time_point now) {
    e.cancel_pending = false;
    e.cancel_sent = true;
    out_.to_next_hop(e.hop, follow_up_request(e.request, "CANCEL", e.request.get("To").value_or("")));
    e.deadline = now + timers_.final_response;
    schedule(branch, e.deadline);
  }

  // A final answer went upstream: INVITE 2xx lingers (RFC 6026), INVITE
  // non-2xx leaves an ACK to absorb, everything else ends now.
  void finish(iterator it, int code, steady_clock::time_point now) {
    auto& e = it->second;
    if (!e.answered) out_.finished(e.origin, code, now);
    e.answered = true;
    if (e.invite && code >= 200 && code < 300) {
      e.accepted = true;
      e.deadline = now + timers_.linger;
      schedule(it->first, e.deadline);
      return;
    }
    if (e.invite && !e.origin_branch.empty()) {
      auto until = now + timers_.linger;
      absorbed_acks_[e.origin_branch] = until;
      push_deadline({until, {e.origin_branch, true}});
    }
    erase(it);
  }

  void erase(iterator it) {
    if (!it->second.origin_branch.empty()) {
      auto found = invites_by_origin_branch_.find(it->second.origin_branch);
      if (found != invites_by_origin_branch_.end() && found->second == it->first)
        invites_by_origin_branch_.erase(found);
    }
    entries_.erase(it);
  }

  transaction_timers timers_;
  callbacks& out_;
  std::unordered_map<std::string, entry> entries_;
  std::unordered_map<std::string, std::string> invites_by_origin_branch_;
  std::unordered_map<std::string, steady_clock::time_point> absorbed_acks_;
  std::priority_queue<timer, std::vector<timer>, later> deadlines_;
};

}  // namespace fedgw::proxy
