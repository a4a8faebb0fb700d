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
# DNS: a.test's own records, and (outbound direction) SRV + A records of every partner domain pI.test at
# partner_load's listening address for it (127.<100 + I / 62500>.<(I % 62500) / 250>.<I % 250 + 1>:5061).
OUTBOUND=${BENCH_DOMAINS_OUTBOUND:-1}
partner_ip() { echo "127.$((100 + $1 / 62500)).$((($1 % 62500) / 250)).$(($1 % 250 + 1))"; }
dns_records=()
if [ "$OUTBOUND" = 1 ]; then
  for ((i = 0; i < max_n; i++)); do
    dns_records+=("--srv-host=_sipfederationtls._tcp.p$i.test,p$i.test,5061,10,10" "--host-record=p$i.test,$(partner_ip "$i")")
  done
fi
start_dnsmasq "$DIR" --srv-host=_sipfederationtls._tcp.a.test,gw.a.test,5061,10,10 --host-record=gw.a.test,"$IP" \
  "${dns_records[@]}"
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
# sipp_stat FILE NAME: column NAME of sipp's last statistics line.
sipp_stat() { awk -F';' -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i } END { print (c ? $c : "") }' "$1" 2>/dev/null; }
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
    sleep 2.5  # let the gateway finish the set-up work (logs, first-message timers) and idle connections
               # give their TLS buffers back (after 1 s without traffic, checked every second)
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

# Outbound: the gateway connects to N partner domains it finds through DNS (SRV, then A), mutual TLS,
# partner_load --serve answering 200 as every domain; the UC server of a.test is sipp over TCP sending
# MESSAGEs to uK@pI.test. Per run: setup_per_s (first MESSAGE to each domain, 128 outstanding: DNS +
# TCP + TLS + the MESSAGE), rss_kb_per_conn (N outbound connections open), fds, msg_s and
# cpu_us_per_msg with the traffic spread over all domains, non2xx, unanswered (sipp recv timeouts).
[ "$OUTBOUND" = 1 ] || exit 0
command -v sipp >/dev/null || { echo "domains: sipp missing, outbound direction skipped" >&2; exit 0; }
for n in $COUNTS; do
  if [ "$SMOKE" = 1 ]; then messages=${BENCH_DOMAINS_MESSAGES:-300}; else
    messages=${BENCH_DOMAINS_MESSAGES:-$((n * 3 > 20000 ? n * 3 : 20000))}; fi
  for ((i = 0; i < n; i++)); do echo "u$((i % 1000));p$i.test"; done | { echo SEQUENTIAL; cat; } > "$DIR/out-first.csv"
  { echo RANDOM; for ((i = 0; i < n; i++)); do echo "u$((i % 1000));p$i.test"; done; } > "$DIR/out-spread.csv"
  for run in $(seq 1 "$REPEATS"); do
    rm -f "$DIR"/a.* "$DIR"/load.* "$DIR"/sipp-*
    LAB_TIMER_MS=8000 gateway_config "$DIR" a a.test "$IP" good "partners { discovered_rate_limit: 1000000 }"
    mkfifo "$DIR/load.in"
    timeout 900 "$PARTNER_LOAD" --serve 1 --issuer-cert "$DIR/certs/inter.pem" --issuer-key "$DIR/certs/inter.key" \
      --chain "$DIR/certs/inter.pem" --trust "$DIR/certs/ca.pem" --target "0.0.0.0:5061" --domains "$n" \
      --max-seconds 880 < "$DIR/load.in" > "$DIR/load.out" 2> "$DIR/load.err" &
    LOAD_PID=$!
    exec 3> "$DIR/load.in"
    wait_line "$DIR/load.out" '^listening' 60 "$LOAD_PID"
    start_fedgw "$BIN" "$DIR/a.textproto" "$DIR/a.log"
    GW=$FEDGW_LAST_PID
    sleep 0.5
    rss0=$(bench_rss_kb "$GW"); fds0=$(bench_fds "$GW"); cpu0=$(bench_cpu_s "$GW")
    sipp_run() {  # sipp_run NAME CSV COUNT WINDOW: closed loop over the internal listener; sets SIPP_S (wall time)
      local t0 t1
      t0=$(date +%s.%N)
      ( cd "$DIR" && timeout 600 sipp -sf "$BENCH_DIR/scenarios/domains_message.xml" -inf "$2" -t t1 -i "$IP" -p 0 \
          -r 100000 -rp 1000 -l "$4" -m "$3" -recv_timeout 20000 -nostdin -trace_stat -stf "sipp-$1.csv" -fd 1 \
          "$IP:5060" > "sipp-$1.out" 2>&1 ) || true
      t1=$(date +%s.%N)
      SIPP_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    }
    sipp_run first "$DIR/out-first.csv" "$n" 128
    first_s=$SIPP_S
    cpu1=$(bench_cpu_s "$GW")
    sleep 2.5  # as inbound: idle connections give their TLS buffers back
    rss1=$(bench_rss_kb "$GW"); fds1=$(bench_fds "$GW")
    echo stats >&3
    sleep 0.2
    conns=$(grep '^stats' "$DIR/load.out" | tail -1 | sed -n 's/.* accepted=\([0-9]*\).*/\1/p')
    cpu2=$(bench_cpu_s "$GW")
    sipp_run spread "$DIR/out-spread.csv" "$messages" "$WINDOW"
    cpu3=$(bench_cpu_s "$GW")
    rss2=$(bench_rss_kb "$GW")
    first_ok=$(sipp_stat "$DIR/sipp-first.csv" 'SuccessfulCall(C)')
    ok=$(sipp_stat "$DIR/sipp-spread.csv" 'SuccessfulCall(C)')
    timeouts=$(( $(sipp_stat "$DIR/sipp-first.csv" 'FailedTimeoutOnRecv(C)') + $(sipp_stat "$DIR/sipp-spread.csv" 'FailedTimeoutOnRecv(C)') ))
    metrics=(
      "domains=$n" "connections=${conns:-0}" "setup_failed=$((n - ${first_ok:-0}))"
      "setup_per_s=$(awk -v n="$n" -v s="$first_s" 'BEGIN { printf "%.1f", n / s }')"
      "cpu_us_per_setup=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$n" 'BEGIN { printf "%.0f", (b - a) * 1e6 / n }')"
      "rss_kb_before=$rss0" "rss_kb=$rss1"
      "rss_kb_per_conn=$(awk -v a="$rss0" -v b="$rss1" -v n="${conns:-0}" 'BEGIN { printf "%.2f", n ? (b - a) / n : 0 }')"
      "rss_kb_per_conn_busy=$(awk -v a="$rss0" -v b="$rss2" -v n="${conns:-0}" 'BEGIN { printf "%.2f", n ? (b - a) / n : 0 }')"
      "fds_before=$fds0" "fds=$fds1"
      "msg_s=$(awk -v n="${ok:-0}" -v s="$SIPP_S" 'BEGIN { printf "%.1f", n / s }')"
      "cpu_us_per_msg=$(awk -v a="$cpu2" -v b="$cpu3" -v n="${ok:-0}" 'BEGIN { printf "%.1f", n ? (b - a) * 1e6 / n : 0 }')"
      "messages=$messages" "non2xx=$((messages - ${ok:-0} - $(sipp_stat "$DIR/sipp-spread.csv" 'FailedTimeoutOnRecv(C)')))"
      "unanswered=$timeouts"
    )
    echo "domains outbound N=$n run $run: ${metrics[*]}"
    bench_add_row domains fedgw "out N=$n" "$run" "${metrics[@]}"
    if [ "$timeouts" != 0 ] || [ "${ok:-0}" != "$messages" ] || [ "${first_ok:-0}" != "$n" ]; then
      cp "$DIR/a.log" "$BENCH_OUT/domains-out-N$n-run$run-gateway.log"
      cp "$DIR/sipp-first.out" "$DIR/sipp-spread.out" "$BENCH_OUT/" 2>/dev/null || true
      echo "domains: outbound failures; gateway log kept in $BENCH_OUT/domains-out-N$n-run$run-gateway.log" >&2
    fi
    echo quit >&3
    exec 3>&-
    wait "$LOAD_PID" || true
    LOAD_PID=
    rm -f "$DIR/load.in"
    kill "$GW" 2>/dev/null || true
    wait "$GW" 2>/dev/null || true
    LAB_PIDS=("$DNSMASQ_PID")
  done
done
