// The resolver's answer cache (positive and RFC 2308 negative entries) and its
// short-lived "unreachable ip:port" list. Plain, single-threaded classes; time
// is passed in so tests control it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "gateway/dns/types.h"

namespace fedgw::dns {

using clock = std::chrono::steady_clock;

struct cache_options {
  uint32_t max_ttl_s = 3600;         // ceiling on every TTL (config max_cache_ttl_s); 0: cache nothing
  uint32_t negative_default_s = 30;  // NXDOMAIN/NODATA without an SOA
  uint32_t failure_ttl_s = 5;        // timeouts / SERVFAIL (RFC 2308 §7: at most 5 minutes)
  size_t max_entries = 10000;
};

// Seconds an answer may be cached: positive answers their smallest record TTL,
// negative ones the SOA-derived TTL (or negative_default_s without an SOA),
// failures failure_ttl_s; all capped at max_ttl_s.
uint32_t cache_ttl(const answer& a, const cache_options& options);

class answer_cache {
public:
  explicit answer_cache(cache_options options = {}) : options_(options) {}

  // A live entry, with its record TTLs and ttl lowered to the remaining time.
  std::optional<answer> find(const std::string& name, rr_type type, clock::time_point now) const;
  // Stores an answer for cache_ttl() seconds (not at all when that is 0).
  void put(const std::string& name, rr_type type, const answer& a, clock::time_point now);
  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }
  const cache_options& options() const { return options_; }
  void set_options(cache_options options) { options_ = options; }

private:
  struct entry {
    answer value;
    clock::time_point stored;
    clock::time_point expires;
  };
  using key = std::pair<std::string, uint16_t>;  // lower-case name, type
  void make_room(clock::time_point now);

  cache_options options_;
  std::map<key, entry> entries_;
};

// ip:port pairs a caller failed to reach, each forgotten after its own expiry.
class unreachable_list {
public:
  void mark(const std::string& ip, uint16_t port, clock::time_point until);
  void clear(const std::string& ip, uint16_t port);
  bool contains(const std::string& ip, uint16_t port, clock::time_point now) const;
  // Drops expired entries; returns how many remain.
  size_t expire(clock::time_point now);
  size_t size() const { return entries_.size(); }

private:
  std::map<std::pair<std::string, uint16_t>, clock::time_point> entries_;
};

// Lower case, without a trailing dot: the cache and coalescing key of a name.
std::string normalize_name(std::string name);

}  // namespace fedgw::dns
