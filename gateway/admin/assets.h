// The admin page's files (gateway/admin/static/), built into the binary.
#pragma once

#include <vector>

#include "gateway/admin/admin_api.h"

namespace fedgw::admin {

const std::vector<asset>& builtin_assets();

}  // namespace fedgw::admin
