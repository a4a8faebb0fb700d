#!/usr/bin/env bash
# Scenario 2 of issue 11, "many domains": N partner domains at once (100, 1,000, 10,000; smoke: 20),
# each with its own certificate name, connect INBOUND to the gateway's federation listener over
# mutual TLS (bench/partner_load: one process, epoll, one certificate per domain issued in-process
# by the test intermediate CA, one loopback source address per domain) and send MESSAGEs from
# their domain to users of the gateway's domain a.test, whose UC server is `fedua serve` on the
# internal listener. Traffic is spread round robin over all partner connections.
#
# Per run (one gateway start per run): setup_per_s (TLS handshake + OPTIONS answered, 128 set-ups
# in flight), cpu_us_per_setup (gateway), rss_kb_per_conn = (RSS with N idle partner connections
# - RSS before) / N, rss_kb_per_conn_busy (same after the traffic, connections still open),
# fds (gateway, N idle connections), msg_s, cpu_us_per_msg (gateway user+sys / answered),
# p50_ms/p99_ms, non2xx, unanswered.
#
# Gateway limits set here (README configuration reference): limits.max_connections = N + 1000
# (default 10,000 would refuse part of N=10,000); limits.max_connections_per_source stays at its
# default 50 (every partner has its own source address); partners: BENCH_DOMAINS_POLICY=discovered
# (default: open federation, partners.discovered_rate_limit raised to 1,000,000/s so that the
# per-partner rate limit does not answer 503) or =allowlist (all N domains in partners.allowed).
#
# usage (standalone, as root: isolates itself in private net+mount namespaces with only lo):
#   sudo BENCH_OUT=/tmp/x FEDGW_BIN=build/bin bench/scenarios/domains.sh
# env: FEDGW_BIN (fedgw fedctl fedua, and partner_load unless PARTNER_LOAD is set), BENCH_OUT,
#   BENCH_SMOKE=0|1, BENCH_REPEATS (3), BENCH_DOMAINS_COUNTS ("100 1000 10000"),
#   BENCH_DOMAINS_MESSAGES (per run; default max(20000, 3 N)), BENCH_DOMAINS_WINDOW (256),
#   BENCH_DOMAINS_POLICY (discovered|allowlist).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
source "$BENCH_DIR/lib.sh"
bench_isolate "$0" "$@"
source "$ROOT/scripts/lab.sh"

BIN=$(cd "${FEDGW_BIN:-$ROOT/build/bin}" && pwd)
PARTNER_LOAD=${PARTNER_LOAD:-$BIN/partner_load}
: "${BENCH_OUT:?set BENCH_OUT to the directory for runs.jsonl}"
mkdir -p "$BENCH_OUT"
BENCH_OUT=$(cd "$BENCH_OUT" && pwd)
SMOKE=${BENCH_SMOKE:-0}
REPEATS=${BENCH_REPEATS:-3}
POLICY=${BENCH_DOMAINS_POLICY:-discovered}
WINDOW=${BENCH_DOMAINS_WINDOW:-256}
if [ "$SMOKE" = 1 ]; then
  COUNTS=${BENCH_DOMAINS_COUNTS:-20}
  REPEATS=1
  WINDOW=${BENCH_DOMAINS_WINDOW:-32}
else
  COUNTS=${BENCH_DOMAINS_COUNTS:-100 1000 10000}
fi
for tool in fedgw fedctl fedua; do [ -x "$BIN/$tool" ] || { echo "domains: $BIN/$tool missing" >&2; exit 1; }; done
[ -x "$PARTNER_LOAD" ] || { echo "domains: $PARTNER_LOAD missing (built by bench/CMakeLists.txt)" >&2; exit 1; }

# One fd per partner connection in the gateway and in partner_load, plus headroom.
max_n=0
for n in $COUNTS; do [ "$n" -gt "$max_n" ] && max_n=$n; done
want_fds=$((max_n * 2 + 4096))
[ "$want_fds" -lt 65536 ] && want_fds=65536
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$want_fds" ]; then ulimit -Hn "$want_fds" 2>/dev/null || true; fi
ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "domains: raised the open-file limit (ulimit -n) to $(ulimit -n) for the gateway and the load tool"

DIR=$(mktemp -d /tmp/fedgw-domains-XXXXXX)
LOAD_PID=
cleanup() {
  exec 3>&- 2>/dev/null || true
  if [ -n "$LOAD_PID" ]; then kill "$LOAD_PID" 2>/dev/null || true; wait "$LOAD_PID" 2>/dev/null || true; fi
  lab_stop
  rm -rf "$DIR"
}
trap cleanup EXIT

IP=127.0.1.1
make_certs "$DIR/certs"
start_dnsmasq "$DIR" --srv-host=_sipfederationtls._tcp.a.test,gw.a.test,5061,10,10 --host-record=gw.a.test,"$IP"
DNSMASQ_PID=${LAB_PIDS[-1]}

# wait_line FILE PATTERN SECONDS PID: bounded wait for a line in FILE while PID lives.
wait_line() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    kill -0 "$4" 2>/dev/null || { grep -q -- "$2" "$1" 2>/dev/null && return 0; echo "domains: process $4 ended before \"$2\"" >&2; return 1; }
    sleep 0.05
  done
  echo "domains: timed out after $3 s waiting for \"$2\" in $1" >&2
  return 1
}
field() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<"$1" | tail -1; }

for n in $COUNTS; do
  if [ "$SMOKE" = 1 ]; then messages=${BENCH_DOMAINS_MESSAGES:-300}; else
    messages=${BENCH_DOMAINS_MESSAGES:-$((n * 3 > 20000 ? n * 3 : 20000))}; fi
  if [ "$POLICY" = allowlist ]; then
    partners="partners {$(for ((i = 0; i < n; i++)); do printf ' allowed: "p%d.test"' "$i"; done) allowed: \"a.test\" }"
  else
    partners="partners { discovered_rate_limit: 1000000 }"
  fi
  for run in $(seq 1 "$REPEATS"); do
    rm -f "$DIR"/a.* "$DIR"/uc.out "$DIR"/load.*
    LAB_TIMER_MS=8000 LAB_LIMITS_EXTRA="max_connections: $((n + 1000))" \
      gateway_config "$DIR" a a.test "$IP" good "$partners"
    start_fedgw "$BIN" "$DIR/a.textproto" "$DIR/a.log"
    GW=$FEDGW_LAST_PID
    timeout 900 "$BIN/fedua" --gateway "$IP:5060" --domain a.test -q serve 880 > "$DIR/uc.out" 2>&1 &
    UC=$!
    LAB_PIDS+=("$UC")
    # The UC server is known once it sent its OPTIONS: then a partner's OPTIONS to a user works.
    wait_until 10 "$BIN/fedctl" --socket "$DIR/a.sock" status >/dev/null
    sleep 0.5
    rss0=$(bench_rss_kb "$GW"); fds0=$(bench_fds "$GW"); cpu0=$(bench_cpu_s "$GW")

    mkfifo "$DIR/load.in"
    timeout 900 "$PARTNER_LOAD" --issuer-cert "$DIR/certs/inter.pem" --issuer-key "$DIR/certs/inter.key" \
      --chain "$DIR/certs/inter.pem" --trust "$DIR/certs/ca.pem" --target "$IP:5061" --server-name a.test \
      --to-domain a.test --domains "$n" --setup-concurrency 128 --setup-timeout 300 --max-seconds 880 \
      < "$DIR/load.in" > "$DIR/load.out" 2> "$DIR/load.err" &
    LOAD_PID=$!
    exec 3> "$DIR/load.in"
    wait_line "$DIR/load.out" '^established' 320 "$LOAD_PID"
    cpu1=$(bench_cpu_s "$GW")
    est=$(grep '^established' "$DIR/load.out")
    sleep 1  # let the gateway finish the set-up work (logs, first-message timers)
    rss1=$(bench_rss_kb "$GW"); fds1=$(bench_fds "$GW")
    up=$(field "$est" n)
    # warm-up, then the measured run
    echo "go $((n < 1000 ? 1000 : n)) $WINDOW 60" >&3
    wait_line "$DIR/load.out" '^result' 70 "$LOAD_PID"
    cpu2=$(bench_cpu_s "$GW")
    echo "go $messages $WINDOW 300" >&3
    for ((i = 0; i < 310 * 20; i++)); do
      [ "$(grep -c '^result' "$DIR/load.out")" -ge 2 ] && break
      kill -0 "$LOAD_PID" 2>/dev/null || break
      sleep 0.05
    done
    cpu3=$(bench_cpu_s "$GW")
    res=$(grep '^result' "$DIR/load.out" | sed -n 2p)
    [ -n "$res" ] || { echo "domains: no result from partner_load" >&2; cat "$DIR/load.err" >&2; exit 1; }
    rss2=$(bench_rss_kb "$GW")
    echo quit >&3
    exec 3>&-
    wait "$LOAD_PID" || true
    LOAD_PID=
    rm -f "$DIR/load.in"
    failed=$(field "$est" failed); timed_out=$(field "$est" timed_out)
    answered=$(field "$res" answered)
    metrics=(
      "domains=$n" "connections=$up" "setup_failed=$((failed + timed_out))"
      "setup_per_s=$(field "$est" setup_per_s)"
      "cpu_us_per_setup=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$up" 'BEGIN { printf "%.0f", n ? (b - a) * 1e6 / n : 0 }')"
      "rss_kb_before=$rss0" "rss_kb=$rss1"
      "rss_kb_per_conn=$(awk -v a="$rss0" -v b="$rss1" -v n="$up" 'BEGIN { printf "%.2f", n ? (b - a) / n : 0 }')"
      "rss_kb_per_conn_busy=$(awk -v a="$rss0" -v b="$rss2" -v n="$up" 'BEGIN { printf "%.2f", n ? (b - a) / n : 0 }')"
      "fds_before=$fds0" "fds=$fds1"
      "msg_s=$(field "$res" msg_s)"
      "cpu_us_per_msg=$(awk -v a="$cpu2" -v b="$cpu3" -v n="$answered" 'BEGIN { printf "%.1f", n ? (b - a) * 1e6 / n : 0 }')"
      "p50_ms=$(field "$res" p50_ms)" "p99_ms=$(field "$res" p99_ms)"
      "messages=$(field "$res" sent)" "non2xx=$(field "$res" non2xx)" "unanswered=$(field "$res" unanswered)"
      "conn_closed=$(grep '^stats' "$DIR/load.out" | tail -1 | sed -n 's/.* closed=\([0-9]*\).*/\1/p')"
    )
    echo "domains N=$n run $run ($POLICY): ${metrics[*]} codes=$(field "$res" codes)"
    bench_add_row domains fedgw "N=$n" "$run" "${metrics[@]}"
    # stop this run's gateway and UC server (by PID), keep dnsmasq
    kill "$UC" "$GW" 2>/dev/null || true
    wait "$UC" "$GW" 2>/dev/null || true
    LAB_PIDS=("$DNSMASQ_PID")
    if [ "$(field "$res" unanswered)" != 0 ] || [ "$(field "$res" non2xx)" != 0 ] || [ "$((failed + timed_out))" != 0 ]; then
      cp "$DIR/a.log" "$BENCH_OUT/domains-N$n-run$run-gateway.log"
      cp "$DIR/load.err" "$BENCH_OUT/domains-N$n-run$run-partner_load.err"
      echo "domains: failures in this run; gateway log kept in $BENCH_OUT/domains-N$n-run$run-gateway.log" >&2
    fi
  done
done
