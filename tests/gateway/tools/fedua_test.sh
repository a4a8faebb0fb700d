#!/usr/bin/env bash
# End-to-end test of fedua against itself. No gateway runs here, so
# fedua_test_relay stands in for it: it relays SIP messages between its first
# connection (`fedua serve --domain b.test`, the "far side") and the client
# fedua under test (--domain a.test). With --record-route it also
# record-routes dialogs and drops in-dialog requests that ignore the route
# set. Loopback only; every process started is killed by PID at the end.
# usage: fedua_test.sh FEDUA RELAY   (KEEP=1 keeps the output directory)
set -euo pipefail
FEDUA=$1
RELAY=$2
D=$(mktemp -d /tmp/fedua-test-XXXXXX)
PIDS=()
FAILURES=0

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok:   $*"; }
# check DESCRIPTION COMMAND...: the command must succeed.
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# has FILE TEXT: a line of FILE contains TEXT (fixed string).
has() { grep -qF -- "$2" "$1"; }
# has_re FILE REGEX
has_re() { grep -qE -- "$2" "$1"; }
# order FILE TEXT1 TEXT2: TEXT1 appears on an earlier line than TEXT2.
order() {
  local a b
  a=$(grep -nF -- "$2" "$1" | head -1 | cut -d: -f1)
  b=$(grep -nF -- "$3" "$1" | tail -1 | cut -d: -f1)
  [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]
}

# start_relay [--record-route]: a fresh gateway stand-in; sets PORT,
# RELAY_PID and RELAY_ERR (its stderr).
start_relay() {
  local out=$D/relay.$RANDOM
  RELAY_ERR=$out.err
  "$RELAY" "$@" >"$out" 2>"$RELAY_ERR" &
  RELAY_PID=$!
  PIDS+=("$RELAY_PID")
  for _ in $(seq 1 100); do
    PORT=$(head -1 "$out" 2>/dev/null || true)
    [ -n "$PORT" ] && return 0
    sleep 0.02
  done
  echo "relay did not start" >&2
  return 1
}

# start_serve OUT ARGS...: `fedua serve` for b.test on the current relay,
# waits for its "serving" line; sets SERVE_PID.
start_serve() {
  local out=$1; shift
  "$FEDUA" --gateway "127.0.0.1:$PORT" --domain b.test serve "$@" >"$out" 2>&1 &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  for _ in $(seq 1 100); do
    has "$out" "fedua: serving b.test" && return 0
    kill -0 "$SERVE_PID" 2>/dev/null || break
    sleep 0.02
  done
  echo "fedua serve did not start:" >&2
  cat "$out" >&2
  return 1
}

# stop_serve: SIGTERM, waits; sets SERVE_RC.
stop_serve() {
  SERVE_RC=0
  kill -TERM "$SERVE_PID"
  wait "$SERVE_PID" || SERVE_RC=$?
}

# client OUT ARGS...: fedua as alice@a.test on the current relay (bounded by
# timeout(1)); sets RC.
client() {
  local out=$1; shift
  RC=0
  timeout 30 "$FEDUA" --gateway "127.0.0.1:$PORT" --domain a.test --user alice --name "Alice" \
    "$@" >"$out" 2>&1 || RC=$?
}

# ---- usage errors (exit 2) and no gateway (exit 3) --------------------------
RC=0; "$FEDUA" --help >"$D/help" 2>&1 || RC=$?
check "--help exits 0" [ "$RC" -eq 0 ]
check "--help shows the usage" has "$D/help" "usage: fedua --gateway IP:PORT --domain DOMAIN"
check "--help documents the exit status" has "$D/help" "3 cannot connect to the gateway"

RC=0; "$FEDUA" --gateway 127.0.0.1:9 --domain a.test frobnicate x >"$D/u1" 2>&1 || RC=$?
check "unknown command exits 2" [ "$RC" -eq 2 ]
check "unknown command is named" has "$D/u1" 'fedua: unknown command "frobnicate"'

RC=0; "$FEDUA" --gateway 127.0.0.1:9 --domain a.test send bob hello >"$D/u2" 2>&1 || RC=$?
check "bad URI exits 2" [ "$RC" -eq 2 ]
check "bad URI is named" has "$D/u2" 'fedua: bad URI "bob"'

RC=0; "$FEDUA" --gateway 127.0.0.1:9 --domain a.test send "sip:bob@bad host" x >"$D/u3" 2>&1 || RC=$?
check "bad sip: URI exits 2" [ "$RC" -eq 2 ]

RC=0; "$FEDUA" --domain a.test send bob@b.test hi >"$D/u4" 2>&1 || RC=$?
check "missing --gateway exits 2" [ "$RC" -eq 2 ]
check "missing --gateway is named" has "$D/u4" "--gateway IP:PORT is required"

RC=0; "$FEDUA" --gateway gw.a.test:5060 --domain a.test send bob@b.test hi >"$D/u5" 2>&1 || RC=$?
check "--gateway host name exits 2" [ "$RC" -eq 2 ]

RC=0; "$FEDUA" --gateway 127.0.0.1:9 --domain a.test load bob@b.test 0 >"$D/u6" 2>&1 || RC=$?
check "load COUNT 0 exits 2" [ "$RC" -eq 2 ]

RC=0; "$FEDUA" --gateway 127.0.0.1:9 --domain a.test --arrivals bursty load bob@b.test 10 100 >"$D/u6b" 2>&1 || RC=$?
check "--arrivals other than even/poisson exits 2" [ "$RC" -eq 2 ]
check "--arrivals value is named" has "$D/u6b" 'fedua: --arrivals: "bursty" is not even or poisson'
RC=0; "$FEDUA" --gateway 127.0.0.1:9 --domain a.test --arrivals poisson load bob@b.test 10 >"$D/u6c" 2>&1 || RC=$?
check "--arrivals without a RATE exits 2" [ "$RC" -eq 2 ]
check "--arrivals without a RATE is said" has "$D/u6c" 'fedua: --arrivals needs a RATE (load TO COUNT RATE)'

RC=0; "$FEDUA" --gateway 127.0.0.1:9 --domain a.test --bogus send bob@b.test hi >"$D/u7" 2>&1 || RC=$?
check "unknown option exits 2" [ "$RC" -eq 2 ]

RC=0; "$FEDUA" --gateway 127.0.0.1:9 --domain a.test send >"$D/u8" 2>&1 || RC=$?
check "missing arguments exit 2" [ "$RC" -eq 2 ]

start_relay
DEAD_PORT=$PORT
kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
RC=0; timeout 30 "$FEDUA" --gateway "127.0.0.1:$DEAD_PORT" --domain a.test send bob@b.test hi \
  >"$D/noconn" 2>&1 || RC=$?
check "gateway not listening exits 3" [ "$RC" -eq 3 ]
check "gateway not listening is said" has "$D/noconn" "fedua: cannot connect to the gateway at 127.0.0.1:$DEAD_PORT: Connection refused"

# ---- send, options, error responses ------------------------------------------
start_relay
start_serve "$D/serve1" --user bob --users bob,carol
client "$D/send" send bob@b.test hello bob
check "send exits 0" [ "$RC" -eq 0 ]
check "send prints the 200" has_re "$D/send" '^fedua: sent MESSAGE to sip:bob@b.test -> 200 OK \([0-9]+\.[0-9]+ ms\)$'
client "$D/send404" send sip:dave@b.test are you there
check "send to an unknown user exits 1" [ "$RC" -eq 1 ]
check "send to an unknown user prints the 404" has "$D/send404" "fedua: sent MESSAGE to sip:dave@b.test -> 404 Not Found"
check "send to an unknown user gives the reason" has "$D/send404" "fedua: send: 404 Not Found"
client "$D/options" options b.test
check "options exits 0" [ "$RC" -eq 0 ]
check "options prints the 200" has "$D/options" "fedua: OPTIONS sip:b.test -> 200 OK"
check "options prints Allow" has "$D/options" "fedua: OPTIONS header Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE"
stop_serve
check "serve exits 0 on SIGTERM" [ "$SERVE_RC" -eq 0 ]
check "serve printed the MESSAGE" has "$D/serve1" "fedua: received MESSAGE from sip:alice@a.test: hello bob"
check "serve printed the 404" has "$D/serve1" "fedua: received MESSAGE from sip:alice@a.test for sip:dave@b.test -> 404 Not Found"
check "serve printed the OPTIONS" has "$D/serve1" "fedua: received OPTIONS from sip:alice@a.test -> 200 OK"
check "serve summary" has "$D/serve1" "fedua: serve: received 3 request(s) (MESSAGE 2, OPTIONS 1), sent 0 NOTIFY"

# ---- chat (through a record-routing relay) --------------------------------------
start_relay --record-route
start_serve "$D/serve2" --user bob
client "$D/chat" chat bob@b.test hi there
check "chat exits 0" [ "$RC" -eq 0 ]
check "chat INVITE answered" has "$D/chat" "fedua: INVITE sip:bob@b.test -> 200 OK"
check "chat ACK sent" has "$D/chat" "fedua: sent ACK to sip:bob@b.test"
check "chat MESSAGE answered" has "$D/chat" "fedua: sent MESSAGE to sip:bob@b.test -> 200 OK"
check "chat BYE answered" has "$D/chat" "fedua: BYE sip:bob@b.test -> 200 OK"
stop_serve
check "serve answered the INVITE" has "$D/serve2" "fedua: received INVITE from sip:alice@a.test -> 200 OK"
check "serve got the ACK" has "$D/serve2" "fedua: received ACK from sip:alice@a.test"
check "serve got the MESSAGE in the dialog" has "$D/serve2" "fedua: received MESSAGE from sip:alice@a.test: hi there"
check "serve answered the BYE (dialog known)" has "$D/serve2" "fedua: received BYE from sip:alice@a.test -> 200 OK"
check "chat order INVITE, ACK, MESSAGE, BYE" bash -c \
  "grep -oE 'received (INVITE|ACK|MESSAGE|BYE)' '$D/serve2' | tr '\n' ' ' | grep -qx 'received INVITE received ACK received MESSAGE received BYE '"
check "chat in-dialog requests followed the route set" bash -c "! grep -q dropped '$RELAY_ERR'"

# ---- subscribe: NOTIFY, presence change, unsubscribe; publish ------------------
# (through a record-routing relay: NOTIFYs and the unsubscribe use route sets)
start_relay --record-route
start_serve "$D/serve3" --user bob --change-after 1 --change-note "Gone home"
client "$D/sub" subscribe bob@b.test 2.5
check "subscribe exits 0" [ "$RC" -eq 0 ]
check "SUBSCRIBE answered" has "$D/sub" "fedua: SUBSCRIBE sip:bob@b.test -> 200 OK"
check "first NOTIFY: open" has "$D/sub" 'fedua: NOTIFY from sip:bob@b.test: basic=open note="Available" state=active;expires=600'
check "changed NOTIFY: closed" has_re "$D/sub" '^fedua: NOTIFY from sip:bob@b.test: basic=closed note="Gone home" state=active;expires=5[0-9][0-9]$'
check "open before closed" order "$D/sub" 'basic=open' 'basic=closed note="Gone home" state=active'
check "unsubscribe answered" has "$D/sub" "fedua: unsubscribe sip:bob@b.test -> 200 OK"
check "final NOTIFY terminated" has "$D/sub" 'state=terminated;reason=timeout'
check "subscribe summary" has "$D/sub" "fedua: subscribe: 3 NOTIFY received"
check "serve changed presence" has "$D/serve3" 'fedua: presence changed: basic=closed note="Gone home" (1 subscriber(s) notified)'
check "serve saw the SUBSCRIBE" has "$D/serve3" "fedua: received SUBSCRIBE from sip:alice@a.test for sip:bob@b.test (Expires: 600) -> 200 OK"
check "serve saw the unsubscribe" has "$D/serve3" "for sip:bob@b.test (Expires: 0) -> 200 OK"
# publish (alice publishes a.test's alice; the relay takes it to serve), then
# a second subscriber sees the published state.
client "$D/pub" publish closed In a meeting
check "publish exits 0" [ "$RC" -eq 0 ]
check "publish answered" has "$D/pub" 'fedua: PUBLISH sip:alice@a.test: basic=closed note="In a meeting" -> 200 OK'
client "$D/sub2" subscribe alice@a.test 0.3
check "subscribe after publish exits 0" [ "$RC" -eq 0 ]
check "published state is notified" has "$D/sub2" 'fedua: NOTIFY from sip:alice@a.test: basic=closed note="In a meeting" state=active'
client "$D/sub3" --timeout 2 subscribe bob@b.test 5 --expires 0
check "fetch (Expires: 0) exits 0" [ "$RC" -eq 0 ]
check "fetch gets one terminated NOTIFY" has "$D/sub3" 'state=terminated;reason=timeout'
check "fetch does not unsubscribe" bash -c "! grep -q unsubscribe '$D/sub3'"
stop_serve
check "serve exits 0 after subscriptions" [ "$SERVE_RC" -eq 0 ]
check "subscription in-dialog requests followed the route set" bash -c "! grep -q dropped '$RELAY_ERR'"

# A subscription the far side rejects: exit 1 with the reason.
start_relay
start_serve "$D/serve4" --user bob --users bob
client "$D/sub404" subscribe carol@b.test 1
check "rejected subscribe exits 1" [ "$RC" -eq 1 ]
check "rejected subscribe gives the reason" has "$D/sub404" "fedua: subscribe: 404 Not Found"
stop_serve

# ---- load ---------------------------------------------------------------------
start_relay
start_serve "$D/serve5" --user bob --quiet
client "$D/load" load bob@b.test 200
check "load exits 0" [ "$RC" -eq 0 ]
check "load figures" has_re "$D/load" '^fedua: load: sent 200, 2xx 200, 3xx 0, 4xx 0, 5xx 0, 6xx 0, timeouts 0, median [0-9.]+ ms, p90 [0-9.]+ ms, p99 [0-9.]+ ms, elapsed [0-9.]+ s, [0-9.]+ msg/s$'
check "load codes" has "$D/load" "fedua: load: codes 200=200"
client "$D/load_rate" --window 4 load bob@b.test 20 100
check "paced load exits 0" [ "$RC" -eq 0 ]
check "paced load honours the rate (20 at 100/s >= 0.19 s)" bash -c \
  "grep -oE 'elapsed [0-9.]+' '$D/load_rate' | awk '{exit !(\$2 >= 0.19)}'"
# Poisson arrivals: random gaps of mean 10 ms; the 40 before the last request are checked against a
# loose 0.1 s (the seed fixes the schedule: the last request is due 0.48 s after the first)
client "$D/load_poisson" --window 4 --arrivals poisson load bob@b.test 41 100
check "poisson load exits 0" [ "$RC" -eq 0 ]
check "poisson load gets every answer" has "$D/load_poisson" "fedua: load: sent 41, 2xx 41, 3xx 0, 4xx 0, 5xx 0, 6xx 0, timeouts 0"
check "poisson load is paced (41 at 100/s >= 0.1 s)" bash -c \
  "grep -oE 'elapsed [0-9.]+' '$D/load_poisson' | awk '{exit !(\$2 >= 0.1)}'"
stop_serve
check "quiet serve prints no per-request lines" bash -c "! grep -q 'received MESSAGE' '$D/serve5'"
check "quiet serve summary counts the load" has "$D/serve5" "fedua: serve: received 261 request(s) (MESSAGE 261)"

# ---- timeouts: nobody answers ---------------------------------------------------
# The hub is a connection of this shell that never reads nor writes.
start_relay
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
client "$D/timeout" --timeout 0.5 send bob@b.test anyone
check "send without an answer exits 1" [ "$RC" -eq 1 ]
check "send timeout is said" has "$D/timeout" "fedua: send: no final response within 0.5 s"
client "$D/load_to" --timeout 0.5 load bob@b.test 10
check "load without answers exits 1" [ "$RC" -eq 1 ]
check "load timeouts counted" has "$D/load_to" "timeouts 10"
exec 3>&-
wait "$RELAY_PID" 2>/dev/null || true

# serve ends by itself after SECONDS; its connection closing is exit 1.
start_relay
start_serve "$D/serve6" --user bob 0.3
RC=0; wait "$SERVE_PID" || RC=$?
check "serve SECONDS ends with 0" [ "$RC" -eq 0 ]
start_relay
start_serve "$D/serve7" --user bob
kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
RC=0; wait "$SERVE_PID" || RC=$?
check "serve exits 1 when the gateway closes" [ "$RC" -eq 1 ]
# A FIN, or an RST when the relay died with bytes of ours unread: either way the gateway closed it.
check "serve says the gateway closed" has_re "$D/serve7" "fedua: serve: connection (closed|reset) by the gateway"
has_re "$D/serve7" "connection (closed|reset) by the gateway" || { echo "serve7 said:"; cat "$D/serve7"; } >&2

if [ "$FAILURES" -ne 0 ]; then
  echo "$FAILURES check(s) failed" >&2
  for f in "$D"/*; do echo "== $f"; cat "$f"; done >&2
  exit 1
fi
echo "all checks passed"
