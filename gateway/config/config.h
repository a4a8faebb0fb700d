// Loading, defaulting and validating the gateway configuration (proto/config.proto).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "proto/config.pb.h"

namespace fedgw::config {

inline constexpr const char* default_control_socket = "/run/fedgw/control.sock";
inline constexpr const char* default_control_socket_mode = "0600";

// control_socket_mode as a number ("0660" -> 0660): 3 or 4 octal digits, else -1.
int parse_socket_mode(std::string_view text);
// control_socket_group as a group id: a group name known to this machine or a number;
// false with `error` ("no group \"x\" on this machine") otherwise.
bool resolve_group(const std::string& group, unsigned& gid, std::string& error);

struct load_result {
  Config config;
  // Each error names the field and value, or "source:line:column" for syntax errors.
  std::vector<std::string> errors;
  bool ok() const { return errors.empty(); }
};

// Parses protobuf text format, fills in defaults and validates. With `running` (a change to a running
// gateway), a password given as masked_secret keeps the running one (keep_masked_secrets).
load_result parse_config(std::string_view text, std::string_view source, const Config* running = nullptr);
// Reads and parses a file; a read failure is reported as an error.
load_result load_config_file(const std::string& path);

// Fills every unset optional field with its documented default.
void apply_defaults(Config& config);
// Every problem of an already defaulted config.
std::vector<std::string> validate(const Config& config);
// Problems of replacing `running` by `next` while the gateway runs: one line
// per field that only takes effect at start (mode, listeners, every limits.*
// field, control_socket, worker_threads), naming old and new value.
std::vector<std::string> validate_change(const Config& running, const Config& next);

// Time budgets derived from the configuration. They nest: whoever waits for
// work waits longer than the work may take, so that the answer carries the
// work's own diagnosis ("... timed out after 2 tries") instead of "request timeout".
//
// One DNS question at most: c-ares asks every server `tries` rounds and doubles
// the per-try timeout each round (c-ares 1.18), so servers x timeout x (2^tries - 1);
// without dns.servers, /etc/resolv.conf's at most 3 servers are assumed.
std::chrono::milliseconds dns_question_budget(const Dns& dns);
// The certificate manager's answer to a status request or a dry run.
inline constexpr std::chrono::milliseconds certificate_budget{5000};
// A federation readiness check at most: the certificate manager's answer, then
// per name (names run in parallel) the SRV names one after the other and the
// target addresses, each a DNS question.
std::chrono::milliseconds readiness_budget(const Config& config);
// What each waiter adds to the budget of the work it waits for.
inline constexpr std::chrono::milliseconds budget_margin{2000};
// The gateway answers a readiness request run with budget `readiness` within
// check_answer_budget, and a config apply (certificate dry run, certificate
// switch, then a readiness check with budget `readiness`) within apply_answer_budget.
inline std::chrono::milliseconds check_answer_budget(std::chrono::milliseconds readiness) {
  return readiness + budget_margin;
}
inline std::chrono::milliseconds apply_answer_budget(std::chrono::milliseconds readiness) {
  return 2 * certificate_budget + readiness + budget_margin;
}

// What config show and the admin page show instead of a password.
inline constexpr std::string_view masked_secret = "***";
// The config with its passwords replaced by masked_secret, and as text format.
Config masked(const Config& config);
std::string to_masked_text(const Config& config);
// A password given as masked_secret in `next` (a shown config sent back) keeps the running one.
void keep_masked_secrets(Config& next, const Config& running);

const char* mode_name(Mode mode);
const char* transport_name(Transport transport);

}  // namespace fedgw::config
