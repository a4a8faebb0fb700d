#!/usr/bin/env bash
# SIP_PROXY mode between two companies: the a.test (127.0.23.1) and b.test (127.0.24.1) gateways both log
# in at one real Kamailio proxy (SHA-256 digest, mutual TLS), which relays between them
# (scripts/lab.sh lab_proxy_federation, the story of `scripts/demo.sh --proxy`). Chat both ways, an IM
# session (INVITE, MESSAGE, BYE) and presence (SUBSCRIBE/NOTIFY) flow through the proxy; switching a.test's gateway to DIRECT and back under load leaves no request
# without a final response.
# usage: proxy_federation_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$(cd "$1" && pwd)
D=$FEDGW_TEST_DIR
lab_proxy_federation "$BIN" "$D"
A=("$BIN/fedctl" --socket "$D/a.sock")
B=("$BIN/fedctl" --socket "$D/b.sock")
check "a.test logged in" wait_for_log "$D/a.log" "registered at the SIP proxy as sip:gw@a.test" 1 15
check "b.test logged in" wait_for_log "$D/b.log" "registered at the SIP proxy as sip:gw@b.test" 1 15
check "fedctl check: consistent in proxy mode" contains "$("${A[@]}" check)" "Result: consistent"
check "fedctl check shows the login" contains "$("${A[@]}" check)" "SIP proxy: 127.0.22.1:5072 over MTLS, user \"gw\": registered"

"$BIN/fedua" --gateway 127.0.23.1:5060 --domain a.test serve 120 > "$D/uc-a.out" 2>&1 &
LAB_PIDS+=($!)
"$BIN/fedua" --gateway 127.0.24.1:5060 --domain b.test --presence open --note "Available" \
  --change-after 2 --change-note "In a meeting" serve 120 > "$D/uc-b.out" 2>&1 &
LAB_PIDS+=($!)
check "UC servers connected" wait_for_log "$D/uc-a.out" "serve: OPTIONS sip:a.test -> 200"
check "UC servers connected (b)" wait_for_log "$D/uc-b.out" "serve: OPTIONS sip:b.test -> 200"
UA_A=("$BIN/fedua" --gateway 127.0.23.1:5060 --domain a.test --user alice --timeout 10)
UA_B=("$BIN/fedua" --gateway 127.0.24.1:5060 --domain b.test --user bob --timeout 10)

check "a.test -> b.test MESSAGE: 200" contains "$("${UA_A[@]}" send bob@b.test "hello via the proxy" 2>&1)" "-> 200 OK"
check "b.test's UC server got it" wait_for_log "$D/uc-b.out" "received MESSAGE from sip:alice@a.test: hello via the proxy"
check "b.test -> a.test MESSAGE: 200" contains "$("${UA_B[@]}" send alice@a.test "and back" 2>&1)" "-> 200 OK"
check "a.test's UC server got it" wait_for_log "$D/uc-a.out" "received MESSAGE from sip:bob@b.test: and back"
out=$("${UA_A[@]}" chat bob@b.test "inside a session" 2>&1) || true
check "IM session: INVITE 200" contains "$out" "INVITE sip:bob@b.test -> 200 OK"
check "IM session: BYE 200" contains "$out" "BYE sip:bob@b.test -> 200 OK"
check "the proxy carried the in-dialog BYE by its route set" grep -q "in dialog: BYE from sip:alice@a.test" "$D/kamailio.log"
check "the proxy challenged the INVITE" grep -q "challenged INVITE from sip:alice@a.test cseq 1" "$D/kamailio.log"
check "... which came again with credentials and the next CSeq" grep -q "INVITE authenticated for sip:alice@a.test cseq 2" "$D/kamailio.log"
check "the caller's ACK followed the retry's CSeq" grep -q "in dialog: ACK from sip:alice@a.test cseq 2 " "$D/kamailio.log"
check "b.test's UC server saw the ACK" wait_for_log "$D/uc-b.out" "received ACK from sip:alice@a.test"
out=$("${UA_A[@]}" subscribe bob@b.test 4 2>&1) || true
check "presence: SUBSCRIBE 200" contains "$out" "SUBSCRIBE sip:bob@b.test -> 200 OK"
check "presence: NOTIFY open" contains "$out" 'NOTIFY from sip:bob@b.test: basic=open note="Available"'
check "presence: NOTIFY after the change" contains "$out" 'NOTIFY from sip:bob@b.test: basic=closed note="In a meeting"'
out=$("${UA_B[@]}" subscribe alice@a.test 1 2>&1) || true
check "presence the other way: SUBSCRIBE 200 and a NOTIFY" bash -c 'grep -q "SUBSCRIBE sip:alice@a.test -> 200 OK" <<<"$1" && grep -q "NOTIFY from sip:alice@a.test" <<<"$1"' _ "$out"

# Mode switches under load: every request gets a final response (200 through the proxy; 503 while the
# gateway is DIRECT, where b.test has no reachable federation listener). b.test is allow-listed, so the
# discovered-partner rate limit (20/s) stays out of the way.
echo 'partners { allowed: "b.test" }' >> "$D/a.textproto"
check "allow list applied (the session with the proxy stays)" contains "$("${A[@]}" config apply "$D/a.textproto")" "applied"
sed -e 's/^mode: SIP_PROXY/mode: DIRECT/' "$D/a.textproto" > "$D/a-direct.textproto"
"$BIN/fedua" --gateway 127.0.23.1:5060 --domain a.test --user alice --window 32 --timeout 30 \
  load bob@b.test 3000 600 > "$D/load.out" 2>&1 &
LOAD_PID=$!
sleep 1
"${A[@]}" config apply "$D/a-direct.textproto" > /dev/null
sleep 1
"${A[@]}" config apply "$D/a.textproto" > /dev/null
wait "$LOAD_PID" || true
line=$(grep -m1 'load: sent' "$D/load.out" || true)
check "load finished" contains "$line" "load: sent 3000"
check "no request without a final response" contains "$line" "timeouts 0"
finals=0
for k in 2xx 3xx 4xx 5xx 6xx; do finals=$((finals + $(sed -n "s/.*[ ,]$k \([0-9]*\).*/\1/p" <<<"$line"))); done
check "3000 final responses ($line)" test "$finals" -eq 3000
ok=$(sed -n "s/.*[ ,]2xx \([0-9]*\).*/\1/p" <<<"$line")
check "through the proxy before and after the DIRECT second (2xx: $ok)" test "$ok" -ge 2000
check "the switch was logged both ways" bash -c 'grep -q "mode DIRECT: the session with the SIP proxy is closed" "$1" && grep -c "SIP proxy mode: logging in" "$1" | grep -q "^2$"' _ "$D/a.log"
check "back through the proxy afterwards" wait_until 10 bash -c '"$@" send bob@b.test "after the switch" 2>&1 | grep -q -- "-> 200 OK"' _ "${UA_A[@]}"
finish
