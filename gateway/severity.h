// How serious a status-log entry is; shared by the plain cores (no actors) and the status log.
#pragma once

#include <cstdint>

namespace fedgw {

enum class severity : uint8_t { info = 1, warning = 2, error = 3 };

}  // namespace fedgw
