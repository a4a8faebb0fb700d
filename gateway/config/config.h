// Loading, defaulting and validating the gateway configuration (proto/config.proto).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proto/config.pb.h"

namespace fedgw::config {

inline constexpr const char* default_control_socket = "/run/fedgw/control.sock";

struct load_result {
  Config config;
  // Each error names the field and value, or "source:line:column" for syntax errors.
  std::vector<std::string> errors;
  bool ok() const { return errors.empty(); }
};

// Parses protobuf text format, fills in defaults and validates.
load_result parse_config(std::string_view text, std::string_view source);
// Reads and parses a file; a read failure is reported as an error.
load_result load_config_file(const std::string& path);

// Fills every unset optional field with its documented default.
void apply_defaults(Config& config);
// Every problem of an already defaulted config.
std::vector<std::string> validate(const Config& config);
// Problems of replacing `running` by `next` while the gateway runs
// (settings that only take effect at start).
std::vector<std::string> validate_change(const Config& running, const Config& next);

// Text format with passwords replaced by "***".
std::string to_masked_text(const Config& config);

const char* mode_name(Mode mode);
const char* transport_name(Transport transport);

}  // namespace fedgw::config
