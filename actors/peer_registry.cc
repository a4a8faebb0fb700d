#include "actors/peer_registry.h"

#include "gateway/net/address.h"
#include "gateway/proxy/log_throttle.h"
#include "gateway/proxy/rate_limit.h"
#include "gateway/proxy/routing.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <random>

namespace fedgw {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
    .count();
}

struct domain_entry {
  connection_actor connection;  // invalid while none
  peer_info info;
  int failure_status = 503;  // what requests get during back-off (404: no DNS record)
  std::chrono::milliseconds backoff{0};
};

// A partner node named by dialogs' route sets (their Record-Route): in-dialog
// requests go there (RFC 3261 §16.12), over a connection that already reaches
// it when there is one (RFC 5923), so a dialog is not split over connections.
struct node_entry {
  connection_actor connection;  // invalid while none
  peer_info info;
  std::chrono::milliseconds backoff{0};
};

// Node entries are keyed by attacker-influenced values (Record-Route): bounded.
constexpr size_t max_node_entries = 10000;

std::string node_key(const std::string& domain, const std::string& node) { return domain + " " + node; }

struct registry_state {
  peer_registry_options options;
  std::map<std::string, domain_entry> domains;
  std::map<std::string, node_entry> nodes;  // by node_key()
  std::vector<connection_actor> internal;  // known UC server connections
  std::map<std::string, connection_actor> internal_by_address;  // peer ip:port -> connection
  size_t next_internal = 0;
  std::mt19937 random{std::random_device{}()};
  bool via_proxy = false;          // SIP_PROXY mode
  connection_actor proxy;          // its session (invalid while there is none)
  std::string no_proxy_reason;
};

using self_ptr = peer_registry_actor::stateful_pointer<registry_state>;

// Untracked requests (CANCEL, ACK: empty branch) have no transaction to fail.
void fail(const proxy_core_actor& shard, const std::string& branch, int status, const std::string& reason) {
  if (!branch.empty()) caf::anon_send(shard, fail_atom::value, branch, status, reason);
}


// The next back-off step, with jitter (50..100 % of the step).
int64_t backoff_until(self_ptr self, std::chrono::milliseconds& backoff) {
  auto& st = self->state;
  auto step = backoff.count() == 0 ? st.options.backoff_initial : std::min(st.options.backoff_max, backoff * 2);
  backoff = step;
  std::uniform_int_distribution<int64_t> jitter(step.count() / 2, step.count());
  return now_ms() + jitter(st.random);
}

// Entries without a connection whose back-off has passed go first; then, if
// still full, every entry without a connection.
void prune_nodes(self_ptr self) {
  auto& nodes = self->state.nodes;
  if (nodes.size() < max_node_entries) return;
  auto now = now_ms();
  for (bool any_idle : {false, true})
    for (auto it = nodes.begin(); it != nodes.end() && nodes.size() >= max_node_entries;)
      it = !it->second.connection && (any_idle || it->second.info.backoff_until_ms <= now) ? nodes.erase(it)
                                                                                          : std::next(it);
}

// The IP of a node key ("1.2.3.4:5061", "[2001:db8::1]:5061", "1.2.3.4"), or "" for a host name.
std::string node_ip(const std::string& node) {
  std::string host = node;
  if (!node.empty() && node.front() == '[') host = node.substr(1, node.find(']') - 1);
  else if (std::count(node.begin(), node.end(), ':') == 1) host = node.substr(0, node.find(':'));
  return net::is_ip(host) ? host : std::string();
}

// The domain's connection when it comes from the node's address: a partner
// edge that connected to us from the host its Record-Route names (RFC 5923
// reuse for peers that send no alias, e.g. Kamailio by default).
connection_actor connection_from_node_address(self_ptr self, const std::string& domain, const std::string& node) {
  auto ip = node_ip(node);
  auto d = self->state.domains.find(domain);
  if (ip.empty() || d == self->state.domains.end() || !d->second.connection || d->second.info.state != "up")
    return {};
  auto from = net::parse_endpoint(d->second.info.address);
  return from && from->ip == ip ? d->second.connection : connection_actor{};
}

// The entry of a route-set node (made when first named; the table is bounded).
node_entry& node_entry_for(self_ptr self, const std::string& domain, const std::string& node) {
  auto& nodes = self->state.nodes;
  auto key = node_key(domain, node);
  auto found = nodes.find(key);
  if (found == nodes.end()) {
    prune_nodes(self);
    found = nodes.emplace(key, node_entry{}).first;
    found->second.info.domain = domain;
    found->second.info.node = node;
    found->second.info.address = node;
  }
  return found->second;
}

// In-dialog: the node of the route set, over a connection reaching it, else a new one.
void forward_to_node(self_ptr self, const std::string& domain, const std::string& node, std::string& wire,
                     const proxy_core_actor& shard, const std::string& branch) {
  auto& st = self->state;
  auto& e = node_entry_for(self, domain, node);
  if (!e.connection) {
    if (auto same_host = connection_from_node_address(self, domain, node))
      return caf::anon_send(same_host, transmit_atom::value, std::move(wire), shard, branch);
    auto now = now_ms();
    if (e.info.state == "backoff" && now < e.info.backoff_until_ms)
      return fail(shard, branch, 503,
                  "Service Unavailable - " + domain + " node " + node + " unreachable (" + e.info.last_error +
                    "); next attempt in " + std::to_string((e.info.backoff_until_ms - now + 999) / 1000) + " s");
    e.connection = st.options.connect(domain, node);
    self->monitor(e.connection);
    e.info.state = "connecting";
    e.info.direction = "outbound";
    e.info.since_ms = now;
  }
  caf::anon_send(e.connection, transmit_atom::value, std::move(wire), shard, branch);
}

// fedctl peers: every domain entry, and node entries whose connection is not already listed as a domain's.
std::vector<peer_info> peer_table(self_ptr self) {
  auto& st = self->state;
  std::vector<peer_info> out;
  for (auto& [domain, e] : st.domains) out.push_back(e.info);
  for (auto& [key, e] : st.nodes) {
    bool listed = e.connection && std::any_of(st.domains.begin(), st.domains.end(), [&](const auto& d) {
                    return d.second.connection == e.connection;
                  });
    if (!listed) out.push_back(e.info);
  }
  return out;
}

peer_registry_actor::behavior_type registry_impl(self_ptr self, peer_registry_options options) {
  self->state.options = std::move(options);
  self->set_down_handler([=](const caf::down_msg& down) {
    auto& st = self->state;
    st.internal.erase(std::remove_if(st.internal.begin(), st.internal.end(),
                                     [&](const connection_actor& a) { return a.address() == down.source; }),
                      st.internal.end());
    for (auto it = st.internal_by_address.begin(); it != st.internal_by_address.end();)
      it = it->second.address() == down.source ? st.internal_by_address.erase(it) : std::next(it);
    for (auto& [domain, e] : st.domains)
      if (e.connection && e.connection.address() == down.source) {
        e.connection = nullptr;
        if (e.info.state != "backoff") e.info.state = "down";
      }
    // Node entries of a lost connection go, unless they carry a back-off.
    for (auto it = st.nodes.begin(); it != st.nodes.end();) {
      auto& e = it->second;
      if (e.connection && e.connection.address() == down.source) e.connection = nullptr;
      it = !e.connection && e.info.state != "backoff" ? st.nodes.erase(it) : std::next(it);
    }
  });
  return {
    [=](via_proxy_atom, connection_actor& proxy, const std::string& reason) {
      auto& st = self->state;
      st.via_proxy = static_cast<bool>(proxy) || !reason.empty();
      st.proxy = std::move(proxy);
      st.no_proxy_reason = reason;
    },
    [=](forward_atom, const std::string& domain, const std::string& node, std::string& wire,
        const proxy_core_actor& shard, const std::string& branch) {
      auto& st = self->state;
      if (st.via_proxy) {
        // The proxy routes by the Request-URI (outbound proxy): no DNS lookup, no direct connection.
        if (!st.proxy) return fail(shard, branch, 503, "Service Unavailable - " + st.no_proxy_reason);
        return caf::anon_send(st.proxy, transmit_atom::value, std::move(wire), shard, branch);
      }
      auto& e = st.domains[domain];
      e.info.domain = domain;
      // (The shards apply the discovered-partner rate limit before they ask.)
      if (!node.empty()) return forward_to_node(self, domain, node, wire, shard, branch);
      if (!e.connection) {
        auto now = now_ms();
        if (e.info.state == "backoff" && now < e.info.backoff_until_ms) {
          if (e.failure_status == 404) return fail(shard, branch, 404, "Not Found - " + e.info.last_error);
          return fail(shard, branch, 503,
                      "Service Unavailable - " + domain + " unreachable (" + e.info.last_error + "); next attempt in " +
                        std::to_string((e.info.backoff_until_ms - now + 999) / 1000) + " s");
        }
        e.connection = st.options.connect(domain, {});
        self->monitor(e.connection);
        e.info.state = "connecting";
        e.info.direction = "outbound";
        e.info.since_ms = now;
      }
      if (e.info.state == "connecting") ++e.info.queued;
      caf::anon_send(e.connection, transmit_atom::value, std::move(wire), shard, branch);
      // The shard sends the domain's next requests to the established connection itself.
      if (e.info.state == "up") caf::anon_send(shard, route_atom::value, domain, response_sink(e.connection));
    },
    [=](deliver_atom, std::string& wire, const proxy_core_actor& shard, const std::string& branch,
        const std::string& target_address) {
      auto& st = self->state;
      if (st.internal.empty())
        return fail(shard, branch, 503, "Service Unavailable - the internal UC server is not connected");
      // A Request-URI naming the address of an internal connection (an in-dialog
      // request to a Contact) goes over that connection; others are spread.
      auto flow = st.internal_by_address.find(target_address);
      const auto& c = flow != st.internal_by_address.end() ? flow->second
                                                          : st.internal[st.next_internal++ % st.internal.size()];
      caf::anon_send(c, transmit_atom::value, std::move(wire), shard, branch);
    },
    [=](uc_server_atom) {
      std::vector<std::string> addresses;
      for (const auto& entry : self->state.internal_by_address) addresses.push_back(entry.first);
      return addresses;
    },
    [=](uc_server_atom, const connection_actor& connection, const std::string& address) {
      self->monitor(connection);
      self->state.internal.push_back(connection);
      self->state.internal_by_address[address] = connection;
    },
    [=](up_atom, const std::vector<std::string>& domains, const connection_actor& connection, const peer_info& info) {
      auto& st = self->state;
      for (const auto& d : domains) {
        auto& e = st.domains[d];
        // An established connection is kept; a new one is only taken when none is up.
        if (e.connection && e.connection != connection && e.info.state == "up") continue;
        if (e.connection != connection) self->monitor(connection);
        e.connection = connection;
        auto failures = e.info.failures;
        e.info = info;
        e.info.domain = d;
        e.info.state = "up";
        e.info.failures = failures;
        e.backoff = std::chrono::milliseconds(0);
      }
    },
    [=](down_atom, const connection_actor& connection, const std::string& reason) {
      for (auto& [domain, e] : self->state.domains)
        if (e.connection == connection) {
          e.connection = nullptr;
          e.info.state = "down";
          e.info.last_error = reason;
        }
    },
    [=](node_atom, const std::string& domain, const std::string& node, const connection_actor& connection) {
      auto& e = node_entry_for(self, domain, node);
      // An established connection to the node is kept.
      if (e.connection && e.connection != connection && e.info.state == "up") return;
      if (e.connection != connection) self->monitor(connection);
      e.connection = connection;
      e.info.state = "up";
      e.info.since_ms = now_ms();
      e.backoff = std::chrono::milliseconds(0);
    },
    [=](failed_atom, const std::string& domain, const std::string& node, const std::string& reason, int status) {
      auto& st = self->state;
      if (!node.empty()) {
        auto found = st.nodes.find(node_key(domain, node));
        if (found == st.nodes.end()) return;
        auto& e = found->second;
        e.connection = nullptr;
        e.info.state = "backoff";
        e.info.last_error = reason;
        e.info.failures += 1;
        e.info.backoff_until_ms = backoff_until(self, e.backoff);
        return;
      }
      auto& e = st.domains[domain];
      e.failure_status = status;
      e.connection = nullptr;
      e.info.state = "backoff";
      e.info.last_error = reason;
      e.info.failures += 1;
      e.info.queued = 0;
      e.info.backoff_until_ms = backoff_until(self, e.backoff);
    },
    [=](peer_reset_atom, const std::string& name) -> std::string {
      auto& st = self->state;
      auto it = st.domains.find(proxy::lower(name));
      if (it == st.domains.end()) return "no partner domain " + name + " is known";
      auto& e = it->second;
      if (e.info.state != "backoff") return e.info.domain + ": not in back-off (" + e.info.state + ")";
      e.backoff = {};
      e.info.backoff_until_ms = 0;
      e.info.state = "down";
      report(st.options.log, severity::info, "peer",
             e.info.domain + ": back-off cleared by the operator; the next request connects");
      return e.info.domain + ": back-off cleared (" + std::to_string(e.info.failures) +
             " failure(s) so far); the next request connects";
    },
    [=](peer_close_atom, const std::string& name) -> std::string {
      auto& st = self->state;
      auto it = st.domains.find(proxy::lower(name));
      if (it == st.domains.end() || !it->second.connection)
        return "no connection to " + name + " is open";
      caf::anon_send(it->second.connection, close_atom::value, std::string("closed by the operator"));
      return it->second.info.domain + ": closing its connection (requests in flight get 503)";
    },
    [=](peers_atom) -> std::vector<peer_info> { return peer_table(self); },
    [=](metrics_atom) -> metrics::peer_block {
      auto& st = self->state;
      metrics::peer_block out;
      if (st.options.connection_counters) out.connections = metrics::snapshot(*st.options.connection_counters);
      for (const auto& p : peer_table(self)) {
        auto direction = p.direction == "inbound" ? metrics::conn_direction::inbound : metrics::conn_direction::outbound;
        out.count_peer(direction, metrics::peer_state_of(p.state));
      }
      for (const auto& [domain, e] : st.domains) out.domains.emplace_back(domain, metrics::peer_state_of(e.info.state));
      return out;
    },
  };
}

}  // namespace

peer_registry_actor spawn_peer_registry(caf::actor_system& system, peer_registry_options options) {
  return system.spawn(registry_impl, std::move(options));
}

}  // namespace fedgw
