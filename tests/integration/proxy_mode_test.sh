#!/usr/bin/env bash
# SIP_PROXY mode, the login: a real Kamailio from Debian is the federation proxy (registrar with digest
# authentication, tests/integration/kamailio/proxy.cfg) on 127.0.22.1: TCP 5070, TLS 5071, mutual TLS 5072.
# The a.test gateway (127.0.23.1) logs in over each transport; a wrong password is rejected once and not
# retried until `fedctl proxy login`; a wrong port, a proxy that wants a client certificate and a
# certificate that does not name sip_proxy.server_name give clear errors; a restarted proxy (now asking
# for SHA-256) is found again by itself; switching to DIRECT closes the session; the password is never shown.
# usage: proxy_mode_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$(cd "$1" && pwd)
D=$FEDGW_TEST_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
PROXY_IP=$LAB_PROXY_IP
GW_IP=127.0.23.1
make_certs "$D/certs"
# The gateway's own DNS server (the readiness check asks for a.test's records): nothing for b.test.
start_dnsmasq "$D" --srv-host=_sipfederationtls._tcp.a.test,gw.a.test,5061,10,10 --host-record=gw.a.test,127.0.23.1
KAM_PID=
start_proxy() { start_sip_proxy "$D" "$1"; KAM_PID=$SIP_PROXY_PID; }
start_proxy MD5
# proxy_config NAME PASSWORD PORT TRANSPORT [SERVER_NAME]: a.test's gateway in SIP_PROXY mode.
proxy_config() { proxy_gateway_config "$D" "$1" a.test "$GW_IP" good "${@:2}"; }
A=("$BIN/fedctl" --socket "$D/a.sock")
registers() { count_lines "$D/kamailio.log" 'REGISTER #'; }
# at_least FILE PATTERN N: FILE has N lines matching PATTERN (for wait_until).
at_least() { [ "$(count_lines "$1" "$2")" -ge "$3" ]; }
proxy_state() { "${A[@]}" status | sed -n 's/^sip proxy: \([a-z]*\),.*/\1/p'; }
state_is() { [ "$(proxy_state)" = "$1" ]; }
# apply NAME: fedctl config apply; the session starts again with the new settings.
apply() { "${A[@]}" config apply "$D/$1.textproto" >/dev/null; }

proxy_config tcp "$LAB_PROXY_PASSWORD" 5070 TCP
start_fedgw "$BIN" "$D/tcp.textproto" "$D/a.log"
check "TCP: registered" wait_until 10 state_is registered
status=$("${A[@]}" status)
check "status names user, proxy, transport and expiry" \
  bash -c 'grep -Eq "^sip proxy: registered, user \"gw\" \(sip:gw@a.test\) at 127.0.22.1:5070 over TCP, expires in [0-9]+ s" <<<"$1"' _ "$status"
check "Kamailio accepted the REGISTER from a.test's gateway" grep -q "REGISTER accepted for sip:gw@a.test" "$D/kamailio.log"
check "the connection leaves from sip_proxy.interface" grep -q "REGISTER # from sip:gw@a.test over tcp from $GW_IP to" "$D/kamailio.log"
check "answered with qop=auth, MD5 and a nonce count" grep -Eq "credentials \[Digest .*algorithm=MD5, qop=auth, nc=00000001" "$D/kamailio.log"
check "logged: registered" wait_for_log "$D/a.log" "registered at the SIP proxy as sip:gw@a.test for [0-9]* s"
# A chat to the partner domain goes to the proxy (no DNS lookup: dnsmasq has no record for b.test).
out=$("$BIN/fedua" --gateway "$GW_IP:5060" --domain a.test --user alice --timeout 10 send bob@b.test "hi" 2>&1) || true
check "MESSAGE to b.test through the proxy -> 200" contains "$out" "-> 200 OK - b.test behind the proxy"
check "the proxy's 407 was answered with the login's credentials" grep -q "challenged MESSAGE from sip:alice@a.test" "$D/kamailio.log"
check "... as the same request with the next CSeq, nonce counted" \
  grep -Eq "MESSAGE authenticated for sip:alice@a.test cseq 2 credentials \[Digest username=\"gw\".*nc=00000001" "$D/kamailio.log"
out=$("$BIN/fedua" --gateway "$GW_IP:5060" --domain a.test --user alice --timeout 10 send bob@b.test "again" 2>&1) || true
check "a second MESSAGE: the same nonce, the next count" \
  bash -c 'contains() { grep -qF -- "$2" <<<"$1"; }; contains "$1" "-> 200 OK" && grep -Eq "MESSAGE authenticated for sip:alice@a.test cseq 1 credentials .*nc=00000002" "$2"' _ "$out" "$D/kamailio.log"
check "the proxy got it on the gateway's connection" grep -q "for b.test: MESSAGE from sip:alice@a.test to sip:bob@b.test via 127.0.22.1:5070 over tcp" "$D/kamailio.log"
check "no DNS question for b.test" bash -c '! grep -q "b.test" "$1"' _ "$DNSMASQ_LOG"
check "send-test through the proxy" contains "$("${A[@]}" send-test b.test 2>&1)" "OPTIONS sip:b.test -> 200"

# The other way: b.test's MESSAGE to alice@a.test reaches the proxy, which relays it to sip_proxy.incoming;
# the gateway takes the proxy's word for the From domain and hands it to a.test's UC server (fedua serve).
"$BIN/fedua" --gateway "$GW_IP:5060" --domain a.test serve 120 > "$D/uc-a.out" 2>&1 &
LAB_PIDS+=($!)
check "a.test's UC server is up" wait_for_log "$D/uc-a.out" "serving"
inbound() { # FROM_DOMAIN: a MESSAGE from bob@FROM_DOMAIN to alice@a.test, sent to the proxy
  printf 'MESSAGE sip:alice@a.test SIP/2.0\nVia: SIP/2.0/TCP 127.0.22.9:5099;branch=z9hG4bK-in%s\nMax-Forwards: 70\nFrom: <sip:bob@%s>;tag=b1\nTo: <sip:alice@a.test>\nCall-ID: in-%s@b.test\nCSeq: 1 MESSAGE\nContent-Type: text/plain\n\nhello from behind the proxy\n' \
    "$RANDOM" "$1" "$RANDOM" > "$D/inbound.sip"
  python3 "$HERE/sip_peer.py" "$PROXY_IP:5070" "$D/inbound.sip" 2>&1 || true
}
out=$(inbound b.test)
check "b.test -> proxy -> gateway -> UC server: 200" contains "$out" "SIP/2.0 200"
check "the UC server got it" wait_for_log "$D/uc-a.out" "hello from behind the proxy"
check "it came in on sip_proxy.incoming" grep -q "to a.test: MESSAGE from sip:bob@b.test" "$D/kamailio.log"
out=$(inbound a.test)
check "a From of the gateway's own domain via the proxy: 403" contains "$out" "SIP/2.0 403 Forbidden - From domain a.test cannot come from the SIP proxy"
# Anyone but the proxy is refused on sip_proxy.incoming.
out=$(python3 "$HERE/sip_peer.py" "$GW_IP:5090" "$D/inbound.sip" 2>&1 || true)
check "a non-proxy address on sip_proxy.incoming: refused" contains "$out" "closed"
check "... and logged" wait_for_log "$D/a.log" "connection to sip_proxy.incoming from 127.0.0.1:[0-9]* refused: only the SIP proxy 127.0.22.1 may connect here"

# Wrong password: one rejection, no retry storm, until the operator asks again.
proxy_config wrong wrong-pw 5070 TCP
before=$(registers)
apply wrong
check "wrong password: rejected" wait_until 10 state_is rejected
check "rejection tells what to check" wait_for_log "$D/a.log" \
  'SIP proxy rejected the login of user "gw": check the user name and password for typing mistakes'
sleep 3
check "no retry after a rejection (2 REGISTERs: challenge and answer)" test "$(( $(registers) - before ))" -eq 2
check "fedctl proxy login asks again" contains "$("${A[@]}" proxy login)" "login at the SIP proxy requested"
check "one more attempt (2 more REGISTERs)" wait_until 10 at_least "$D/kamailio.log" 'REGISTER #' $((before + 4))
check "rejected again" wait_until 10 state_is rejected

# Wrong port: a connection error, retried with back-off.
proxy_config port "$LAB_PROXY_PASSWORD" 5099 TCP
apply port
check "wrong port: connection refused" wait_for_log "$D/a.log" \
  "connection to SIP proxy 127.0.22.1:5099 failed: connection refused; retrying in 1 s"
check "state disconnected with the reason" \
  contains "$("${A[@]}" status)" "last error: connection to SIP proxy 127.0.22.1:5099 failed: connection refused"
out=$("$BIN/fedua" --gateway "$GW_IP:5060" --domain a.test --user alice --timeout 10 send bob@b.test "hi" 2>&1) || true
check "while the proxy is unreachable: 503 with the reason" \
  contains "$out" "503 Service Unavailable - SIP proxy 127.0.22.1:5099 not connected: connection to SIP proxy 127.0.22.1:5099 failed: connection refused"

proxy_config tls "$LAB_PROXY_PASSWORD" 5071 TLS peer.test
apply tls
check "TLS: registered" wait_until 10 state_is registered
check "TLS shown in status" contains "$("${A[@]}" status)" "at 127.0.22.1:5071 over TLS"

proxy_config mtls "$LAB_PROXY_PASSWORD" 5072 MTLS peer.test
apply mtls
check "MTLS: registered" wait_until 10 state_is registered
check "Kamailio saw the REGISTER over mutual TLS" grep -q "REGISTER # from sip:gw@a.test over tls from $GW_IP to 127.0.22.1:5072" "$D/kamailio.log"

# The mutual-TLS port with transport TLS (the gateway shows no certificate): the proxy refuses.
proxy_config nocert "$LAB_PROXY_PASSWORD" 5072 TLS peer.test
apply nocert
check "no client certificate: the proxy's refusal is logged" wait_for_log "$D/a.log" \
  "connection to SIP proxy 127.0.22.1:5072 failed: .*certificate required"

proxy_config name "$LAB_PROXY_PASSWORD" 5071 TLS wrong.test
apply name
check "server_name not in the proxy's certificate: mismatch logged" wait_for_log "$D/a.log" \
  "connection to SIP proxy 127.0.22.1:5071 failed: TLS: wrong.test at 127.0.22.1:5071: certificate name mismatch: expected wrong.test"

# The proxy restarts (now asking for SHA-256): the gateway reconnects and registers again by itself.
apply tcp
check "back on TCP: registered" wait_until 10 state_is registered
# A request in flight (silent.test never answers) when the proxy goes away: 503 at once, not a timeout.
"$BIN/fedua" --gateway "$GW_IP:5060" --domain a.test --user alice --timeout 20 send bob@silent.test "anyone?" \
  > "$D/in-flight.out" 2>&1 &
IN_FLIGHT=$!
check "the request reached the proxy" wait_for_log "$D/kamailio.log" "silent: MESSAGE from sip:alice@a.test"
stop_pid "$KAM_PID" TERM || true
wait "$IN_FLIGHT" || true
check "in flight when the connection dropped: 503 at once" grep -q -- "-> 503 Service Unavailable" "$D/in-flight.out"
check "loss logged" wait_for_log "$D/a.log" "connection to SIP proxy 127.0.22.1:5070 lost: closed by peer"
registered_before=$(count_lines "$D/a.log" 'registered at the SIP proxy as sip:gw@a.test')
start_proxy SHA-256
check "re-registered after the proxy restarted" wait_until 20 at_least "$D/a.log" 'registered at the SIP proxy as sip:gw@a.test' $((registered_before + 1))
check "the new proxy's SHA-256 challenge answered" grep -Eq "credentials \[Digest .*algorithm=SHA-256, qop=auth" "$D/kamailio.log"
check "two connections counted" contains "$("${A[@]}" status)" "connections 2"

# The password never shows.
check "config show masks the password" bash -c '"$@" config show | grep -q "password: \"\*\*\*\""' _ "${A[@]}"
check "the password is not in the log" bash -c '! grep -qF "$1" "$2"' _ "$LAB_PROXY_PASSWORD" "$D/a.log"
check "nor in the message window" bash -c '! "${@:2}" log | grep -qF "$1"' _ "$LAB_PROXY_PASSWORD" "${A[@]}"

# sip_proxy.incoming moves with the configuration, without a restart.
sed -e 's/port: 5090 transport: TCP/port: 5091 transport: TCP/' "$D/tcp.textproto" > "$D/moved.textproto"
apply moved
check "incoming listener moved: the new port listens" wait_until 5 bash -c "exec 3<>/dev/tcp/$GW_IP/5091" 2>/dev/null
check "... the old one is closed" wait_until 5 bash -c "! (exec 3<>/dev/tcp/$GW_IP/5090) 2>/dev/null"
check "... and status shows it" bash -c '"$@" status | grep -Eq "^  sip_proxy.incoming +127.0.23.1:5091 +TCP +listening"' _ "${A[@]}"
apply tcp

# DIRECT mode: the session ends.
sed -e 's/^mode: SIP_PROXY/mode: DIRECT/' "$D/tcp.textproto" > "$D/direct.textproto"
apply direct
check "DIRECT: the session is closed" wait_for_log "$D/a.log" "mode DIRECT: the session with the SIP proxy is closed"
check "no proxy session in status" bash -c '! "$@" status | grep -q "^sip proxy:"' _ "${A[@]}"
finish
