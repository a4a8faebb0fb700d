#!/usr/bin/env bash
# The demo: installs dependencies, builds, starts fedgw with the shipped default
# configuration, shows it through fedctl, and stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh

CONFIG=gateway/config/default.textproto
SOCKET=$(sed -n 's/^control_socket: *"\(.*\)"/\1/p' "$CONFIG")
LOG=$(mktemp /tmp/fedgw-demo-XXXXXX.log)
echo "==> starting build/bin/fedgw --config $CONFIG (its log: $LOG)"
build/bin/fedgw --config "$CONFIG" 2>"$LOG" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  build/bin/fedctl --socket "$SOCKET" status >/dev/null 2>&1 && break
  kill -0 $PID 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.05
done
run() { echo; echo "\$ $*"; "$@"; }
run build/bin/fedctl status
run build/bin/fedctl config check "$CONFIG"
run build/bin/fedctl interfaces
run build/bin/fedctl log
echo
echo "==> stopping fedgw (SIGTERM)"
kill -TERM $PID
rc=0; wait $PID || rc=$?
trap - EXIT
echo "==> fedgw exited with status $rc; its last lines:"
tail -n 2 "$LOG"
exit $rc
