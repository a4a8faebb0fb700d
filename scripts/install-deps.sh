#!/usr/bin/env bash
# Installs fedgw's build and test dependencies from Debian 12 packages (root, non-interactive, idempotent).
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config ccache
  libcaf-dev libssl-dev libc-ares-dev libprotobuf-dev protobuf-compiler
  libmicrohttpd-dev libgoogle-perftools-dev
  # tests, fuzzing, benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  # real peers the tests and the demo start on loopback
  dnsmasq-base openssl python3 iproute2 procps sip-tester kamailio kamailio-tls-modules
  # the metrics test parses /metrics with the Prometheus client's text-format parser
  python3-prometheus-client
  # the admin pages' browser test (headless, driven by playwright-core from npm)
  chromium
  # the Debian package (scripts/package.sh) and its test (lintian, systemd-analyze)
  dpkg-dev debhelper lintian fakeroot systemd
)
# Node.js and npm for that test: Debian's only where the machine has none (a Node.js from elsewhere stays).
command -v node >/dev/null || PACKAGES+=(nodejs)
command -v npm >/dev/null || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "==> dependencies: all ${#PACKAGES[@]} packages already installed"
elif [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root to install: ${missing[*]}" >&2
  exit 1
else
  export DEBIAN_FRONTEND=noninteractive
  echo "==> apt-get install ${missing[*]}"
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    echo "==> apt-get update (package lists missing or stale)"
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# npm packages of the browser test (playwright-core, pinned by package-lock.json; it drives /usr/bin/chromium
# and downloads no browser). npm ci only when node_modules is not what the lock file says.
admin_test=$(cd "$(dirname "$0")/.." && pwd)/tests/integration/admin
if cmp -s "$admin_test/package-lock.json" "$admin_test/node_modules/.package-lock.json.installed"; then
  echo "==> npm packages of tests/integration/admin: up to date"
else
  echo "==> npm ci in tests/integration/admin"
  (cd "$admin_test" && npm ci --no-audit --no-fund --ignore-scripts)
  cp "$admin_test/package-lock.json" "$admin_test/node_modules/.package-lock.json.installed"
fi
