#!/usr/bin/env bash
# Integration test of fedgw + fedctl: real processes, real control socket.
# usage: control_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
D=$FEDGW_TEST_DIR
EXPECT_MALLOC=${FEDGW_EXPECT_MALLOC:-(tcmalloc|glibc malloc)}  # ctest passes the build's choice
SOCK=$D/run/control.sock
CTL=("$BIN/fedctl" --socket "$SOCK")

# The shipped default, with the socket in the test's directory and DNS on loopback only.
# Its own loopback address, so that tests running in parallel do not collide.
sed -e "s|/run/fedgw/control.sock|$SOCK|" -e 's|# servers: "127.0.0.1:53"|servers: "127.0.0.1:9"|' \
  -e 's|bind_ip: "127.0.0.1"|bind_ip: "127.0.9.1"|' \
  "$SRC/gateway/config/default.textproto" > "$D/gw.textproto"

# A bad config is refused at start with the field and value named.
sed 's/port: 5060/port: 70000/' "$D/gw.textproto" > "$D/bad.textproto"
rc=0; out=$("$BIN/fedgw" --config "$D/bad.textproto" 2>&1) || rc=$?
check "bad config exits non-zero" [ "$rc" -ne 0 ]
check "bad config names field and value" contains "$out" "internal_listener.port: 70000 is not a valid port"
rc=0; out=$("$BIN/fedgw" --config "$D/missing.textproto" 2>&1) || rc=$?
check "missing config file is named" contains "$out" "$D/missing.textproto: cannot be read"
check "fedgw --check accepts the default config" "$BIN/fedgw" --config "$SRC/gateway/config/default.textproto" --check

# fedctl without a gateway: clear message, non-zero exit.
rc=0; out=$("${CTL[@]}" status 2>&1) || rc=$?
check "fedctl without gateway exits 3" [ "$rc" -eq 3 ]
check "fedctl without gateway says so" contains "$out" "fedgw is not running"

start_fedgw "$BIN" "$D/gw.textproto" "$D/fedgw.log"
PID=$FEDGW_LAST_PID

check "control socket is mode 0600" [ "$(stat -c %a "$SOCK")" = 600 ]
status=$("${CTL[@]}" status)
check "status shows mode" contains "$status" "mode:      DIRECT"
check "status shows listeners" contains "$status" "internal            127.0.9.1:5060              TCP   listening"
check "status shows counters" contains "$status" "control requests"

log=$("${CTL[@]}" log)
check "log lines start with a time stamp" bash -c '! grep -vE "^\([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\) " <<<"$1"' _ "$log"
check "log shows the start" contains "$log" "INFO  fedgw: starting fedgw"
# The allocator the build chose (CMake FEDGW_MALLOC, passed by tests/CMakeLists.txt) is the one running.
check "log names the memory allocator ($EXPECT_MALLOC)" grep -qE "starting fedgw .* worker threads, $EXPECT_MALLOC" <<<"$log"
check "log shows the config applied" contains "$log" "INFO  config: applied $D/gw.textproto"

interfaces=$("${CTL[@]}" interfaces)
check "interfaces list loopback" contains "$interfaces" "127.0.0.1"

# config check: valid and invalid; changes nothing.
check "config check of a valid file" "${CTL[@]}" config check "$D/gw.textproto"
rc=0; out=$("${CTL[@]}" config check "$D/bad.textproto" 2>&1) || rc=$?
check "config check of an invalid file fails" [ "$rc" -eq 1 ]
check "config check names field and value" contains "$out" "internal_listener.port: 70000 is not a valid port"

# config apply: an invalid file leaves the running config untouched.
before=$("${CTL[@]}" config show)
sed 's/domains: "example.com"/domains: "example.com"\ndomains: "bad domain"/' "$D/gw.textproto" > "$D/bad2.textproto"
rc=0; out=$("${CTL[@]}" config apply "$D/bad2.textproto" 2>&1) || rc=$?
check "invalid apply fails" [ "$rc" -eq 1 ]
check "invalid apply says nothing changed" contains "$out" "not applied, the running configuration is unchanged"
after=$("${CTL[@]}" config show)
check "running config untouched after invalid apply" [ "$before" = "$after" ]
check "refusal is logged" contains "$("${CTL[@]}" log)" "ERROR config: refused $D/bad2.textproto"

# A change needing a restart is refused too.
sed "s|$SOCK|$D/other.sock|" "$D/gw.textproto" > "$D/moved.textproto"
rc=0; out=$("${CTL[@]}" config apply "$D/moved.textproto" 2>&1) || rc=$?
check "control_socket change refused" contains "$out" "control_socket: changing"

# The data path reads its limits at start: apply refuses them, one line per
# field (the mode switches at run time, but not with them), and config show still shows what is in effect.
sed -e 's/max_body_bytes: 65536/max_body_bytes: 100/' -e 's/idle_timeout_s: 600/idle_timeout_s: 5/' \
  -e 's/^mode: DIRECT/mode: SIP_PROXY\nsip_proxy { username: "u" password: "p" ip: "127.0.9.2" transport: TCP incoming { bind_ip: "127.0.9.1" } }/' \
  "$D/gw.textproto" > "$D/limits.textproto"
rc=0; out=$("${CTL[@]}" config apply "$D/limits.textproto" 2>&1) || rc=$?
check "limits/mode apply fails" [ "$rc" -eq 1 ]
check "the mode is not what is refused" bash -c '! grep -q "^mode:" <<<"$1"' _ "$out"
check "body limit change needs a restart" contains "$out" "limits.max_body_bytes: changing 65536 to 100 needs a restart of fedgw"
check "idle limit change needs a restart" contains "$out" "limits.idle_timeout_s: changing 600 to 5 needs a restart of fedgw"
check "config show unchanged after refused limits" [ "$before" = "$("${CTL[@]}" config show)" ]

# log --follow sees the next entry; a valid apply is applied and logged.
"${CTL[@]}" log --follow > "$D/follow.out" &
FOLLOW=$!
LAB_PIDS+=("$FOLLOW")
# The window is printed once the gateway has registered the follower.
for _ in $(seq 1 100); do [ -s "$D/follow.out" ] && break; sleep 0.05; done
sed 's/domains: "example.com"/domains: "example.com"\ndomains: "second.example"/' "$D/gw.textproto" > "$D/good.textproto"
check "valid apply succeeds" "${CTL[@]}" config apply "$D/good.textproto"
check "config show has the new domain" contains "$("${CTL[@]}" config show)" 'domains: "second.example"'
check "status has the new domain" contains "$("${CTL[@]}" status)" "example.com, second.example"
for _ in $(seq 1 50); do grep -q "applied $D/good.textproto" "$D/follow.out" && break; sleep 0.1; done
summary="WARN  config: applied $D/good.textproto (mode DIRECT, domains example.com,second.example; changed: domains); federation readiness: NOT consistent, 2 problem(s); details: fedctl check"
check "log --follow printed the apply" grep -qF "$summary" "$D/follow.out"
# One summary entry plus one per problem (no certificate, no federation listener),
# all logged before apply answered, so the 30-entry window stays useful.
applied=$("${CTL[@]}" log | awk -v s="config: applied $D/good.textproto" 'index($0, s) { on = 1 } on')
echo "$applied" | sed 's/^/    | /'
check "apply wrote 3 entries" [ "$(wc -l <<<"$applied")" -eq 3 ]
check "apply summary first" contains "$(head -1 <<<"$applied")" "$summary"
check "apply problem: certificate" contains "$applied" "WARN  check: no certificate configured"
check "apply problem: listener" contains "$applied" "WARN  check: federation_listener is not configured"
kill "$FOLLOW"

# Several clients at once.
for i in $(seq 1 20); do "${CTL[@]}" status > "$D/par.$i" 2>&1 & done
wait_ok=0
for job in $(jobs -p); do [ "$job" = "$PID" ] && continue; wait "$job" || wait_ok=1; done
check "20 concurrent clients all answered" [ "$wait_ok" -eq 0 ]
check "concurrent answers are complete" bash -c 'grep -l "mode:      DIRECT" '"$D"'/par.* | wc -l | grep -qx 20'

# Garbage on the control socket: error reply, gateway keeps running.
if command -v python3 >/dev/null; then
  reply=$(python3 - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"\x03abc"); s.settimeout(5)
print(s.recv(4096)[1:].decode("utf-8", "replace"))
PY
)
  check "garbage frame gets an error reply" contains "$reply" "malformed frame"
fi
check "gateway alive after garbage" "${CTL[@]}" status

# SIGTERM: clean shutdown, exit 0, logged.
rc=0; stop_pid "$PID" TERM || rc=$?
check "SIGTERM exits 0" [ "$rc" -eq 0 ]
check "shutdown logged" grep -q "INFO  fedgw: stopped" "$D/fedgw.log"
check "socket removed" [ ! -e "$SOCK" ]

# SIGINT too.
start_fedgw "$BIN" "$D/gw.textproto" "$D/fedgw2.log"
rc=0; stop_pid "$FEDGW_LAST_PID" INT || rc=$?
check "SIGINT exits 0" [ "$rc" -eq 0 ]
check "SIGINT logged" grep -q "received SIGINT, shutting down" "$D/fedgw2.log"
finish
