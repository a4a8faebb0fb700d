// The message window: the newest 30 status entries of every component, each
// line starting with its local time stamp "(YYYY-MM-DD HH:MM:SS)".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "actors/messages.h"
#include "gateway/severity.h"

namespace fedgw {

struct status_entry {
  int64_t unix_ms = 0;
  uint8_t level = static_cast<uint8_t>(severity::info);  // a severity
  std::string component;
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, status_entry& x) {
  return f(caf::meta::type_name("status_entry"), x.unix_ms, x.level, x.component, x.text);
}

// Subscribers (any actor) receive (entry_atom, status_entry) for each new entry.
using status_log_actor = caf::typed_actor<
  caf::reacts_to<log_atom, status_entry>,                            // record an entry
  caf::replies_to<caf::get_atom>::with<std::vector<status_entry>>,   // the window, oldest first
  caf::reacts_to<caf::subscribe_atom, caf::actor>,
  caf::reacts_to<caf::unsubscribe_atom, caf::actor>>;

inline constexpr size_t status_window_size = 30;

struct status_log_options {
  size_t window = status_window_size;
  bool write_stderr = true;
  // Under systemd (stderr is the journal): each stderr line starts with its syslog priority,
  // "<3>" / "<4>" / "<6>" (journald's SyslogLevelPrefix), so journalctl -p works. The message
  // window is unchanged.
  bool syslog_prefix = false;
};

status_log_actor spawn_status_log(caf::actor_system& system, status_log_options options = {});

// "(2026-11-24 21:40:01) INFO  control: text" in local time.
std::string format_status_line(const status_entry& entry);
const char* severity_name(uint8_t level);
// The syslog priority of a severity: error 3, warning 4, info 6.
int syslog_priority(uint8_t level);
// The line written to stderr: format_status_line, with "<N>" in front when `syslog_prefix`.
std::string stderr_status_line(const status_entry& entry, bool syslog_prefix);

// Records an entry, stamped now. Safe from any actor or thread.
void report(const status_log_actor& log, severity level, std::string component, std::string text);

}  // namespace fedgw
