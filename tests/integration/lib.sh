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

# start_dnsmasq RECORD_OPTION...: a real DNS server on 127.0.0.1:<free port>
# for the test's own zone (*.test); sets DNSMASQ_PORT and DNSMASQ_LOG.
start_dnsmasq() {
  local attempt port
  DNSMASQ_LOG=$FEDGW_TEST_DIR/dnsmasq.log
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 30000))
    /usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
      --bind-interfaces --listen-address=127.0.0.1 --port="$port" --local=/test/ \
      --log-queries --log-facility="$DNSMASQ_LOG" --pid-file= --cache-size=0 --user=root "$@" \
      2>>"$FEDGW_TEST_DIR/dnsmasq.err" &
    local pid=$!
    sleep 0.2
    if kill -0 "$pid" 2>/dev/null; then
      FEDGW_TEST_PIDS+=("$pid")
      DNSMASQ_PORT=$port
      return 0
    fi
  done
  echo "dnsmasq did not start:" >&2
  cat "$FEDGW_TEST_DIR/dnsmasq.err" >&2
  return 1
}

# make_certs DIR: the test CA and certificates of tests/gateway/tls/make_test_certs.sh.
make_certs() {
  sh "$(dirname "${BASH_SOURCE[0]}")/../gateway/tls/make_test_certs.sh" "$1" >/dev/null
}
