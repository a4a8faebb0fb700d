#!/usr/bin/env bash
# In-dialog requests follow the dialog's route set (issue 10 §6, RFC 3261
# §16.12): the gateway sends them to the partner node that record-routed the
# dialog, not to a fresh DNS resolution of the partner domain, and over a
# connection that already reaches that node (RFC 5923: Record-Route / Via
# alias), so a dialog is not split over two connections.
# Own loopback addresses 127.0.18.1 (a.test) / 127.0.19.1 (b.test).
# usage: route_set_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$(cd "$1" && pwd)
D=$FEDGW_TEST_DIR
LAB_IP_A=127.0.18.1
LAB_IP_B=127.0.19.1
LAB_EXTRA_CONFIG='partners { allowed: "a.test" allowed: "b.test" }'
# Short idle period: the partner connections close between the requests of the dialog.
LAB_LIMITS_EXTRA="idle_timeout_s: 2 keepalive_interval_s: 1"
lab_federation "$BIN" "$D"
A=("$BIN/fedctl" --socket "$D/a.sock")

"$BIN/fedua" --gateway "$LAB_IP_A:5060" --domain a.test -q serve 120 > "$D/uc-a.out" 2>&1 &
LAB_PIDS+=($!)
"$BIN/fedua" --gateway "$LAB_IP_B:5060" --domain b.test -q serve 120 > "$D/uc-b.out" 2>&1 &
LAB_PIDS+=($!)
wait_for_log "$D/uc-a.out" "serve: OPTIONS sip:a.test -> 200"
wait_for_log "$D/uc-b.out" "serve: OPTIONS sip:b.test -> 200"

# alice@a.test subscribes to bob@b.test; b.test's gateway record-routes the
# dialog with its federation interface (127.0.19.1:5061).
"$BIN/fedua" --gateway "$LAB_IP_A:5060" --domain a.test --user alice --timeout 10 subscribe bob@b.test 60 \
  > "$D/sub.out" 2>&1 &
SUB=$!
LAB_PIDS+=($SUB)
check "subscription set up, first NOTIFY received" wait_for_log "$D/sub.out" "NOTIFY from sip:bob@b.test"
# The NOTIFY went back over a.test's connection: its top Record-Route and Via
# alias named a.test's node, which that connection reaches.
check "b.test's NOTIFY reused the connection from a.test (no connection of its own)" \
  bash -c '! grep -q "outbound connection up: a.test" "$1"' _ "$D/b.log"

# b.test's DNS now names a dead address for a.test's gateway, and the partner
# connection closes when idle: only the route set leads to b.test's node.
sed -i 's|^dns { \(.*\) }$|dns { \1 srv { name: "_sipfederationtls._tcp.b.test" port: 5061 target: "dead.b.test" } hosts { host: "dead.b.test" addresses: "127.0.19.9" } }|' "$D/a.textproto"
grep -q 'target: "dead.b.test"' "$D/a.textproto"
check "a.test applies DNS records that send b.test to a dead address" "${A[@]}" config apply "$D/a.textproto"
# Both gateways have the same idle period: whichever end's timer fires first closes it (the other end
# then reads close_notify), so the check is that a.test's connection went down, not which end's timer.
check "the idle partner connection closes" wait_for_log "$D/a.log" "connection down: b.test $LAB_IP_B:5061"
check "... because one end found it idle" bash -c 'grep -q "b.test $1:5061: idle for" "$2" || grep -q "external $3:[0-9]*: idle for" "$4"' \
  _ "$LAB_IP_B" "$D/a.log" "$LAB_IP_A" "$D/b.log"

# SIGTERM ends the subscription early: fedua unsubscribes inside the dialog.
kill -TERM "$SUB"
wait "$SUB" 2>/dev/null || true
check "the in-dialog unSUBSCRIBE reached b.test's record-routed node -> 200" \
  grep -q "unsubscribe sip:bob@b.test -> 200" "$D/sub.out"
check "a connection to the route-set node, not to the domain's DNS target" \
  grep -q "outbound connection up: b.test at $LAB_IP_B:5061 (route-set node $LAB_IP_B:5061)" "$D/a.log"
check "the final NOTIFY (terminated) came back on that connection" \
  wait_for_log "$D/sub.out" "state=terminated"
check "b.test never opened a connection to a.test" \
  bash -c '! grep -q "outbound connection up: a.test" "$1"' _ "$D/b.log"
check "fedctl peers shows the route-set node" \
  bash -c 'grep -q "route-set node 127.0.19.1:5061" <<<"$1"' _ "$("${A[@]}" peers)"

# A new (out-of-dialog) request to b.test follows DNS: the dead address.
out=$("$BIN/fedua" --gateway "$LAB_IP_A:5060" --domain a.test --user alice --timeout 10 send bob@b.test "hi" 2>&1) || true
check "an out-of-dialog request follows b.test's DNS (dead address) -> 503" contains "$out" "503"
check "it tried the dead address" grep -q "127.0.19.9:5061" "$D/a.log"
finish
