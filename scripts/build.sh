#!/usr/bin/env bash
# Configures and builds fedgw into build/ (binaries in build/bin/).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> cmake configure (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > build.configure.log 2>&1 || { cat build.configure.log; exit 1; }
rm -f build.configure.log
echo "==> cmake build ($(nproc) jobs)"
cmake --build build -j"$(nproc)"
