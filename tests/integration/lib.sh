# Shared helpers of the integration tests (sourced). Every process started
# here is recorded and stopped by PID on exit.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lab.sh"

FEDGW_TEST_DIR=$(mktemp -d /tmp/fedgw-it-XXXXXX)
FEDGW_TEST_FAILURES=0

cleanup() {
  lab_stop
  rm -rf "$FEDGW_TEST_DIR"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FEDGW_TEST_FAILURES=$((FEDGW_TEST_FAILURES + 1)); }
pass() { echo "ok:   $*"; }

# check DESCRIPTION COMMAND...: the command must succeed.
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

contains() { grep -qF -- "$2" <<<"$1"; }

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

# start_uc_servers SECONDS: the UC servers of a.test and b.test ("${UA_A[@]}" and "${UA_B[@]}" serve SECONDS,
# output in $D/uc-a.out and $D/uc-b.out), stopped by PID at exit; returns once each gateway answered its OPTIONS.
start_uc_servers() {
  "${UA_A[@]}" serve "$1" > "$D/uc-a.out" 2>&1 &
  LAB_PIDS+=($!)
  "${UA_B[@]}" serve "$1" > "$D/uc-b.out" 2>&1 &
  LAB_PIDS+=($!)
  wait_for_log "$D/uc-a.out" "serve: OPTIONS sip:a.test -> 200"
  wait_for_log "$D/uc-b.out" "serve: OPTIONS sip:b.test -> 200"
}

# wait_for_log FILE PATTERN [AT_LEAST] [SECONDS] comes from scripts/lab.sh.
