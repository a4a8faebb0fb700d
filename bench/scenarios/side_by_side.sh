#!/usr/bin/env bash
# Scenario 1 of bench/run (issue 11): fedgw side by side with Kamailio.
#
#   sipp UAC (Debian sip-tester, bench/sipp/uac.xml, ONE TCP connection)
#     -> edge on 127.0.0.1:5060 (TCP): fedgw, or Kamailio 5.6 (bench/kamailio/edge.cfg, tm, -x tlsf)
#     -> mutual TLS -> peer.test, found by DNS SRV (dnsmasq on 127.0.0.153:53, bench/dns/dnsmasq.conf;
#        fedgw asks _sipfederationtls._tcp.peer.test, Kamailio _sips._tcp.peer.test: same target)
#     -> stateless Kamailio peer 127.0.0.2:5071 (bench/kamailio/peer.cfg) answers 200.
# Loads: closed loop with 256 outstanding (fixed count) and open loop at 1,000, 5,000 and
# 10,000 MESSAGE/s (fixed duration); each run starts a fresh edge; fedgw and Kamailio alternate.
# Per run and system: msg_s (answered / wall time of the sipp run), p50_ms/p99_ms (sipp -trace_rtt,
# 1 ms steps; coarse on some kernels), cpu_us_per_msg (edge user+sys CPU from /proc from the start
# of the load until DRAIN s (6; 0 with --smoke) after its end, all Kamailio processes summed,
# / answered: both edges defer per-transaction work), cpu_load_us_per_msg (the same without the
# drain), rss_kb (VmRSS summed over the edge's processes at
# the end: counts Kamailio's shared memory once per process), pss_kb (proportional set size
# summed: shared memory counted once, the fair comparison), unanswered (created - final
# responses), failed (non-2xx final responses), peer_cpu_us_per_msg, uac_cpu_us_per_msg.
#
# env (from bench/run): FEDGW_BIN BENCH_OUT BENCH_SMOKE BENCH_REPEATS; must run isolated
# (bench_isolate: private net + mount namespaces, root) because the DNS server is on port 53 and
# Kamailio reads /etc/resolv.conf (bind-mounted here inside the private mount namespace).
# optional env: SBS_LOADS (e.g. "closed_256 open_1000"), SBS_SYSTEMS (default "fedgw kamailio"),
# SBS_SECONDS, SBS_DRAIN, KAM_SHM_MB (default 2048), BENCH_PERF=1 (perf record -g of the edge's
# main process during each load run: perf.data in the run folder, kept with bench/run --keep;
# BENCH_PERF_ARGS replaces its default "-g", e.g. "-e probe_libc:malloc --call-graph dwarf").
set -euo pipefail
{ # the whole script is read before it runs: editing it meanwhile cannot break a run
BENCH=$(cd "$(dirname "$0")/.." && pwd)
source "$BENCH/lib.sh"
bench_scenario side_by_side kamailio sipp dnsmasq
if [ "$SMOKE" = 1 ]; then
  SECONDS_PER_RUN=${SBS_SECONDS:-2}; CLOSED_COUNT=5000; DRAIN=${SBS_DRAIN:-0}
else
  SECONDS_PER_RUN=${SBS_SECONDS:-12}; CLOSED_COUNT=120000; DRAIN=${SBS_DRAIN:-6}
fi
LOADS=${SBS_LOADS:-closed_256 open_1000 open_5000 open_10000}
SHM_MB=${KAM_SHM_MB:-2048}
DNS_IP=127.0.0.153
MOUNTED=0
cleanup() {
  bench_stop
  [ $MOUNTED = 1 ] && umount /etc/resolv.conf 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "[$NAME] $*" >&2; }

echo "side_by_side=sipp uac.xml one TCP connection; edges: fedgw (worker_threads default = one per core) and Kamailio $(kamailio -v | awk 'NR == 1 { print $3 }') (edge.cfg, tm, -x tlsf, -m $SHM_MB, default children); mTLS to a stateless Kamailio peer (-n 2 -N 2) found by SRV; ${SECONDS_PER_RUN} s open-loop runs, closed loop $CLOSED_COUNT messages, CPU drain ${DRAIN} s" >> "$BENCH_OUT/meta"

# ---- certificates, DNS, resolver, peer (shared by all runs) -----------------------------------
"$BENCH/make-certs.sh" "$DIR/certs" 0
printf 'nameserver %s\noptions attempts:1 timeout:1\n' "$DNS_IP" > "$DIR/resolv.conf"
mount --bind "$DIR/resolv.conf" /etc/resolv.conf
MOUNTED=1
bench_start 7200 "$DIR/dnsmasq.log" dnsmasq --keep-in-foreground --conf-file="$BENCH/dns/dnsmasq.conf" \
  --listen-address=$DNS_IP --port=53 --pid-file= --user=root --log-facility=-
bench_wait_port $DNS_IP 53 5
for side in edge peer; do
  sed "s#@CERTS@#$DIR/certs#" "$BENCH/kamailio/tls-$side.cfg" > "$DIR/tls-$side.cfg"
done
mkdir -p "$DIR/peer-run"
bench_start 7200 "$DIR/peer.log" kamailio -f "$BENCH/kamailio/peer.cfg" -DD -E -Y "$DIR/peer-run" -m 256 \
  -x tlsf -n 2 -N 2 -A "TLS_CFG=\"$DIR/tls-peer.cfg\""
PEER_PID=$BENCH_LAST_PID
bench_wait_port 127.0.0.2 5071 10 || { tail "$DIR/peer.log" >&2; exit 1; }

cat > "$DIR/fedgw.textproto" <<CFG
# fedgw as the federation edge of corp.test (as ../shared/anchors/kamailio/fedgw-edge.textproto)
mode: DIRECT
domains: "corp.test"
certificate { cert_file: "$DIR/certs/edge.crt" key_file: "$DIR/certs/edge.key" ca_bundle: "$DIR/certs/ca.crt" }
internal_listener { bind_ip: "127.0.0.1" port: 5060 transport: TCP }
federation_listener { bind_ip: "127.0.0.1" port: 5061 transport: MTLS }
dns { servers: "$DNS_IP:53" }
partners { allowed: "peer.test" }
control_socket: "$DIR/fedgw.sock"
CFG

# ---- one run ----------------------------------------------------------------------------------
# start_edge SYSTEM LOGDIR: sets EDGE_TPID (timeout wrapper) and EDGE_PIDS (every edge process).
start_edge() {
  local system=$1 rd=$2
  if [ "$system" = fedgw ]; then
    bench_start 600 "$rd/edge.log" "$FEDGW_BIN/fedgw" --config "$DIR/fedgw.textproto"
  else
    mkdir -p "$rd/kam"
    bench_start 600 "$rd/edge.log" kamailio -f "$BENCH/kamailio/edge.cfg" -DD -E -Y "$rd/kam" -m "$SHM_MB" \
      -x tlsf -A "TLS_CFG=\"$DIR/tls-edge.cfg\"" -A "CTL_SOCK=\"unix:$rd/kam/ctl.sock\""
  fi
  EDGE_TPID=${BENCH_PIDS[-1]}
  local main=$BENCH_LAST_PID
  bench_wait_port 127.0.0.1 5060 15 || { tail "$rd/edge.log" >&2; return 1; }
  sleep 0.5   # Kamailio forks its workers after binding
  mapfile -t EDGE_PIDS < <(bench_tree "$main")
}

# sipp_col FILE NAME: the value of column NAME in the last line of sipp's ';'-separated stat file.
sipp_col() {
  awk -F';' -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                          { last = $c } END { print (last == "" ? 0 : last) + 0 }' "$1"
}

run_one() { # SYSTEM LOAD RUN
  local system=$1 load=$2 run=$3 rd rate conc count rtt_freq
  rd=$DIR/$load-$system-$run
  mkdir -p "$rd"
  start_edge "$system" "$rd"
  local sipp_common=(-sf "$BENCH/sipp/uac.xml" -t t1 -i 127.0.0.1 -p 0 -nostdin -recv_timeout 5000
                     -max_socket 100 127.0.0.1:5060)
  # warm-up: edge -> peer TLS connection, DNS cache
  (cd "$rd" && timeout -k 5 30 sipp "${sipp_common[@]}" -r 100 -m 50 -l 50 -timeout 20s >warmup.out 2>&1) || true
  case $load in
    closed_*) conc=${load#closed_}; rate=200000; count=$CLOSED_COUNT ;;
    open_*) rate=${load#open_}; conc=5000; count=$((rate * SECONDS_PER_RUN)) ;;
  esac
  rtt_freq=$((count / 50)); [ $rtt_freq -gt 1000 ] && rtt_freq=1000; [ $rtt_freq -lt 1 ] && rtt_freq=1
  local e0 e1 p0 p1 t0 t1 u1 rc=0
  e0=$(bench_cpu_s "${EDGE_PIDS[@]}"); p0=$(bench_cpu_s $(bench_tree "$PEER_PID"))
  local perf_pid=
  if [ "${BENCH_PERF:-0}" = 1 ]; then
    # shellcheck disable=SC2086
    timeout -s INT $((SECONDS_PER_RUN * 4 + 60)) perf record -q ${BENCH_PERF_ARGS:--g} -o "$rd/perf.data" -p "${EDGE_PIDS[0]}" \
      >"$rd/perf.out" 2>&1 &
    perf_pid=$!
  fi
  t0=$(bench_now)
  bench_measure "$rd/uac.cpu" bash -c 'cd "$0" && exec "$@" >uac.out 2>&1' "$rd" \
    timeout -k 5 $((SECONDS_PER_RUN * 4 + 60)) sipp "${sipp_common[@]}" -r "$rate" -rp 1000 \
     -l "$conc" -m "$count" -timeout $((SECONDS_PER_RUN * 4 + 50))s -trace_stat -stf stat.csv -fd 1 \
     -trace_rtt -rtt_freq "$rtt_freq" -trace_err || rc=$?
  u1=$(cat "$rd/uac.cpu")
  t1=$(bench_now)
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" || true; fi
  local er
  er=$(bench_cpu_s "${EDGE_PIDS[@]}")
  # Both edges defer work past the last answer (Kamailio frees each transaction 5 s later in
  # its timer process; fedgw's transaction timers fire later): CPU is counted up to DRAIN s after
  # the load ended (idle cost included), cpu_load_us_per_msg only while the load ran.
  sleep "$DRAIN"
  e1=$(bench_cpu_s "${EDGE_PIDS[@]}"); p1=$(bench_cpu_s $(bench_tree "$PEER_PID"))
  local rss pss
  rss=$(bench_rss_kb "${EDGE_PIDS[@]}"); pss=$(bench_pss_kb "${EDGE_PIDS[@]}")
  bench_stop "$EDGE_TPID"

  local created ok failed_unexp answered unanswered elapsed
  created=$(sipp_col "$rd/stat.csv" "TotalCallCreated")
  ok=$(sipp_col "$rd/stat.csv" "SuccessfulCall(C)")
  failed_unexp=$(sipp_col "$rd/stat.csv" "FailedUnexpectedMessage(C)")
  answered=$((ok + failed_unexp))
  unanswered=$((created - answered))
  elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  local p50 p99 rttf
  rttf=$(ls "$rd"/*_rtt.csv 2>/dev/null | head -n 1)
  read -r p50 p99 < <(grep -hE '^[0-9]' ${rttf:-/dev/null} | awk -F';' '{print $2}' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "NA NA"; exit }
          i = int(NR * 0.5); if (i < 1) i = 1; j = int(NR * 0.99); if (j < 1) j = 1; print v[i], v[j] }')
  local metrics
  metrics=$(awk -v n="$answered" -v el="$elapsed" -v e="$(awk -v a="$e0" -v b="$e1" 'BEGIN{print b-a}')" \
                -v p="$(awk -v a="$p0" -v b="$p1" 'BEGIN{print b-a}')" -v u="$u1" \
                -v r="$(awk -v a="$e0" -v b="$er" 'BEGIN{print b-a}')" 'BEGIN {
      if (n > 0) printf "msg_s=%.0f cpu_us_per_msg=%.1f cpu_load_us_per_msg=%.1f peer_cpu_us_per_msg=%.1f uac_cpu_us_per_msg=%.1f",
                        n / el, e * 1e6 / n, r * 1e6 / n, p * 1e6 / n, u * 1e6 / n
      else printf "msg_s=0" }')
  # shellcheck disable=SC2086
  bench_add_row "$NAME" "$system" "$load" "$run" $metrics p50_ms="$p50" p99_ms="$p99" \
    rss_kb="$rss" pss_kb="$pss" unanswered="$unanswered" failed="$failed_unexp" answered="$answered" \
    seconds="$elapsed" sipp_rc="$rc"
  log "$system $load run $run: answered $answered of $created in ${elapsed}s, unanswered $unanswered, failed $failed_unexp, $metrics p50 $p50 p99 $p99 rss ${rss} KiB pss ${pss} KiB"
  gzip -qf "$rd"/*_rtt.csv "$rd"/*.log 2>/dev/null || true
}

# ---- the matrix: per load, runs alternate fedgw / kamailio (the first system alternates too) ----
for load in $LOADS; do
  for run in $(seq 1 "$REPEATS"); do
    if [ $((run % 2)) = 1 ]; then order="fedgw kamailio"; else order="kamailio fedgw"; fi
    for system in $order; do
      case " ${SBS_SYSTEMS:-fedgw kamailio} " in *" $system "*) ;; *) continue ;; esac
      run_one "$system" "$load" "$run"
    done
  done
done
exit 0
}
