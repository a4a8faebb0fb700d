#!/usr/bin/env bash
# Data-path scaling on this machine: MESSAGE load from a fedua "UC server" of
# a.test to b.test through two gateways (mutual TLS between them), with 1 and
# with 2 CAF worker threads per gateway. Reports messages/s and the CPU time
# of each gateway per 1,000 messages (from /proc, user + system).
# usage: bench/scaling.sh [COUNT] [REPEATS]     (loopback only; bounded)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lab.sh
BIN=${FEDGW_BIN:-build/bin}
COUNT=${1:-20000}
REPEATS=${2:-3}
LAB_IP_A=127.0.5.1
LAB_IP_B=127.0.6.1
DIR=$(mktemp -d /tmp/fedgw-scaling-XXXXXX)
trap 'lab_stop; rm -rf "$DIR"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)

printf '%-8s %-7s %10s %14s %14s %10s\n' workers run "msg/s" "cpu_a s/1k" "cpu_b s/1k" "2xx"
for workers in 1 2; do
  for run in $(seq 1 "$REPEATS"); do
    rm -rf "$DIR"/*
    LAB_EXTRA_CONFIG="worker_threads: $workers
partners { allowed: \"a.test\" allowed: \"b.test\" }" lab_federation "$BIN" "$DIR" >/dev/null
    "$BIN/fedua" --gateway "$LAB_IP_B:5060" --domain b.test -q serve 120 > "$DIR/uc-b.out" 2>&1 &
    LAB_PIDS+=($!)
    sleep 0.3
    # warm-up: connection set-up and TLS handshake
    "$BIN/fedua" --gateway "$LAB_IP_A:5060" --domain a.test --user alice load bob@b.test 200 > /dev/null
    a0=$(cpu_ticks "$GW_A_PID"); b0=$(cpu_ticks "$GW_B_PID")
    out=$("$BIN/fedua" --gateway "$LAB_IP_A:5060" --domain a.test --user alice --window 256 --timeout 120 \
          load bob@b.test "$COUNT")
    a1=$(cpu_ticks "$GW_A_PID"); b1=$(cpu_ticks "$GW_B_PID")
    rate=$(sed -n 's/.* \([0-9.]*\) msg\/s.*/\1/p' <<<"$out" | head -1)
    ok=$(sed -n 's/.*2xx \([0-9]*\),.*/\1/p' <<<"$out" | head -1)
    awk -v w="$workers" -v r="$run" -v rate="$rate" -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v t="$tick" \
        -v n="$COUNT" -v ok="$ok" \
        'BEGIN { printf "%-8s %-7s %10.0f %14.4f %14.4f %10s\n", w, r, rate, a / t / n * 1000, b / t / n * 1000, ok }'
    lab_stop
  done
done
