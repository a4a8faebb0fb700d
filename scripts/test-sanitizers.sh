#!/usr/bin/env bash
# Sanitizer stage of the test suite (scripts/test.sh runs it after the main ctest): every test
# labelled "unit" or "threads" under AddressSanitizer + UBSan in build-asan/, and those labelled
# "threads" (actors, reactor, DNS engine) under ThreadSanitizer in build-tsan/. Builds only the
# GoogleTest binaries, not the daemon, benches or fuzz targets. Exit status 0 only when all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
supp="$PWD/tests/sanitizers"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}  # as scripts/build.sh
fi

# build_tests DIR SANITIZERS OPT: configures DIR with -fsanitize=SANITIZERS and -OPT and builds
# every GoogleTest binary. gtest_discover_tests writes an "add_test(TARGET_NOT_BUILT ...)" fallback
# for each binary into DIR, so a new test binary is picked up without a change here.
build_tests() {
  local dir=$1 sanitize=$2 opt=$3
  echo "==> cmake configure ($dir/, -fsanitize=$sanitize -$opt)"
  mkdir -p "$dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-$opt -g -DNDEBUG" \
    -DFEDGW_SANITIZE="$sanitize" "${launcher[@]}" \
    > "$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; exit 1; }
  local targets
  targets=$(find "$dir/tests" -name '*_include.cmake' \
              -exec sed -n 's/^ *add_test(\([A-Za-z0-9_.+-]*\)_NOT_BUILT .*/\1/p' {} + | sort -u)
  [ -n "$targets" ] || { echo "test-sanitizers: no GoogleTest binaries found in $dir" >&2; exit 1; }
  echo "==> cmake build $dir/ ($(nproc) jobs):" $targets
  # shellcheck disable=SC2086  # one word per target
  cmake --build "$dir" -j"$(nproc)" --target $targets
}

# Every test must say whether it is a unit test, otherwise it would silently escape this stage.
check_labels() {
  local unlabelled
  unlabelled=$(ctest --test-dir "$1" -N -LE '^(unit|threads|integration|fuzz)$' | sed -n 's/^ *Test *#[0-9]*: //p')
  if [ -n "$unlabelled" ]; then
    echo "test-sanitizers: tests without a unit/threads/integration/fuzz label (set LABELS in tests/**/CMakeLists.txt):" >&2
    echo "$unlabelled" >&2
    exit 1
  fi
}

# UBSan's checks make g++ slow to optimise (one actor file: 17 s at -O0, 49 s at -O1, 70 s at
# -O2), so ASan+UBSan builds at -O0; TSan compiles fast (14 s at -O1) and runs better optimised.
build_tests build-asan address,undefined O0
check_labels build-asan
echo "==> ctest under ASan+UBSan (labels unit, threads)"
ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_init_order=1" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp" \
  ctest --test-dir build-asan -L '^(unit|threads)$' --output-on-failure -j2 --timeout 600

build_tests build-tsan thread O1
echo "==> ctest under TSan (label threads)"
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp:print_suppressions=0" \
  ctest --test-dir build-tsan -L '^threads$' --output-on-failure -j2 --timeout 600
