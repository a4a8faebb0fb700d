# Shared helpers of the benchmark scenarios (sourced; bash). Measurements come
# from /proc of the processes the scenario started (by PID).

# bench_cpu_s PID...: user+system CPU seconds so far, summed over the processes (all threads).
bench_cpu_s() {
  local tick pid total=0
  tick=$(getconf CLK_TCK)
  for pid in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  awk -v t="$total" -v k="$tick" 'BEGIN { printf "%.3f\n", t / k }'
}

# bench_thread_ticks PID: "TID NAME TICKS" per thread (user+system clock ticks).
bench_thread_ticks() {
  local stat
  for stat in /proc/"$1"/task/*/stat; do
    # comm may hold spaces: fields after the closing parenthesis.
    sed -E 's/^([0-9]+) \((.*)\) (.*)$/\1 \2|\3/' "$stat" |
      awk -F'|' '{ split($2, f, " "); n = split($1, h, " "); name = h[2]; for (i = 3; i <= n; i++) name = name "_" h[i];
                   print h[1], name, f[12] + f[13] }'
  done
}

# bench_run_ns PID...: nanoseconds all their threads ran on a CPU so far (/proc/PID/task/*/schedstat:
# exact, where /proc/PID/stat counts whole clock ticks).
bench_run_ns() {
  local pid
  for pid in "$@"; do cat /proc/"$pid"/task/*/schedstat 2>/dev/null; done | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# bench_ctx_switches PID...: context switches of all their threads so far (voluntary + involuntary), summed.
bench_ctx_switches() {
  local pid
  for pid in "$@"; do cat /proc/"$pid"/task/*/status 2>/dev/null; done |
    awk '/^(nonvoluntary_|voluntary_)ctxt_switches:/ { s += $2 } END { print s + 0 }'
}

# bench_steal_ms: ms of CPU time the hypervisor has so far held this VM's CPUs from it while they had
# work (the steal column of /proc/stat, whole clock ticks), summed over the CPUs. While a vCPU waits
# for the host, every task on it stalls: tens of ms here (README Performance, "Stalls of the VM").
bench_steal_ms() {
  awk -v k="$(getconf CLK_TCK)" '/^cpu[0-9]/ { s += $9 } END { printf "%.0f\n", s * 1000 / k }' /proc/stat
}

# bench_rss_kb PID...: resident set size in KiB, summed.
bench_rss_kb() {
  local pid total=0 kb
  for pid in "$@"; do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}

# bench_fds PID: open file descriptors.
bench_fds() { ls "/proc/$1/fd" | wc -l; }

# bench_isolate "$0" "$@": as root, re-executes the calling script in new
# network and mount namespaces with only `lo` up (no traffic can leave the
# machine; /etc/resolv.conf can be replaced privately). No-op when already
# isolated or not root.
bench_isolate() {
  [ "${BENCH_ISOLATED:-}" = 1 ] && return 0
  [ "$(id -u)" = 0 ] || return 0
  export BENCH_ISOLATED=1
  exec unshare --net --mount -- bash -c 'ip link set lo up && exec "$0" "$@"' "$@"
}

# bench_scenario NAME [TOOL...]: the common start of a scenario that bench/run calls: FEDGW_BIN
# and BENCH_OUT set, running in bench/run's private namespaces, the tools installed. Sets NAME,
# SMOKE, REPEATS and DIR (the scenario's folder under BENCH_OUT, created).
bench_scenario() {
  NAME=$1
  shift
  : "${FEDGW_BIN:?}" "${BENCH_OUT:?}"
  [ "${BENCH_ISOLATED:-}" = 1 ] || { echo "$NAME: needs the private namespaces of bench/run (root)" >&2; exit 2; }
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$NAME: $tool is not installed (scripts/install-deps.sh)" >&2; exit 2; }
  done
  SMOKE=${BENCH_SMOKE:-0}
  REPEATS=${BENCH_REPEATS:-3}
  DIR=$BENCH_OUT/$NAME
  mkdir -p "$DIR"
}

# bench_add_row SCENARIO SYSTEM LOAD RUN metric=value...: one measured run.
bench_add_row() { python3 "$(dirname "${BASH_SOURCE[0]}")/benchlib.py" add-row "$BENCH_OUT/runs.jsonl" "$@"; }

# ---- processes the scenarios start (each under `timeout`, stopped by PID) ----------------------

BENCH_PIDS=()

# bench_start SECONDS LOG CMD...: runs CMD in the background under `timeout SECONDS` (KILL 5 s
# after that), stdout+stderr to LOG; records the timeout PID in BENCH_PIDS and sets BENCH_LAST_PID
# to CMD's own PID (the child of timeout).
bench_start() {
  local seconds=$1 log=$2 tpid i child=
  shift 2
  timeout -k 5 "$seconds" "$@" >"$log" 2>&1 &
  tpid=$!
  BENCH_PIDS+=("$tpid")
  for ((i = 0; i < 200; i++)); do
    child=$(pgrep -P "$tpid" | head -n 1) || true
    [ -n "$child" ] && break
    kill -0 "$tpid" 2>/dev/null || break
    sleep 0.01
  done
  BENCH_LAST_PID=${child:-$tpid}
}

# bench_stop [PID...]: stops the given timeout PIDs (default: all of BENCH_PIDS) with TERM, KILL
# after 5 s; forgets them.
bench_stop() {
  local pids=("$@") p alive keep=() i
  [ ${#pids[@]} -gt 0 ] || pids=("${BENCH_PIDS[@]}")
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  for p in "${BENCH_PIDS[@]}"; do [[ " ${pids[*]} " == *" $p "* ]] || keep+=("$p"); done
  BENCH_PIDS=("${keep[@]}")
}

# bench_tree PID: PID and all its descendants.
bench_tree() {
  local c
  echo "$1"
  for c in $(pgrep -P "$1"); do bench_tree "$c"; done
}

# bench_pss_kb PID...: proportional set size in KiB, summed (shared memory counted once over
# the processes sharing it: the fair sum for a multi-process server such as Kamailio).
bench_pss_kb() {
  local pid total=0 kb
  for pid in "$@"; do
    kb=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}

# bench_wait_port IP PORT SECONDS: until something listens on IP:PORT (TCP or UDP).
bench_wait_port() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    ss -ltnH "src $1:$2" 2>/dev/null | grep -q . && return 0
    ss -lunH "src $1:$2" 2>/dev/null | grep -q . && return 0
    sleep 0.05
  done
  echo "nothing listens on $1:$2 after $3 s" >&2
  return 1
}

# bench_now: wall clock in seconds (ns resolution).
bench_now() { date +%s.%N; }

# bench_busiest_thread PID BEFORE_FILE AFTER_FILE: from two bench_thread_ticks snapshots, prints
# "NAME#INDEX SHARE_PCT" of the thread that used the most CPU in between (INDEX: its place in TID
# order, 0 = the main thread; SHARE_PCT: its part of the whole process's CPU in between).
bench_busiest_thread() {
  awk 'NR == FNR { before[$1] = $3; next }
       { tid[$1] = 1; d = $3 - before[$1]; total += d; if (d > best) { best = d; name = $2; btid = $1 } }
       END { if (total <= 0) { print "none 0"; exit }
             idx = 0; for (t in tid) if (t + 0 < btid + 0) idx++
             printf "%s#%d %.1f\n", name, idx, 100 * best / total }' "$2" "$3"
}

# bench_measure CPU_FILE CMD...: runs CMD in the foreground (give it its own `timeout`), then
# writes the user+system CPU seconds of CMD and its descendants (the subshell's reaped children,
# exact, from `times`) to CPU_FILE; returns CMD's status.
# bench_load_field LINE NAME: the number after NAME in fedua's "load: sent N, 2xx N, ..., median 1.20 ms" line.
bench_load_field() { sed -n "s/.*[ ,]$2 \([0-9.]*\).*/\1/p" <<<"$1" | head -n 1; }

# bench_perf_start PID DIR SECONDS: with BENCH_PERF=1, `perf record` of PID into DIR/perf.data for
# at most SECONDS (BENCH_PERF_ARGS replaces the default "-g"); sets BENCH_PERF_PID (empty when off).
# bench_perf_stop ends it and waits until perf.data is written.
bench_perf_start() {
  BENCH_PERF_PID=
  [ "${BENCH_PERF:-0}" = 1 ] || return 0
  # shellcheck disable=SC2086
  timeout -s INT "$3" perf record -q ${BENCH_PERF_ARGS:--g} -o "$2/perf.data" -p "$1" >"$2/perf.out" 2>&1 &
  BENCH_PERF_PID=$!
}
bench_perf_stop() {
  [ -n "${BENCH_PERF_PID:-}" ] || return 0
  kill -INT "$BENCH_PERF_PID" 2>/dev/null || true
  wait "$BENCH_PERF_PID" || true
  BENCH_PERF_PID=
}

bench_measure() {
  local file=$1
  shift
  (
    rc=0
    "$@" || rc=$?
    times > "$file.times"   # not in a pipeline: a forked `times` would see no children
    awk 'NR == 2 { n = split($0, f, " "); s = 0
         for (i = 1; i <= n; i++) { split(f[i], p, "m"); s += p[1] * 60 + p[2] }; print s }' "$file.times" > "$file"
    rm -f "$file.times"
    exit $rc
  )
}
