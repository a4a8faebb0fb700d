#!/usr/bin/env bash
# Scenario 4 of bench/run (issue 11): data-path scaling with 1, 2, 4 and 8 CAF worker threads.
#
#   fedua load (the UC server of a.test, ONE TCP connection, closed loop, window 256)
#     -> gateway A (127.0.5.1, serves a.test)
#     -> mutual TLS, next hop by _sipfederationtls._tcp SRV (dnsmasq 127.0.0.154:53)
#     -> gateway B (127.0.6.1) serving PARTNERS partner domains p1.test .. pN.test (default 100)
#        with one certificate naming them all (SAN list, bench/make-certs.sh)
#     -> fedua serve (B's UC server, one TCP connection) answers 200.
# The MESSAGEs go to bob@p1.test, bob@p2.test, ... in turn (fedua load with a TO list), so A
# keeps one partner connection per domain busy. Both gateways run with worker_threads 1, then 2
# (fresh processes per run, the load alternates between the two settings).
# Per run: msg_s (fedua load: final responses / elapsed), cpu_us_per_msg (gateway A's user+sys
# CPU from /proc / answered), cpu_b_us_per_msg (gateway B), serial_fraction_pct (share of the
# busiest single thread in gateway A's CPU over the run, from /proc/PID/task: the serial part
# that bounds scaling, Amdahl), serial_b_fraction_pct, busiest_thread (its name#index in TID
# order), p50_ms/p99_ms (fedua's latency), unanswered, failed (non-2xx), partner_connections
# (outbound connections gateway A opened: one per partner domain), switches_per_msg (gateway A's context
# switches, voluntary and not, from /proc/PID/task/*/status, per answered MESSAGE).
# Rows workers_N_vs_workers_M (M the first of SCALING_WORKERS): per repeat, the change of msg_s and of
# cpu_us_per_msg from the M-worker run to the N-worker run next to it (msg_s_change_pct,
# cpu_us_per_msg_change_pct): the pairs cancel the drift of a shared machine between repeats.
# env (from bench/run): FEDGW_BIN BENCH_OUT BENCH_SMOKE BENCH_REPEATS; optional SCALING_REPEATS (default
# BENCH_REPEATS, at least 7 outside smoke runs: one run takes seconds, and the 1 -> 2 workers change is
# smaller than the spread of single runs on a shared machine), SCALING_PARTNERS,
# SCALING_COUNT, SCALING_WORKERS (default "1 2 4 8": more workers than cores show whether the work spreads;
# with N threads the busiest carries at least 1/N of the CPU, so a share at or below 25 % needs more than 4),
# SCALING_SPREAD_FROM (default 4: from 4 workers on the gateways run with spread_when_cores_busy, so that the
# serial fraction shows what the structure can spread on a machine with free cores),
# BENCH_PERF=1 (perf record of gateway A into the run's directory, see bench_perf_start). Needs the private namespaces of bench/run
# (DNS on port 53 of 127.0.0.154).
set -euo pipefail
{ # the whole script is read before it runs: editing it meanwhile cannot break a run
BENCH=$(cd "$(dirname "$0")/.." && pwd)
source "$BENCH/lib.sh"
bench_scenario scaling dnsmasq
PARTNERS=${SCALING_PARTNERS:-100}
WORKERS=${SCALING_WORKERS:-1 2 4 8}
SPREAD_FROM=${SCALING_SPREAD_FROM:-4}
if [ "$SMOKE" = 1 ]; then
  COUNT=${SCALING_COUNT:-3000} REPEATS=${SCALING_REPEATS:-$REPEATS}
else
  COUNT=${SCALING_COUNT:-60000} REPEATS=${SCALING_REPEATS:-$((REPEATS < 7 ? 7 : REPEATS))}
fi
WINDOW=256
IP_A=127.0.5.1
IP_B=127.0.6.1
DNS_IP=127.0.0.154
trap 'bench_stop' EXIT
trap 'exit 130' INT TERM
log() { echo "[$NAME] $*" >&2; }

echo "scaling=two fedgw gateways, worker_threads $WORKERS (spread_when_cores_busy from $SPREAD_FROM workers on); fedua load window $WINDOW, $COUNT MESSAGEs over $PARTNERS partner domains (one certificate naming all)" >> "$BENCH_OUT/meta"
"$BENCH/make-certs.sh" "$DIR/certs" "$PARTNERS"
{
  echo "no-resolv"; echo "no-hosts"; echo "no-poll"; echo "bind-interfaces"
  echo "local=/test/"; echo "local-ttl=3600"
  echo "host-record=gw.a.test,$IP_A"; echo "host-record=gw.b.test,$IP_B"
  echo "srv-host=_sipfederationtls._tcp.a.test,gw.a.test,5061,10,10"
  for i in $(seq 1 "$PARTNERS"); do echo "srv-host=_sipfederationtls._tcp.p$i.test,gw.b.test,5061,10,10"; done
} > "$DIR/dnsmasq.conf"
bench_start 7200 "$DIR/dnsmasq.log" dnsmasq --keep-in-foreground --conf-file="$DIR/dnsmasq.conf" \
  --listen-address=$DNS_IP --port=53 --pid-file= --user=root --log-facility=-
bench_wait_port $DNS_IP 53 5

TARGETS=$(for i in $(seq 1 "$PARTNERS"); do printf 'bob@p%d.test,' "$i"; done)
TARGETS=${TARGETS%,}

# gateway_config NAME IP CERT WORKERS DOMAIN... -- ALLOWED...
gateway_config() {
  local name=$1 ip=$2 cert=$3 workers=$4 d
  shift 4
  {
    echo "mode: DIRECT"
    while [ "$1" != -- ]; do echo "domains: \"$1\""; shift; done
    shift
    echo "certificate { cert_file: \"$DIR/certs/$cert.crt\" key_file: \"$DIR/certs/$cert.key\" ca_bundle: \"$DIR/certs/ca.crt\" }"
    echo "internal_listener { bind_ip: \"$ip\" port: 5060 transport: TCP }"
    echo "federation_listener { bind_ip: \"$ip\" port: 5061 transport: MTLS }"
    echo "dns { servers: \"$DNS_IP:53\" }"
    echo -n "partners {"; for d in "$@"; do echo -n " allowed: \"$d\""; done; echo " }"
    # one partner connection per domain, all from one address: above the default of 50 per source
    echo "limits { max_connections_per_source: $((PARTNERS + 50)) }"
    echo "control_socket: \"$DIR/$name.sock\""
    echo "worker_threads: $workers"
    # From SPREAD_FROM workers on, work spreads over them even on busy cores: on these 2 cores the runs
    # with more workers than cores measure how far the structure lets the work spread (serial fraction)
    if [ "$workers" -ge "$SPREAD_FROM" ]; then echo "spread_when_cores_busy: true"; fi
  } > "$DIR/$name-w$workers.textproto"
}
for w in $WORKERS; do
  gateway_config a $IP_A gwa "$w" a.test -- $(seq -f 'p%g.test' 1 "$PARTNERS")
  gateway_config b $IP_B gwb "$w" b.test $(seq -f 'p%g.test' 1 "$PARTNERS") -- a.test
done

# load_field LINE NAME: the number after NAME in fedua's "load: sent ..." line.
load_field() { sed -n "s/.*[ ,]$2 \([0-9.]*\).*/\1/p" <<<"$1" | head -n 1; }

run_one() { # WORKERS RUN
  local w=$1 run=$2 rd
  rd=$DIR/w$w-$run
  mkdir -p "$rd"
  local first=${#BENCH_PIDS[@]}
  bench_start 900 "$rd/a.log" "$FEDGW_BIN/fedgw" --config "$DIR/a-w$w.textproto"; local pa=$BENCH_LAST_PID
  bench_start 900 "$rd/b.log" "$FEDGW_BIN/fedgw" --config "$DIR/b-w$w.textproto"; local pb=$BENCH_LAST_PID
  bench_wait_port $IP_A 5060 15 && bench_wait_port $IP_B 5061 15 && bench_wait_port $IP_B 5060 15 ||
    { tail "$rd"/a.log "$rd"/b.log >&2; return 1; }
  bench_start 900 "$rd/serve.out" "$FEDGW_BIN/fedua" --gateway $IP_B:5060 --domain b.test -q serve 850
  local i
  for ((i = 0; i < 100; i++)); do grep -q "serving" "$rd/serve.out" 2>/dev/null && break; sleep 0.05; done
  # warm-up: DNS, one partner connection per domain, TLS handshakes
  timeout -k 5 60 "$FEDGW_BIN/fedua" --gateway $IP_A:5060 --domain a.test --user alice --window 64 --timeout 50 \
    load "$TARGETS" $((PARTNERS * 3)) > "$rd/warmup.out" 2>&1 || { log "warm-up failed: $(tail -n 3 "$rd/warmup.out")"; }
  local a0 a1 b0 b1 out rc=0
  bench_thread_ticks "$pa" > "$rd/a-threads.0"; bench_thread_ticks "$pb" > "$rd/b-threads.0"
  a0=$(bench_cpu_s "$pa"); b0=$(bench_cpu_s "$pb")
  local cs0 cs1
  cs0=$(bench_ctx_switches "$pa")
  bench_perf_start "$pa" "$rd" 260
  out=$(timeout -k 5 200 "$FEDGW_BIN/fedua" --gateway $IP_A:5060 --domain a.test --user alice --window $WINDOW \
        --timeout 180 load "$TARGETS" "$COUNT" 2>&1) || rc=$?
  bench_perf_stop
  a1=$(bench_cpu_s "$pa"); b1=$(bench_cpu_s "$pb")
  cs1=$(bench_ctx_switches "$pa")
  bench_thread_ticks "$pa" > "$rd/a-threads.1"; bench_thread_ticks "$pb" > "$rd/b-threads.1"
  echo "$out" > "$rd/load.out"
  bench_stop "${BENCH_PIDS[@]:$first}"

  local line sent ok finals unanswered failed rate p50 p99 k
  line=$(grep -m1 'load: sent' <<<"$out" || true)
  sent=$(load_field "$line" sent); ok=$(load_field "$line" 2xx)
  finals=0
  for k in 2xx 3xx 4xx 5xx 6xx; do finals=$((finals + $(load_field "$line" $k || echo 0))); done
  unanswered=$((COUNT - finals)); failed=$((finals - ${ok:-0}))
  rate=$(sed -n 's/.* \([0-9.]*\) msg\/s.*/\1/p' <<<"$line")
  p50=$(sed -n 's/.*median \([0-9.]*\) ms.*/\1/p' <<<"$line"); p99=$(sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' <<<"$line")
  # busiest thread: name#index (index in TID order, 0 = main thread) and its share
  local name_a share_a name_b share_b idx
  read -r name_a share_a < <(bench_busiest_thread "$pa" "$rd/a-threads.0" "$rd/a-threads.1")
  read -r name_b share_b < <(bench_busiest_thread "$pb" "$rd/b-threads.0" "$rd/b-threads.1")
  local conns
  conns=$(grep -c 'outbound connection up' "$rd/a.log" || true)
  local metrics
  metrics=$(awk -v n="$finals" -v a="$(awk -v x="$a0" -v y="$a1" 'BEGIN{print y-x}')" \
                -v b="$(awk -v x="$b0" -v y="$b1" 'BEGIN{print y-x}')" -v cs="$((cs1 - cs0))" 'BEGIN {
      if (n > 0) printf "cpu_us_per_msg=%.1f cpu_b_us_per_msg=%.1f switches_per_msg=%.2f", a * 1e6 / n, b * 1e6 / n, cs / n }')
  # shellcheck disable=SC2086
  bench_add_row "$NAME" fedgw "workers_$w" "$run" msg_s="${rate:-0}" $metrics \
    serial_fraction_pct="$share_a" serial_b_fraction_pct="$share_b" busiest_thread="$name_a" \
    p50_ms="${p50:-NA}" p99_ms="${p99:-NA}" unanswered="$unanswered" failed="$failed" answered="$finals" \
    partners="$PARTNERS" partner_connections="${conns:-0}" fedua_rc="$rc"
  log "workers $w run $run: $line; A cpu $(awk -v x="$a0" -v y="$a1" 'BEGIN{print y-x}') s (busiest thread $name_a $share_a %, $((cs1 - cs0)) context switches), B cpu $(awk -v x="$b0" -v y="$b1" 'BEGIN{print y-x}') s (busiest $name_b $share_b %)"
  gzip -qf "$rd"/*.log 2>/dev/null || true
}

for run in $(seq 1 "$REPEATS"); do
  order=$WORKERS
  [ $((run % 2)) = 0 ] && order=$(tr ' ' '\n' <<<"$WORKERS" | tac | tr '\n' ' ')
  for w in $order; do run_one "$w" "$run"; done
done
# Each worker count against the first, run by run (the runs of one repeat follow each other): the change of
# msg/s and of gateway A's CPU per MESSAGE, e.g. load workers_2_vs_workers_1, msg_s_change_pct
first_workers=${WORKERS%% *}
python3 "$BENCH/benchlib.py" paired "$BENCH_OUT/runs.jsonl" "$NAME" fedgw "workers_$first_workers" msg_s cpu_us_per_msg
exit 0
}
