#!/usr/bin/env bash
# Configures and builds fedgw into build/ (binaries in build/bin/).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> cmake configure (build/)"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" > build.configure.log 2>&1 || { cat build.configure.log; exit 1; }
rm -f build.configure.log
echo "==> cmake build ($(nproc) jobs)"
cmake --build build -j"$(nproc)"
