#!/usr/bin/env bash
# Bounded inbound connections against a running gateway (issue 10, section 4):
# limits.max_connections, the establishment deadline, running out of file
# descriptors and a flooding, never-reading, half-closing peer. Its own
# loopback address 127.0.61.1. usage: edge_limits_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$1
D=$FEDGW_TEST_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
IP=127.0.61.1

# silent.py HOST:PORT COUNT SECONDS: opens COUNT connections that never send,
# watches them for SECONDS, then closes them; prints "opened N", one
# "closed T" per connection the gateway closed (T: seconds after opening all)
# and "open N".
cat > "$D/silent.py" <<'PY'
import select, socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
count, watch = int(sys.argv[2]), float(sys.argv[3])
socks = [socket.create_connection((host, int(port)), timeout=5) for _ in range(count)]
print("opened %d" % len(socks), flush=True)
start, closed = time.monotonic(), {}
while time.monotonic() - start < watch and len(closed) < len(socks):
    readable, _, _ = select.select([s for s in socks if s not in closed], [], [], 0.1)
    for s in readable:
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:
            closed[s] = time.monotonic() - start
for t in sorted(closed.values()):
    print("closed %.2f" % t)
print("open %d" % (len(socks) - len(closed)), flush=True)
PY

# flood.py HOST:PORT N: N OPTIONS with a 4 KiB receive buffer, never reading
# (12000 answers as in the review's E10; more than the kernel buffers hold),
# then a request whose body is over limits.max_body_bytes (413, and the gateway
# closes with output pending) and
# shutdown(SHUT_WR); prints "half-closed" and keeps the socket for 15 s.
cat > "$D/flood.py" <<'PY'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.settimeout(20)
s.connect((host, int(port)))
req = ("OPTIONS sip:a.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKfl%d\r\nMax-Forwards: 70\r\n"
       "From: <sip:flood@a.test>;tag=1\r\nTo: <sip:a.test>\r\nCall-ID: fl%d@test\r\nCSeq: 1 OPTIONS\r\n"
       "Content-Length: 0\r\n\r\n")
try:
    for i in range(int(sys.argv[2])):
        s.sendall((req % (i, i)).encode())
    s.sendall((req % (0, 0)).replace("Content-Length: 0", "Content-Length: 70000").encode())
    s.shutdown(socket.SHUT_WR)
    print("half-closed", flush=True)
except OSError as e:
    print("send failed: %s" % e, flush=True)
time.sleep(15)
PY

printf 'OPTIONS sip:a.test SIP/2.0\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKel1\nMax-Forwards: 70\nFrom: <sip:probe@a.test>;tag=1\nTo: <sip:a.test>\nCall-ID: el1@test\nCSeq: 1 OPTIONS\n\n' > "$D/options.sip"
serves() { contains "$(python3 "$HERE/sip_peer.py" "$IP:5060" "$D/options.sip" 2>&1)" "SIP/2.0 200"; }

# ticks PID: CPU time (user + system) in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# wait_for FILE TEXT: until FILE contains TEXT, at most 10 s.
wait_for() {
  local i
  for i in $(seq 1 100); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
HZ=$(getconf CLK_TCK)

make_certs "$D/certs"
start_dnsmasq "$D" --host-record=gw.a.test,"$IP"

# Validation of the new fields.
LAB_LIMITS_EXTRA="establish_timeout_s: 0" gateway_config "$D" bad a.test "$IP" good
rc=0; out=$("$BIN/fedgw" --config "$D/bad.textproto" --check 2>&1) || rc=$?
check "establish_timeout_s 0 is refused, naming field and value" \
  bash -c '[ "$1" -ne 0 ] && grep -qF "limits.establish_timeout_s: 0 is out of range (1..600)" <<<"$2"' _ "$rc" "$out"

# 1. max_connections 10, establishment deadline 2 s: of 15 silent connections
#    5 are closed at once, the other 10 after about 2 s.
LAB_LIMITS_EXTRA="max_connections: 10 establish_timeout_s: 2" gateway_config "$D" gw1 a.test "$IP" good
start_fedgw "$BIN" "$D/gw1.textproto" "$D/gw1.log"
GW1=$FEDGW_LAST_PID
out=$(python3 "$D/silent.py" "$IP:5061" 15 8)
early=$(awk '$1 == "closed" && $2 < 1.0' <<<"$out" | wc -l)
deadline=$(awk '$1 == "closed" && $2 >= 1.0 && $2 <= 4.0' <<<"$out" | wc -l)
check "connections beyond max_connections are closed at once (5 of 15)" [ "$early" -eq 5 ]
check "silent connections are closed at the establishment deadline (10)" [ "$deadline" -eq 10 ]
check "no silent connection outlives the deadline" contains "$out" "open 0"
check "refusals are logged" wait_for "$D/gw1.log" "inbound connections: 5 refused at the connection limit (10)"
check "refusals are logged once, not per connection" [ "$(grep -c "inbound connections:" "$D/gw1.log")" -le 2 ]
# 1b. After a first complete message, a partial one (no blank line; then a body
#     shorter than its Content-Length) must be completed within the deadline.
partial() {
  python3 - "$IP:5060" "$1" <<'PY'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=8)
opt = ("OPTIONS sip:a.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKpart\r\nMax-Forwards: 70\r\n"
       "From: <sip:probe@a.test>;tag=1\r\nTo: <sip:a.test>\r\nCall-ID: part@test\r\nCSeq: 1 OPTIONS\r\n")
s.sendall((opt + "Content-Length: 0\r\n\r\n").encode())
assert s.recv(4096).startswith(b"SIP/2.0 200"), "no 200 to the complete OPTIONS"
s.sendall((opt if sys.argv[2] == "head" else opt + "Content-Length: 100\r\n\r\nshort").encode())
start = time.monotonic()
while s.recv(4096):
    pass
print("closed %.2f" % (time.monotonic() - start))
PY
}
for kind in head body; do
  out=$(partial "$kind" 2>&1)
  t=$(awk '$1 == "closed" {print $2}' <<<"$out")
  check "an incomplete message ($kind) is closed at the deadline ($out)" \
    bash -c '[ -n "$1" ] && awk -v t="$1" "BEGIN { exit !(t >= 1.0 && t <= 4.0) }"' _ "$t"
done
stop_pid "$GW1" TERM || true

# 2. Under "ulimit -n 64" with 80 silent connections the gateway stays idle
#    and serves again once they are gone.
mkdir -p "$D/lowfd"
ln -s "$BIN/fedctl" "$D/lowfd/fedctl"
printf '#!/bin/bash\nulimit -n 64\nexec "%s/fedgw" "$@"\n' "$BIN" > "$D/lowfd/fedgw"
chmod +x "$D/lowfd/fedgw"
LAB_LIMITS_EXTRA="establish_timeout_s: 600 max_connections_per_source: 1000" gateway_config "$D" gw2 a.test "$IP" good
start_fedgw "$D/lowfd" "$D/gw2.textproto" "$D/gw2.log"
GW2=$FEDGW_LAST_PID
check "the gateway runs with 64 files" grep -qE "^Max open files +64 +64" "/proc/$GW2/limits"
check "a max_connections the file limit cannot hold is logged" \
  grep -qF "open-file limit 64 cannot hold limits.max_connections 10000" "$D/gw2.log"
python3 "$D/silent.py" "$IP:5061" 80 5 > "$D/silent2.out" &
SILENT=$!
LAB_PIDS+=("$SILENT")
check "80 silent connections are open" wait_for "$D/silent2.out" "opened 80"
before=$(ticks "$GW2"); sleep 2; after=$(ticks "$GW2")
echo "gateway CPU with 80 silent connections under ulimit -n 64: $((after - before)) ticks in 2 s (HZ $HZ)"
check "the gateway does not spin out of file descriptors (< 20% of a core)" [ $((after - before)) -lt $((2 * HZ / 5)) ]
wait "$SILENT" || true
check "the gateway serves after the silent connections are gone" serves

# 3. A peer that floods, never reads and half-closes does not pin a core, and
#    its connection is closed at the close deadline (not left in CLOSE-WAIT).
python3 "$D/flood.py" "$IP:5060" 12000 > "$D/flood.out" 2>&1 &
FLOOD=$!
LAB_PIDS+=("$FLOOD")
check "the flooding peer half-closed" wait_for "$D/flood.out" "half-closed"
before=$(ticks "$GW2"); sleep 2; after=$(ticks "$GW2")
echo "gateway CPU with a half-closed flooding peer: $((after - before)) ticks in 2 s"
check "a half-closed, never-reading peer does not pin a core (< 20%)" [ $((after - before)) -lt $((2 * HZ / 5)) ]
close_wait() { [ "$(ss -Htn state close-wait src "$IP:5060" | wc -l)" -eq 0 ]; }
gone=1
for _ in $(seq 1 100); do close_wait && { gone=0; break; }; sleep 0.1; done
check "the half-closed connection is closed by the close deadline" [ "$gone" -eq 0 ]
check "the gateway still serves" serves
kill "$FLOOD" 2>/dev/null || true
stop_pid "$GW2" TERM || true
finish
