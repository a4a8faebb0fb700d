#include "gateway/dns/cache.h"

#include <algorithm>

namespace fedgw::dns {

std::string normalize_name(std::string name) {
  while (!name.empty() && name.back() == '.') name.pop_back();
  for (auto& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return name;
}

uint32_t cache_ttl(const answer& a, const cache_options& options) {
  uint32_t ttl = 0;
  if (a.result == outcome::ok || a.result == outcome::no_service)
    ttl = a.ttl;
  else if (is_negative(a.result))
    ttl = a.has_soa ? a.ttl : options.negative_default_s;
  else if (a.result == outcome::timeout || a.result == outcome::server_failure)
    ttl = options.failure_ttl_s;
  return std::min(ttl, options.max_ttl_s);
}

std::optional<answer> answer_cache::find(const std::string& name, rr_type type,
                                         clock::time_point now) const {
  auto it = entries_.find({normalize_name(name), static_cast<uint16_t>(type)});
  if (it == entries_.end() || now >= it->second.expires) return std::nullopt;
  auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - it->second.stored).count();
  auto age = static_cast<uint32_t>(std::max<int64_t>(0, elapsed));
  auto lower = [age](uint32_t ttl) { return ttl > age ? ttl - age : 0; };
  answer a = it->second.value;
  auto remaining = std::chrono::duration_cast<std::chrono::seconds>(it->second.expires - now).count();
  a.ttl = static_cast<uint32_t>(std::max<int64_t>(0, remaining));
  for (auto& s : a.srv) s.ttl = std::min(lower(s.ttl), a.ttl);
  for (auto& r : a.addresses) r.ttl = std::min(lower(r.ttl), a.ttl);
  return a;
}

void answer_cache::put(const std::string& name, rr_type type, const answer& a, clock::time_point now) {
  uint32_t ttl = cache_ttl(a, options_);
  key k{normalize_name(name), static_cast<uint16_t>(type)};
  if (ttl == 0) {
    entries_.erase(k);
    return;
  }
  if (!entries_.count(k)) make_room(now);
  auto& e = entries_[k];
  e.value = a;
  e.stored = now;
  e.expires = now + std::chrono::seconds(ttl);
}

void answer_cache::make_room(clock::time_point now) {
  if (entries_.size() < options_.max_entries) return;
  for (auto it = entries_.begin(); it != entries_.end();)
    it = now >= it->second.expires ? entries_.erase(it) : std::next(it);
  while (!entries_.empty() && entries_.size() >= options_.max_entries) {
    auto soonest = std::min_element(entries_.begin(), entries_.end(), [](const auto& x, const auto& y) {
      return x.second.expires < y.second.expires;
    });
    entries_.erase(soonest);
  }
}

void unreachable_list::mark(const std::string& ip, uint16_t port, clock::time_point until) {
  entries_[{ip, port}] = until;
}

void unreachable_list::clear(const std::string& ip, uint16_t port) { entries_.erase({ip, port}); }

bool unreachable_list::contains(const std::string& ip, uint16_t port, clock::time_point now) const {
  auto it = entries_.find({ip, port});
  return it != entries_.end() && now < it->second;
}

size_t unreachable_list::expire(clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();)
    it = now >= it->second ? entries_.erase(it) : std::next(it);
  return entries_.size();
}

}  // namespace fedgw::dns
