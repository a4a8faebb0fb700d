// The transaction-stateful proxy (RFC 3261 §16), sharded: each shard owns the
// client transactions whose branch it created (gateway/proxy/transactions.h),
// so requests of different calls are proxied on different cores. A request
// goes to the shard chosen by its Call-ID; its response comes back through the
// connection the request went out on, which knows the shard.
//
// Its interface is proxy_core_actor (actors/proxy_messages.h).
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "actors/proxy_messages.h"
#include "actors/status_log.h"
#include "gateway/proxy/rate_limit.h"
#include "gateway/proxy/transactions.h"

namespace fedgw {

// The dialogs whose partner connection the gateway remembers, per worker thread (dialog_flows_per_shard).
constexpr size_t dialog_flows_per_worker = 100000;
// The partner domains whose established connection one shard remembers (any shard may send to any domain).
constexpr size_t routes_per_shard = 10000;

struct proxy_core_options {
  std::shared_ptr<const proxy::settings> settings;
  size_t shard = 0;
  peer_registry_actor registry;
  status_log_actor log;
  proxy::transaction_timers timers;
  sip::Limits limits;  // the configured parse limits (re-parsing a request to answer it)
  // Responses connections dropped because they matched no request sent on them (shard 0 reports it).
  std::shared_ptr<std::atomic<uint64_t>> stray_responses;
  // Discovered-partner rate limit towards partner domains, shared by all shards (null: none).
  std::shared_ptr<proxy::partner_rate_limiter> outbound_limits;
  // Dialogs whose partner connection this shard remembers (dialog_flows_per_shard).
  size_t max_dialog_flows = dialog_flows_per_worker;
  // Partner domains whose established connection this shard remembers; when a new one finds them all
  // taken, the shard forgets them all and learns them again from the registry.
  size_t max_routes = routes_per_shard;
};

proxy_core_actor spawn_proxy_core(caf::actor_system& system, proxy_core_options options);

// The shard for a request (by Call-ID).
size_t shard_for_call(std::string_view call_id, size_t shards);

// How many shards a gateway with `workers` worker threads runs: one per two workers, at least one. A shard is
// resumed once per batch of its mailbox; with one per worker, a worker that runs them all (the cores busy)
// resumes more of them for the same requests: 2 workers cost 4.4 % more CPU per MESSAGE than 1, against 1.4 %
// with one shard (README, Performance). Half as many still spread: with 8 workers the busiest thread's share
// stayed at 14 %.
size_t proxy_core_shards(size_t workers);

// The dialogs each of those shards remembers the partner connection of: dialog_flows_per_worker per worker
// thread, so that the gateway's total does not depend on how the workers are grouped into shards.
size_t dialog_flows_per_shard(size_t workers);

// fedctl status's counters, derived from the shards' metrics (merged or one shard's), so that
// fedctl status and /metrics read the same numbers.
control::Counters status_counters(const metrics::sip_block& m);

}  // namespace fedgw
