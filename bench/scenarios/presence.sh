#!/usr/bin/env bash
# Scenario 3 of issue 11, "presence": W watchers of a.test subscribed to remote presentities of
# b.test through two gateways (scripts/lab.sh lab_federation: a.test 127.0.1.1, b.test 127.0.2.1,
# mutual TLS between them, SRV records from a test dnsmasq). The watchers' UC server is Debian's
# sipp over one TCP connection to a.test's internal listener (bench/scenarios/presence_watcher.xml:
# one call per watcher, watcher wK watches pK%100@b.test); b.test's UC server is `fedua serve` with
# --change-after, which flips every presentity at once and NOTIFYs every subscriber.
# Phases of one run: W SUBSCRIBE (+200, initial NOTIFY) at BENCH_PRESENCE_RATE/s; the NOTIFY burst of
# the presence change (W NOTIFYs as fast as they go); after a pause, REFRESHES in-dialog re-SUBSCRIBEs
# per watcher back to back (each: SUBSCRIBE, 200, NOTIFY, 200 through both gateways); unsubscribe.
# Phase times come from gateway A's request counter (fedctl status, sampled every 50 ms).
#
# Per run: notify_s (change NOTIFYs delivered per second during the burst), refresh_s (re-SUBSCRIBE
# transactions, each with its NOTIFY, per second), cpu_us_per_msg (user+sys of both gateways during
# the refresh phase / requests relayed in it / 2: per gateway per request; _a/_b each gateway's),
# cpu_us_per_msg_run (the same over the whole run, idle pauses included), watchers,
# failed (sipp calls that failed), notify_failed (NOTIFYs of the fedua server without a 2xx),
# unanswered (sipp recv timeouts + fedua NOTIFY timeouts: requests without a final response).
# Both gateways allow-list each other (partners.allowed): with the default
# partners.discovered_rate_limit of 20 requests/s per discovered partner, the refresh load would be
# answered 503.
#
# usage (standalone, as root: isolates itself in private net+mount namespaces with only lo):
#   sudo BENCH_OUT=/tmp/x FEDGW_BIN=build/bin bench/scenarios/presence.sh
# env: FEDGW_BIN, BENCH_OUT, BENCH_SMOKE=0|1, BENCH_REPEATS (3), BENCH_PRESENCE_WATCHERS ("1000 5000"),
#   BENCH_PRESENCE_REFRESHES (3), BENCH_PRESENCE_RATE (subscriptions/s, 1000).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
source "$BENCH_DIR/lib.sh"
bench_isolate "$0" "$@"
source "$ROOT/scripts/lab.sh"

BIN=$(cd "${FEDGW_BIN:-$ROOT/build/bin}" && pwd)
: "${BENCH_OUT:?set BENCH_OUT to the directory for runs.jsonl}"
mkdir -p "$BENCH_OUT"
BENCH_OUT=$(cd "$BENCH_OUT" && pwd)
SMOKE=${BENCH_SMOKE:-0}
REPEATS=${BENCH_REPEATS:-3}
RATE=${BENCH_PRESENCE_RATE:-1000}
if [ "$SMOKE" = 1 ]; then
  WATCHERS=${BENCH_PRESENCE_WATCHERS:-50}
  REFRESHES=${BENCH_PRESENCE_REFRESHES:-1}
  REPEATS=1
else
  WATCHERS=${BENCH_PRESENCE_WATCHERS:-1000 5000}
  REFRESHES=${BENCH_PRESENCE_REFRESHES:-3}
fi
PRESENTITIES=100
for tool in fedgw fedctl fedua; do [ -x "$BIN/$tool" ] || { echo "presence: $BIN/$tool missing" >&2; exit 1; }; done
command -v sipp >/dev/null || { echo "presence: sipp missing (Debian sip-tester)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

DIR=$(mktemp -d /tmp/fedgw-presence-XXXXXX)
SAMPLER=
cleanup() {
  if [ -n "$SAMPLER" ]; then kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; fi
  lab_stop
  rm -rf "$DIR"
}
trap cleanup EXIT
LAB_IP_A=127.0.1.1
LAB_IP_B=127.0.2.1
tick=$(getconf CLK_TCK)

requests_in() { "$BIN/fedctl" --socket "$DIR/run/a.sock" status 2>/dev/null | sed -n 's/.*requests in \([0-9]*\),.*/\1/p'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# sampler FILE: "seconds requests_in_A ticks_A ticks_B" every 50 ms (bounded: 20 minutes).
sampler() {
  local i n
  for ((i = 0; i < 24000; i++)); do
    n=$(requests_in)
    [ -n "$n" ] && echo "$(date +%s.%N) $n $(ticks "$GW_A_PID") $(ticks "$GW_B_PID")" >> "$1"
    sleep 0.05
  done
}
# crossing FILE TARGET: the first sample with requests_in >= TARGET (empty if none).
crossing() { awk -v t="$2" '$2 >= t { print; exit }' "$1"; }
# last_below FILE TARGET: the last sample with requests_in <= TARGET before it is crossed.
last_below() { awk -v t="$2" '$2 <= t { last = $0 } $2 > t { print last; exit }' "$1"; }

for w in $WATCHERS; do
  for run in $(seq 1 "$REPEATS"); do
    rm -rf "$DIR/run"
    mkdir -p "$DIR/run"
    LAB_TIMER_MS=8000 LAB_EXTRA_CONFIG='partners { allowed: "a.test" allowed: "b.test" }' \
      lab_federation "$BIN" "$DIR/run" >/dev/null
    sub_s=$(awk -v w="$w" -v r="$RATE" 'BEGIN { printf "%d", w / r + 1 }')
    change_after=$((sub_s + 3))
    pause_ms=$((2000 + w))
    # watchers: wK watches p(K % 100)@b.test
    { echo SEQUENTIAL; for ((k = 0; k < w; k++)); do echo "w$k;p$((k % PRESENTITIES))"; done; } > "$DIR/run/watchers.csv"
    sed -e "s/REFRESHES/$REFRESHES/" -e "s/PAUSE_MS/$pause_ms/" "$BENCH_DIR/scenarios/presence_watcher.xml" > "$DIR/run/watcher.xml"
    limit=$((change_after + pause_ms / 1000 + 120 + w * (REFRESHES + 2) / 200))
    timeout "$((limit + 30))" "$BIN/fedua" --gateway "$LAB_IP_B:5060" --domain b.test --timeout 30 \
      --change-after "$change_after" serve "$((limit + 20))" > "$DIR/run/uc-b.out" 2>&1 &
    UC=$!
    LAB_PIDS+=("$UC")
    sleep 0.5  # fedua serve announces itself with an OPTIONS
    : > "$DIR/run/samples"
    sampler "$DIR/run/samples" &
    SAMPLER=$!
    wait_until 10 test -s "$DIR/run/samples"
    base=$(tail -1 "$DIR/run/samples" | awk '{print $2}')
    start=$(tail -1 "$DIR/run/samples")
    ( cd "$DIR/run" && timeout "$limit" sipp -sf watcher.xml -inf watchers.csv -t t1 -i "$LAB_IP_A" -p 0 \
        -key domain a.test -key to_domain b.test -r "$RATE" -rp 1000 -m "$w" -l "$w" -recv_timeout 30000 \
        -nostdin -trace_stat -stf stat.csv -fd 1 -trace_err -error_file err.log "$LAB_IP_A:5060" \
        > sipp.out 2>&1 ) && sipp_rc=0 || sipp_rc=$?
    sleep 0.2
    kill "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    SAMPLER=
    end=$(tail -1 "$DIR/run/samples")
    S=$DIR/run/samples
    # phases by A's request counter: subscribe = 2 W requests (SUBSCRIBE, NOTIFY); the change = W NOTIFYs;
    # refresh = 2 W REFRESHES (SUBSCRIBE, NOTIFY)
    c0=$(last_below "$S" $((base + 2 * w)) | cut -d' ' -f1); c1=$(crossing "$S" $((base + 3 * w)) | cut -d' ' -f1)
    r0=$(last_below "$S" $((base + 3 * w))); r1=$(crossing "$S" $((base + 3 * w + 2 * w * REFRESHES)))
    read -r rt0 rn0 ra0 rb0 <<<"${r0:-0 0 0 0}"
    read -r rt1 rn1 ra1 rb1 <<<"${r1:-0 0 0 0}"
    stat_last=$(tail -1 "$DIR/run/stat.csv" 2>/dev/null || true)
    col() {  # col NAME: column NAME of sipp's last statistics line
      awk -F';' -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i } END { print (c ? $c : "") }' "$DIR/run/stat.csv" 2>/dev/null
    }
    ok_calls=$(col 'SuccessfulCall(C)'); failed_calls=$(col 'FailedCall(C)'); recv_timeouts=$(col 'FailedTimeoutOnRecv(C)')
    notify_sent=$(count_lines "$DIR/run/uc-b.out" 'sent NOTIFY to')
    notify_ok=$(count_lines "$DIR/run/uc-b.out" 'sent NOTIFY to .* -> 2[0-9][0-9] ')
    notify_timeouts=$(count_lines "$DIR/run/uc-b.out" 'sent NOTIFY to .* -> timeout')
    read -r t_s n_s a_s b_s <<<"$start"
    read -r t_e n_e a_e b_e <<<"$end"
    requests=$((n_e - n_s))
    metrics=(
      "watchers=$w" "refreshes_per_watcher=$REFRESHES"
      "notify_s=$(awk -v a="$c0" -v b="$c1" -v w="$w" 'BEGIN { printf "%.0f", (a != "" && b != "" && b > a) ? w / (b - a) : 0 }')"
      "refresh_s=$(awk -v a="$rt0" -v b="$rt1" -v n=$((w * REFRESHES)) 'BEGIN { printf "%.0f", (b > a && a > 0) ? n / (b - a) : 0 }')"
      "cpu_us_per_msg=$(awk -v a=$((ra1 - ra0)) -v b=$((rb1 - rb0)) -v n=$((rn1 - rn0)) -v t="$tick" 'BEGIN { printf "%.1f", (n > 0) ? (a + b) / t * 1e6 / n / 2 : 0 }')"
      "cpu_us_per_msg_a=$(awk -v a=$((ra1 - ra0)) -v n=$((rn1 - rn0)) -v t="$tick" 'BEGIN { printf "%.1f", (n > 0) ? a / t * 1e6 / n : 0 }')"
      "cpu_us_per_msg_b=$(awk -v b=$((rb1 - rb0)) -v n=$((rn1 - rn0)) -v t="$tick" 'BEGIN { printf "%.1f", (n > 0) ? b / t * 1e6 / n : 0 }')"
      "cpu_us_per_msg_run=$(awk -v a=$((a_e - a_s)) -v b=$((b_e - b_s)) -v n="$requests" -v t="$tick" 'BEGIN { printf "%.1f", n ? (a + b) / t * 1e6 / n / 2 : 0 }')"
      "requests=$requests" "notifies=$notify_sent"
      "failed=$((w - ${ok_calls:-0}))"
      "notify_failed=$((notify_sent - notify_ok))"
      "unanswered=$((${recv_timeouts:-0} + notify_timeouts))"
      "rss_kb_a=$(bench_rss_kb "$GW_A_PID")" "rss_kb_b=$(bench_rss_kb "$GW_B_PID")"
    )
    echo "presence W=$w run $run: ${metrics[*]} (sipp exit $sipp_rc)"
    bench_add_row presence fedgw "W=$w" "$run" "${metrics[@]}"
    if [ "$sipp_rc" != 0 ] || [ "$notify_sent" != "$notify_ok" ]; then
      cp "$DIR/run/a.log" "$BENCH_OUT/presence-W$w-run$run-a.log"
      cp "$DIR/run/b.log" "$BENCH_OUT/presence-W$w-run$run-b.log"
      cp "$DIR/run/err.log" "$BENCH_OUT/presence-W$w-run$run-sipp-err.log" 2>/dev/null || true
      cp "$DIR/run/uc-b.out" "$BENCH_OUT/presence-W$w-run$run-uc-b.out"
      echo "presence: failures in this run (sipp exit $sipp_rc); logs kept in $BENCH_OUT/presence-W$w-run$run-*" >&2
    fi
    lab_stop
  done
done
