#!/usr/bin/env bash
# A real Kamailio from Debian as a foreign TLS domain (peer.test): the a.test
# gateway finds it through DNS SRV, connects with mutual TLS, checks its
# certificate per RFC 5922 and relays MESSAGE/OPTIONS to it.
# usage: kamailio_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$(cd "$1" && pwd)
D=$FEDGW_TEST_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_IP_A=127.0.11.1
LAB_IP_B=127.0.12.1
LAB_EXTRA_DNS="--srv-host=_sipfederationtls._tcp.peer.test,kam.peer.test,5071,10,10 --host-record=kam.peer.test,127.0.13.1 --srv-host=_sipfederationtls._tcp.wrongname.test,kam.peer.test,5071,10,10"
# Short keep-alive and idle periods, to see the idle partner connection closed.
LAB_LIMITS_EXTRA="keepalive_interval_s: 1 idle_timeout_s: 3"
lab_federation "$BIN" "$D"

sed "s|@CERTS@|$D/certs|g" "$HERE/kamailio/tls.cfg.in" > "$D/kamailio-tls.cfg"
kamailio -f "$HERE/kamailio/peer.cfg" -A "TLS_CFG=\"$D/kamailio-tls.cfg\"" -DD -E -m 64 -M 8 -n 1 \
  > "$D/kamailio.log" 2>&1 &
LAB_PIDS+=($!)
for _ in $(seq 1 50); do
  (exec 3<>/dev/tcp/127.0.13.1/5071) 2>/dev/null && break
  sleep 0.1
done
A=("$BIN/fedctl" --socket "$D/a.sock")
UA_A=("$BIN/fedua" --gateway "$LAB_IP_A:5060" --domain a.test --timeout 10)

out=$("${UA_A[@]}" --user alice send bob@peer.test "hello kamailio" 2>&1) || true
check "MESSAGE to the Kamailio domain -> 200" contains "$out" "-> 200 OK"
check "send-test peer.test -> 200" contains "$("${A[@]}" send-test peer.test 2>&1)" "OPTIONS sip:peer.test -> 200 OK"
peers=$("${A[@]}" peers)
check "peer.test connection up over TLS" bash -c 'grep -E "^peer.test +up +outbound +127.0.13.1:5071 +TLSv1" <<<"$1"' _ "$peers"
check "connection up logged" grep -q "outbound connection up: peer.test at 127.0.13.1:5071" "$D/a.log"

# No SIP message for idle_timeout_s: the connection is closed (CRLF pings do not count).
for _ in $(seq 1 80); do grep -q "peer.test 127.0.13.1:5071: idle for" "$D/a.log" && break; sleep 0.1; done
check "idle partner connection closed" grep -q "peer.test 127.0.13.1:5071: idle for [3-9] s, closing" "$D/a.log"
check "closed connection shown in fedctl peers" bash -c 'grep -Eq "^peer.test +down" <<<"$1"' _ "$("${A[@]}" peers)"
check "the next request opens a new connection" contains "$("${A[@]}" send-test peer.test 2>&1)" "200 OK"

# The operator closes the partner's connection (fedctl peers close).
check "peers close answers" contains "$("${A[@]}" peers close peer.test)" "peer.test: closing its connection"
check "peers close logged" wait_for_log "$D/a.log" "peer.test 127.0.13.1:5071: closing (closed by the operator)"
check "peers close: shown down" wait_until 5 bash -c '"$@" peers | grep -Eq "^peer.test +down"' _ "${A[@]}"
check "peers close of a domain without a connection" contains "$("${A[@]}" peers close peer.test)" "no connection to peer.test is open"

# The same server for another domain: its certificate does not name it.
out=$("${UA_A[@]}" --user alice send bob@wrongname.test "hi" 2>&1) || true
check "name mismatch -> 503" contains "$out" "503"
check "mismatch names both sides" grep -q "certificate name mismatch: expected wrongname.test, found peer.test, sip:other.test" "$D/a.log"

# The operator clears the back-off the failure started (fedctl peers reset).
check "wrongname.test in back-off" bash -c '"$@" peers | grep -Eq "^wrongname.test +backoff"' _ "${A[@]}"
check "peers reset answers" contains "$("${A[@]}" peers reset wrongname.test)" "wrongname.test: back-off cleared (1 failure(s) so far)"
check "peers reset: no back-off any more" bash -c '"$@" peers | grep -Eq "^wrongname.test +down"' _ "${A[@]}"
check "peers reset of an unknown domain" contains "$("${A[@]}" peers reset nowhere.test)" "no partner domain nowhere.test is known"
check "peers with a wrong action: usage error" bash -c '! "$@" peers frobnicate x.test 2>/dev/null' _ "${A[@]}"
finish
