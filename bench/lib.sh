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

# bench_add_row SCENARIO SYSTEM LOAD RUN metric=value...: one measured run.
bench_add_row() { python3 "$(dirname "${BASH_SOURCE[0]}")/benchlib.py" add-row "$BENCH_OUT/runs.jsonl" "$@"; }
