#!/usr/bin/env bash
# Two gateways that both run as PID 1 (each in its own PID namespace, as in
# containers) federate (review E6: with a PID-derived instance they answered
# every request 482 Loop Detected). Also: internal_listener.allowed_peers.
# Own loopback addresses 127.0.63.1 / 127.0.64.1. usage: pid1_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$(cd "$1" && pwd)
D=$FEDGW_TEST_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_IP_A=127.0.63.1
LAB_IP_B=127.0.64.1
LAB_EXTRA_CONFIG='partners { allowed: "a.test" allowed: "b.test" }'

# fedgw as PID 1 of a new PID namespace; SIGTERM to the wrapper reaches it.
mkdir -p "$D/pid1"
ln -s "$BIN/fedctl" "$D/pid1/fedctl"
printf '#!/bin/bash\nexec unshare --pid --fork --kill-child=TERM "%s/fedgw" "$@"\n' "$BIN" > "$D/pid1/fedgw"
chmod +x "$D/pid1/fedgw"
# unshare --fork ignores SIGTERM while it waits: stop the gateway inside directly.
stop_pid1() { pkill -TERM -P "$1" || true; wait "$1" 2>/dev/null || true; }
lab_federation "$D/pid1" "$D"
check "gateway a.test runs as PID 1" grep -q "starting fedgw .*(pid 1," "$D/a.log"
check "gateway b.test runs as PID 1" grep -q "starting fedgw .*(pid 1," "$D/b.log"
"$BIN/fedua" --gateway "$LAB_IP_B:5060" --domain b.test -q serve 60 > "$D/uc-b.out" 2>&1 &
LAB_PIDS+=($!)
wait_for_log "$D/uc-b.out" "serve: OPTIONS sip:b.test -> 200"
out=$("$BIN/fedua" --gateway "$LAB_IP_A:5060" --domain a.test --user alice --timeout 10 send bob@b.test "same pid" 2>&1) || true
check "two PID-1 gateways federate (no 482)" contains "$out" "-> 200 OK"

# internal_listener.allowed_peers: only the listed address may be the UC server.
stop_pid1 "$GW_A_PID"
stop_pid1 "$GW_B_PID"
sed 's/^internal_listener { \(.*\) }$/internal_listener { \1 allowed_peers: "127.0.63.9" }/' "$D/a.textproto" > "$D/a-peers.textproto"
grep -q 'allowed_peers: "127.0.63.9"' "$D/a-peers.textproto"
start_fedgw "$BIN" "$D/a-peers.textproto" "$D/a-peers.log"
GW_A_PID=$FEDGW_LAST_PID
printf 'OPTIONS sip:a.test SIP/2.0\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKap1\nMax-Forwards: 70\nFrom: <sip:uc@a.test>;tag=1\nTo: <sip:a.test>\nCall-ID: ap1@test\nCSeq: 1 OPTIONS\n\n' > "$D/options.sip"
from() {
  python3 - "$1" "$LAB_IP_A" "$D/options.sip" <<'PY'
import socket, sys
src, dst, path = sys.argv[1:4]
text = open(path).read().replace("\n", "\r\n").replace("\r\n\r\n", "\r\nContent-Length: 0\r\n\r\n", 1)
s = socket.socket(); s.settimeout(5); s.bind((src, 0)); s.connect((dst, 5060))
try:
    s.sendall(text.encode()); print(s.recv(4096).decode().split("\r\n")[0] or "closed")
except OSError as e:
    print("closed (%s)" % e)
PY
}
check "the listed address is served" contains "$(from 127.0.63.9)" "SIP/2.0 200"
check "any other address is refused" bash -c '! grep -q "SIP/2.0" <<<"$1"' _ "$(from 127.0.0.1)"
check "the refusal is logged with the field" wait_for_log "$D/a-peers.log" "not in internal_listener.allowed_peers"
finish
