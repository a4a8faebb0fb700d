#!/usr/bin/env bash
# Configures and builds fedgw into build/ (binaries in build/bin/).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> cmake configure (build/)"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths relative to the checkout and no working directory in the hash: a fresh clone elsewhere (CI)
  # reuses what an earlier build compiled.
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" > build.configure.log 2>&1 || { cat build.configure.log; exit 1; }
rm -f build.configure.log
echo "==> cmake build ($(nproc) jobs)"
cmake --build build -j"$(nproc)"
