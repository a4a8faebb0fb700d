#include "actors/status_log.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>

namespace fedgw {

namespace {

struct status_log_state {
  status_log_options options;
  std::deque<status_entry> window;
  std::vector<caf::actor> subscribers;
};

status_log_actor::behavior_type
status_log_impl(status_log_actor::stateful_pointer<status_log_state> self, status_log_options options) {
  self->state.options = options;
  self->set_down_handler([=](const caf::down_msg& down) {
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const caf::actor& a) { return a.address() == down.source; }),
               subs.end());
  });
  return {
    [=](log_atom, status_entry& entry) {
      auto& st = self->state;
      if (st.options.write_stderr) {
        auto line = stderr_status_line(entry, st.options.syslog_prefix) + "\n";
        std::fwrite(line.data(), 1, line.size(), stderr);
      }
      // anon_send: subscribers are dynamically typed, and a reply is never expected.
      for (auto& sub : st.subscribers) caf::anon_send(sub, entry_atom::value, entry);
      st.window.push_back(std::move(entry));
      while (st.window.size() > st.options.window) st.window.pop_front();
    },
    [=](caf::get_atom) {
      auto& w = self->state.window;
      return std::vector<status_entry>(w.begin(), w.end());
    },
    [=](caf::subscribe_atom, caf::actor& subscriber) {
      self->monitor(subscriber);
      self->state.subscribers.push_back(std::move(subscriber));
    },
    [=](caf::unsubscribe_atom, const caf::actor& subscriber) {
      auto& subs = self->state.subscribers;
      subs.erase(std::remove(subs.begin(), subs.end(), subscriber), subs.end());
    },
  };
}

}  // namespace

status_log_actor spawn_status_log(caf::actor_system& system, status_log_options options) {
  return system.spawn(status_log_impl, options);
}

const char* severity_name(uint8_t level) {
  switch (static_cast<severity>(level)) {
    case severity::warning: return "WARN ";
    case severity::error: return "ERROR";
    default: return "INFO ";
  }
}

int syslog_priority(uint8_t level) {
  switch (static_cast<severity>(level)) {
    case severity::warning: return 4;  // LOG_WARNING
    case severity::error: return 3;    // LOG_ERR
    default: return 6;                 // LOG_INFO
  }
}

std::string stderr_status_line(const status_entry& entry, bool syslog_prefix) {
  if (!syslog_prefix) return format_status_line(entry);
  return "<" + std::to_string(syslog_priority(entry.level)) + ">" + format_status_line(entry);
}

std::string format_status_line(const status_entry& entry) {
  std::time_t seconds = static_cast<std::time_t>(entry.unix_ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "(%Y-%m-%d %H:%M:%S)", &local);
  std::string line = stamp;
  line += ' ';
  line += severity_name(entry.level);
  line += ' ';
  line += entry.component;
  line += ": ";
  line += entry.text;
  return line;
}

void report(const status_log_actor& log, severity level, std::string component, std::string text) {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
  caf::anon_send(log, log_atom::value,
                 status_entry{now, static_cast<uint8_t>(level), std::move(component), std::move(text)});
}

}  // namespace fedgw
