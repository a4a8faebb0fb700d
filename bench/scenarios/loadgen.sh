#!/usr/bin/env bash
# Scenario 5 of bench/run (issue 11): the load generators' own cost.
#
# sipp (bench/sipp/uac.xml, the side_by_side load) and `fedua load` (the scaling load) each send
# MESSAGEs as fast as a window of 256 outstanding allows, over ONE TCP connection, straight into
# the cheapest possible sink: the stateless Kamailio peer of side_by_side (bench/kamailio/peer.cfg,
# plain TCP 127.0.0.2:5070, answers 200 without any state). No gateway in between: this is the
# most each generator can offer on this machine, and what it costs.
# Per run: msg_s (final responses / wall time of the generator), cpu_us_per_msg (the generator's
# own user+sys CPU, exact from its rusage, / answered), sink_cpu_us_per_msg (the Kamailio sink),
# unanswered, failed (non-2xx).
# env (from bench/run): FEDGW_BIN BENCH_OUT BENCH_SMOKE BENCH_REPEATS; optional LOADGEN_COUNT.
set -euo pipefail
{ # the whole script is read before it runs: editing it meanwhile cannot break a run
BENCH=$(cd "$(dirname "$0")/.." && pwd)
source "$BENCH/lib.sh"
bench_scenario loadgen kamailio sipp
if [ "$SMOKE" = 1 ]; then COUNT=${LOADGEN_COUNT:-5000}; else COUNT=${LOADGEN_COUNT:-200000}; fi
WINDOW=256
trap 'bench_stop' EXIT
trap 'exit 130' INT TERM
log() { echo "[$NAME] $*" >&2; }

echo "loadgen=sipp and fedua load, window $WINDOW, $COUNT MESSAGEs into a stateless Kamailio over TCP (no gateway)" >> "$BENCH_OUT/meta"
"$BENCH/make-certs.sh" "$DIR/certs" 0
sed "s#@CERTS@#$DIR/certs#" "$BENCH/kamailio/tls-peer.cfg" > "$DIR/tls-peer.cfg"
mkdir -p "$DIR/peer-run"
bench_start 7200 "$DIR/peer.log" kamailio -f "$BENCH/kamailio/peer.cfg" -DD -E -Y "$DIR/peer-run" -m 256 \
  -x tlsf -n 2 -N 2 -A "TLS_CFG=\"$DIR/tls-peer.cfg\""
PEER_PID=$BENCH_LAST_PID
bench_wait_port 127.0.0.2 5070 10 || { tail "$DIR/peer.log" >&2; exit 1; }
sleep 0.3

sipp_col() {
  awk -F';' -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                          { last = $c } END { print (last == "" ? 0 : last) + 0 }' "$1"
}
run_one() { # GENERATOR RUN
  local gen=$1 run=$2 rd p0 p1 t0 t1 rc=0 answered failed unanswered
  rd=$DIR/$gen-$run
  mkdir -p "$rd"
  p0=$(bench_cpu_s $(bench_tree "$PEER_PID"))
  t0=$(bench_now)
  if [ "$gen" = sipp ]; then
    bench_measure "$rd/cpu" bash -c 'cd "$0" && exec "$@" >uac.out 2>&1' "$rd" \
      timeout -k 5 200 sipp -sf "$BENCH/sipp/uac.xml" -t t1 -i 127.0.0.1 -p 0 -nostdin -recv_timeout 5000 \
      -max_socket 100 127.0.0.2:5070 -r 1000000 -rp 1000 -l $WINDOW -m "$COUNT" -timeout 180s \
      -trace_stat -stf stat.csv -fd 1 || rc=$?
    local created ok
    created=$(sipp_col "$rd/stat.csv" "TotalCallCreated"); ok=$(sipp_col "$rd/stat.csv" "SuccessfulCall(C)")
    failed=$(sipp_col "$rd/stat.csv" "FailedUnexpectedMessage(C)")
    answered=$((ok + failed)); unanswered=$((COUNT - answered))
  else
    bench_measure "$rd/cpu" bash -c 'exec "$@" >"$0" 2>&1' "$rd/load.out" \
      timeout -k 5 200 "$FEDGW_BIN/fedua" --gateway 127.0.0.2:5070 --domain corp.test --user alice \
      --window $WINDOW --timeout 180 load bob@peer.test "$COUNT" || rc=$?
    local line k ok
    line=$(grep -m1 'load: sent' "$rd/load.out" || true)
    ok=$(bench_load_field "$line" 2xx); answered=0
    for k in 2xx 3xx 4xx 5xx 6xx; do answered=$((answered + $(bench_load_field "$line" $k || echo 0))); done
    failed=$((answered - ${ok:-0})); unanswered=$((COUNT - answered))
  fi
  t1=$(bench_now)
  p1=$(bench_cpu_s $(bench_tree "$PEER_PID"))
  local metrics
  metrics=$(awk -v n="$answered" -v c="$(cat "$rd/cpu")" -v a="$t0" -v b="$t1" -v p0="$p0" -v p1="$p1" 'BEGIN {
      if (n > 0) printf "msg_s=%.0f cpu_us_per_msg=%.1f sink_cpu_us_per_msg=%.1f", n / (b - a), c * 1e6 / n, (p1 - p0) * 1e6 / n
      else print "msg_s=0" }')
  # shellcheck disable=SC2086
  bench_add_row "$NAME" "$gen" "closed_$WINDOW" "$run" $metrics unanswered="$unanswered" failed="$failed" \
    answered="$answered" rc="$rc"
  log "$gen run $run: answered $answered of $COUNT, failed $failed, $metrics"
}

for run in $(seq 1 "$REPEATS"); do
  if [ $((run % 2)) = 1 ]; then order="sipp fedua"; else order="fedua sipp"; fi
  for gen in $order; do run_one "$gen" "$run"; done
done
exit 0
}
