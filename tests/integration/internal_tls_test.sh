#!/usr/bin/env bash
# The internal listener in MTLS mode: the UC server must connect with TLS and a
# certificate of a trusted CA; then its requests federate as over TCP.
# usage: internal_tls_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$(cd "$1" && pwd)
D=$FEDGW_TEST_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_IP_A=127.0.14.1
LAB_IP_B=127.0.15.1
LAB_INTERNAL_TRANSPORT_A=MTLS
LAB_EXTRA_CONFIG='partners { allowed: "a.test" allowed: "b.test" }'
LAB_LIMITS_EXTRA="keepalive_interval_s: 1"
lab_federation "$BIN" "$D"
"$BIN/fedua" --gateway "$LAB_IP_B:5060" --domain b.test -q serve 60 > "$D/uc-b.out" 2>&1 &
LAB_PIDS+=($!)
wait_for_log "$D/uc-b.out" "serve: OPTIONS sip:b.test -> 200"
check "status shows the MTLS internal listener" contains "$("$BIN/fedctl" --socket "$D/a.sock" status)" \
  "internal            $LAB_IP_A:5060             MTLS  listening"

printf 'MESSAGE sip:bob@b.test SIP/2.0\nVia: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bKitls1\nMax-Forwards: 70\nFrom: <sip:alice@a.test>;tag=1\nTo: <sip:bob@b.test>\nCall-ID: itls1@test\nCSeq: 1 MESSAGE\n\nover TLS' > "$D/msg.sip"
out=$(python3 "$HERE/sip_peer.py" "$LAB_IP_A:5060" --tls "$D/certs/good.pem" "$D/certs/good.key" "$D/certs/ca.pem" "$D/msg.sip")
check "UC server over mutual TLS: MESSAGE federated, 200" contains "$out" "SIP/2.0 200"
# Plain TCP to the TLS listener: no SIP answer, the handshake fails and is logged.
out=$(python3 "$HERE/sip_peer.py" "$LAB_IP_A:5060" "$D/msg.sip" 2>&1 || true)
check "plain TCP to the MTLS listener gets no SIP answer" bash -c '! grep -q "^SIP/2.0" <<<"$1"' _ "$out"
for _ in $(seq 1 30); do grep -q "TLS handshake with peer at" "$D/a.log" && break; sleep 0.1; done
check "failed handshake logged" grep -q "TLS handshake with peer at .* failed" "$D/a.log"
# A certificate of an untrusted CA is refused.
out=$(python3 "$HERE/sip_peer.py" "$LAB_IP_A:5060" --tls "$D/certs/untrusted.pem" "$D/certs/untrusted.key" "$D/certs/ca.pem" "$D/msg.sip" 2>&1 || true)
check "untrusted client certificate refused" bash -c '! grep -q "^SIP/2.0 200" <<<"$1"' _ "$out"

# An idle UC server connection gets RFC 5626 CRLF keep-alive pings (keepalive_interval_s: 1).
out=$(python3 "$HERE/sip_peer.py" "$LAB_IP_A:5060" --tls "$D/certs/good.pem" "$D/certs/good.key" "$D/certs/ca.pem" \
      --idle 3.5 "$D/msg.sip")
echo "    $out" | head -2
check "keep-alive pings on an idle connection" bash -c 'grep -Eq "keepalive pings: [1-9]" <<<"$1"' _ "$out"
check "and the connection still works after them" contains "$out" "SIP/2.0 200"

# TLS with an optional client certificate (request_client_cert): both kinds of UC server connect.
stop_pid "$GW_A_PID" TERM || true
sed -i '/^internal_listener/ s/transport: MTLS }/transport: TLS request_client_cert: true }/' "$D/a.textproto"
grep -q "transport: TLS request_client_cert: true" "$D/a.textproto"
start_fedgw "$BIN" "$D/a.textproto" "$D/a2.log"
out=$(python3 "$HERE/sip_peer.py" "$LAB_IP_A:5060" --tls-anon "$D/certs/ca.pem" "$D/msg.sip")
check "TLS without a client certificate: 200" contains "$out" "SIP/2.0 200"
out=$(python3 "$HERE/sip_peer.py" "$LAB_IP_A:5060" --tls "$D/certs/good.pem" "$D/certs/good.key" "$D/certs/ca.pem" "$D/msg.sip")
check "TLS with a client certificate: 200" contains "$out" "SIP/2.0 200"
out=$(python3 "$HERE/sip_peer.py" "$LAB_IP_A:5060" --tls "$D/certs/untrusted.pem" "$D/certs/untrusted.key" "$D/certs/ca.pem" "$D/msg.sip" 2>&1 || true)
check "TLS with an untrusted client certificate: refused" bash -c '! grep -q "^SIP/2.0 200" <<<"$1"' _ "$out"
finish
