#!/usr/bin/env bash
# Flow control towards a partner that stops reading (README, The data path): gateway b.test is stopped
# (SIGSTOP) while a.test's UC server sends 12 MB of MESSAGEs to b.test on one connection. a.test's output
# to b.test congests: the requests wait in a.test (not in the 4 MiB output buffer, whose overflow would
# close the connection and fail everything in flight), and go out in order when b.test reads again
# (the reactor's on_drained, the connection actor's drained_atom). Every MESSAGE gets its 200; a.test
# never closes the connection. usage: flow_control_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$1
D=$FEDGW_TEST_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_TIMER_MS=30000  # the stop below must not outlast the transactions
LAB_EXTRA_CONFIG='partners { discovered_rate_limit: 10000 }'  # a burst, not the rate limit's 503s
lab_federation "$BIN" "$D"
UA_B=("$BIN/fedua" --gateway 127.0.2.1:5060 --domain b.test --timeout 30)

"${UA_B[@]}" serve 120 > "$D/uc-b.out" 2>&1 &
LAB_PIDS+=($!)
wait_for_log "$D/uc-b.out" "serve: OPTIONS sip:b.test -> 200"
# The partner connection a.test -> b.test, set up by one MESSAGE first.
check "first MESSAGE -> 200" contains "$(python3 "$HERE/sip_peer.py" 127.0.1.1:5060 <(printf \
  'MESSAGE sip:bob@b.test SIP/2.0\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKfc-first\nMax-Forwards: 70\nFrom: <sip:alice@a.test>;tag=1\nTo: <sip:bob@b.test>\nCall-ID: fc-first@test\nCSeq: 1 MESSAGE\nContent-Type: text/plain\n\nhello\n'))" "SIP/2.0 200"

# 200 MESSAGEs with 60,000-byte bodies (under limits.max_body_bytes): 12 MB, three times the output buffer.
{
  printf 'MESSAGE sip:bob@b.test SIP/2.0\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKfc-{n}\nMax-Forwards: 70\n'
  printf 'From: <sip:alice@a.test>;tag=fc{n}\nTo: <sip:bob@b.test>\nCall-ID: fc-{n}@test\nCSeq: 1 MESSAGE\n'
  printf 'Content-Type: text/plain\n\n'
  head -c 60000 /dev/zero | tr '\0' 'x'
} > "$D/big-message.sip"

kill -STOP "$GW_B_PID"
python3 "$HERE/sip_peer.py" 127.0.1.1:5060 --repeat 200 "$D/big-message.sip" > "$D/burst.out" 2>&1 &
burst=$!
LAB_PIDS+=("$burst")
# b.test reads nothing for 4 s: a.test has read the whole burst meanwhile (it holds it, see above).
sleep 4
kill -CONT "$GW_B_PID"
wait "$burst" || true
out=$(cat "$D/burst.out")
check "all 200 MESSAGEs answered 200 after the partner read again" contains "$out" "finals: 200=200"
[ "$out" = "finals: 200=200" ] || echo "    sip_peer said: $out"
check "a.test never closed the partner connection" bash -c "! grep -q 'closing the connection\|connection down: b.test' '$D/a.log'"
check "b.test's UC server got 201 MESSAGEs" bash -c "[ \$(grep -c 'received MESSAGE from sip:alice@a.test' '$D/uc-b.out') -eq 201 ]"
finish
