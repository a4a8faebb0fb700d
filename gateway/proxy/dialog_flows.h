// The connection each dialog's latest request from a partner came in on, by
// Call-ID, so that the gateway's in-dialog requests towards that partner go
// back on it (RFC 5923 reuse): the 200 to a partner's request and the NOTIFY
// that follows it then share one ordered stream, and a NOTIFY cannot overtake
// its 200 on a second connection (partner edges such as Kamailio open more
// than one). Plain code with an injected clock; one table per proxy-core shard
// (a Call-ID always lands on the same shard), bounded in entries and age.
//
// `Connection` is whatever names a connection (a CAF handle in the gateway, an
// int in tests); equality-comparable.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace fedgw::proxy {

template <class Connection>
class dialog_flows {
 public:
  using clock = std::chrono::steady_clock;

  dialog_flows(size_t max_entries, clock::duration idle_expiry) : max_(max_entries), expiry_(idle_expiry) {}

  // A request of `domain`'s dialog `call_id` arrived on `connection`. Keyed
  // by both: a partner choosing another's Call-ID cannot redirect its dialog.
  void remember(const std::string& call_id, const std::string& domain, Connection connection, clock::time_point now) {
    auto k = key(call_id, domain);
    auto found = flows_.find(k);
    if (found == flows_.end()) {
      if (flows_.size() >= max_) prune(now);
      if (flows_.size() >= max_) return;  // full of live dialogs: they fall back to the route set
      flows_.emplace(std::move(k), entry{std::move(connection), now});
      return;
    }
    found->second = entry{std::move(connection), now};
  }

  // The connection for an in-dialog request of `domain` in dialog `call_id`,
  // if a request of that dialog came from that domain recently.
  std::optional<Connection> find(const std::string& call_id, const std::string& domain, clock::time_point now) {
    auto found = flows_.find(key(call_id, domain));
    if (found == flows_.end()) return std::nullopt;
    if (now - found->second.last_used >= expiry_) {
      flows_.erase(found);
      return std::nullopt;
    }
    found->second.last_used = now;
    return found->second.connection;
  }

  // The connection is gone: its dialogs fall back to the route set.
  template <class Match>
  void forget_if(Match&& is_gone) {
    for (auto it = flows_.begin(); it != flows_.end();)
      it = is_gone(it->second.connection) ? flows_.erase(it) : std::next(it);
  }

  size_t size() const { return flows_.size(); }

 private:
  struct entry {
    Connection connection;
    clock::time_point last_used;
  };

  static std::string key(const std::string& call_id, const std::string& domain) { return call_id + '\n' + domain; }

  void prune(clock::time_point now) {
    for (auto it = flows_.begin(); it != flows_.end();)
      it = now - it->second.last_used >= expiry_ ? flows_.erase(it) : std::next(it);
  }

  size_t max_;
  clock::duration expiry_;
  std::unordered_map<std::string, entry> flows_;
};

}  // namespace fedgw::proxy
