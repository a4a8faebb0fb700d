#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every test (unit,
# fuzz, integration), then the unit tests again under sanitizers. Exit status 0
# only when all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
# Before ctest, so that its compiler jobs do not compete with the timed tests; the package test
# (integration_package) then finds it up to date and installs it.
echo "==> Debian package (scripts/package.sh)"
./scripts/package.sh
echo "==> ctest (unit, bounded fuzz run, integration tests)"
cd build
ctest --output-on-failure -j2 --timeout 600
cd ..
./scripts/test-sanitizers.sh
