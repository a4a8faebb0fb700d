#!/usr/bin/env bash
# An idle gateway sleeps: two real gateways (a.test 127.0.45.1, b.test 127.0.46.1) with their UC
# servers connected, before and after real traffic, wake up fewer than IDLE_MAX_WAKEUPS_PER_S times a
# second (context switches of all their threads, /proc/PID/task/*/status). With CAF's default 10 ms
# relaxed sleep each idle worker woke 100 times a second (README Performance); the traffic in between
# checks that work handed to sleeping workers still flows.
# usage: idle_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../../bench/lib.sh"  # bench_ctx_switches: the measure the bench reports
BIN=$1
D=$FEDGW_TEST_DIR
LAB_IP_A=127.0.45.1
LAB_IP_B=127.0.46.1
# allow-listed: the burst below is not held to a discovered partner's rate limit
LAB_EXTRA_CONFIG='partners { allowed: "a.test" allowed: "b.test" }'
IDLE_SECONDS=3
IDLE_MAX_WAKEUPS_PER_S=50
lab_federation "$BIN" "$D"
UA_A=("$BIN/fedua" --gateway $LAB_IP_A:5060 --domain a.test --timeout 10)
UA_B=("$BIN/fedua" --gateway $LAB_IP_B:5060 --domain b.test --timeout 10)
start_uc_servers 120

# check_idle WHEN: both gateways over IDLE_SECONDS of no traffic.
check_idle() {
  local when=$1 a0 b0 a1 b1 limit=$((IDLE_SECONDS * IDLE_MAX_WAKEUPS_PER_S))
  sleep 1  # what the last request left (responses, connection set-up) settles
  a0=$(bench_ctx_switches "$GW_A_PID"); b0=$(bench_ctx_switches "$GW_B_PID")
  sleep "$IDLE_SECONDS"
  a1=$(bench_ctx_switches "$GW_A_PID"); b1=$(bench_ctx_switches "$GW_B_PID")
  check "a.test idle $when: $((a1 - a0)) wake-ups in ${IDLE_SECONDS} s < $limit" test $((a1 - a0)) -lt "$limit"
  check "b.test idle $when: $((b1 - b0)) wake-ups in ${IDLE_SECONDS} s < $limit" test $((b1 - b0)) -lt "$limit"
}

check_idle "after start"
# Traffic both ways, one request at a time: each arrives while the workers sleep.
for i in 1 2 3 4 5; do
  out=$("${UA_A[@]}" --user alice send bob@b.test "hello $i" 2>&1) || true
  check "alice -> bob #$i: 200" contains "$out" "-> 200 OK"
  out=$("${UA_B[@]}" --user bob send alice@a.test "hi $i" 2>&1) || true
  check "bob -> alice #$i: 200" contains "$out" "-> 200 OK"
done
out=$("${UA_A[@]}" --user alice --window 50 load bob@b.test 500 2>&1) || true
check "a burst of 500: all answered 200 ($out)" contains "$out" "sent 500, 2xx 500,"
check_idle "after traffic"
finish
