#!/usr/bin/env bash
# Installs fedgw's build and test dependencies from Debian 12 packages (root, non-interactive, idempotent).
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config ccache
  libcaf-dev libssl-dev libc-ares-dev libprotobuf-dev protobuf-compiler
  # tests, fuzzing, benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  # real peers the tests and the demo start on loopback
  dnsmasq-base openssl python3 iproute2 procps sip-tester kamailio kamailio-tls-modules
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "==> dependencies: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "==> apt-get install ${missing[*]}"
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  echo "==> apt-get update (package lists missing or stale)"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
