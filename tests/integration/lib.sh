# Shared helpers of the integration tests (sourced). Every process started
# here is recorded and stopped by PID on exit.
set -euo pipefail

FEDGW_TEST_PIDS=()
FEDGW_TEST_DIR=$(mktemp -d /tmp/fedgw-it-XXXXXX)
FEDGW_TEST_FAILURES=0

cleanup() {
  local pid
  for pid in "${FEDGW_TEST_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${FEDGW_TEST_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$FEDGW_TEST_DIR"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FEDGW_TEST_FAILURES=$((FEDGW_TEST_FAILURES + 1)); }
pass() { echo "ok:   $*"; }

# check DESCRIPTION COMMAND...: the command must succeed.
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

contains() { grep -qF -- "$2" <<<"$1"; }

# start_fedgw BIN CONFIG LOG: starts fedgw, waits until its control socket answers.
start_fedgw() {
  local bin=$1 config=$2 log=$3 socket
  socket=$(sed -n 's/^control_socket: *"\(.*\)"/\1/p' "$config")
  "$bin/fedgw" --config "$config" 2>"$log" &
  FEDGW_LAST_PID=$!
  FEDGW_TEST_PIDS+=("$FEDGW_LAST_PID")
  for _ in $(seq 1 100); do
    "$bin/fedctl" --socket "$socket" status >/dev/null 2>&1 && return 0
    kill -0 "$FEDGW_LAST_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "fedgw did not come up; its log:" >&2
  cat "$log" >&2
  return 1
}

# stop_pid PID SIGNAL: sends the signal and returns the process's exit status.
stop_pid() {
  local pid=$1 signal=${2:-TERM} rc=0
  kill -s "$signal" "$pid"
  wait "$pid" || rc=$?
  return "$rc"
}

finish() {
  if [ "$FEDGW_TEST_FAILURES" -ne 0 ]; then
    echo "$FEDGW_TEST_FAILURES check(s) failed" >&2
    exit 1
  fi
  echo "all checks passed"
}
