#!/usr/bin/env bash
# The demo: installs dependencies, builds, then runs a real federation on
# loopback: gateways for a.test (127.0.1.1) and b.test (127.0.2.1) with
# certificates from a test CA made on the spot, a real DNS server (dnsmasq)
# publishing their _sipfederationtls._tcp records, and a fedua UC server
# behind each gateway. alice@a.test and bob@b.test chat both ways, alice
# watches bob's presence change; then both message windows are shown and
# everything is stopped.
# With --proxy the same story runs in SIP proxy mode: both gateways log in at one SIP proxy (Debian's
# Kamailio with digest authentication, mutual TLS) and every federated request goes through it.
set -euo pipefail
PROXY=0
case "${1:-}" in
  --proxy) PROXY=1 ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--proxy]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
source scripts/lab.sh

BIN=build/bin
DIR=$(mktemp -d /tmp/fedgw-demo-XXXXXX)
trap 'lab_stop; rm -rf "$DIR"' EXIT
step() { printf '\n==> %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [ "$PROXY" = 1 ]; then
  IP_A=127.0.23.1 IP_B=127.0.24.1
  step "certificates, DNS, a SIP proxy (Kamailio on $LAB_PROXY_IP), gateways for a.test and b.test in SIP proxy mode (files in $DIR)"
  lab_proxy_federation "$BIN" "$DIR"
  wait_for_log "$DIR/a.log" "registered at the SIP proxy" 1 15
  wait_for_log "$DIR/b.log" "registered at the SIP proxy" 1 15
else
  IP_A=127.0.1.1 IP_B=127.0.2.1
  step "certificates, DNS (dnsmasq on 127.0.0.1), gateways for a.test and b.test (files in $DIR)"
  lab_federation "$BIN" "$DIR"
fi
A=("$BIN/fedctl" --socket "$DIR/a.sock")
B=("$BIN/fedctl" --socket "$DIR/b.sock")
run "${A[@]}" check
if [ "$PROXY" = 1 ]; then run "${A[@]}" status; fi

step "the UC servers of both companies connect to their gateways"
"$BIN/fedua" --gateway "$IP_A:5060" --domain a.test serve 60 > "$DIR/uc-a.out" 2>&1 &
LAB_PIDS+=($!)
"$BIN/fedua" --gateway "$IP_B:5060" --domain b.test --presence open --note "Available" \
  --change-after 3 --change-note "In a meeting" serve 60 > "$DIR/uc-b.out" 2>&1 &
LAB_PIDS+=($!)
# Each UC server is connected once its gateway answered the OPTIONS it sends at start.
wait_for_log "$DIR/uc-a.out" "serve: OPTIONS sip:a.test -> 200"
wait_for_log "$DIR/uc-b.out" "serve: OPTIONS sip:b.test -> 200"

step "alice@a.test chats with bob@b.test, and bob answers"
run "$BIN/fedua" --gateway "$IP_A:5060" --domain a.test --user alice --name "Alice" \
  send bob@b.test "Hello Bob, lunch at noon?"
run "$BIN/fedua" --gateway "$IP_B:5060" --domain b.test --user bob --name "Bob" \
  send alice@a.test "Sure, see you at noon."
run "$BIN/fedua" --gateway "$IP_A:5060" --domain a.test --user alice \
  chat bob@b.test "This one goes inside an IM session (INVITE, MESSAGE, BYE)."

step "alice watches bob's presence for 6 s (it changes after 3 s)"
run "$BIN/fedua" --gateway "$IP_A:5060" --domain a.test --user alice subscribe bob@b.test 6

step "what the UC server of b.test received"
grep -E "received|SUBSCRIBE|NOTIFY|INVITE|BYE" "$DIR/uc-b.out" || true
step "what the UC server of a.test received"
grep -E "received|SUBSCRIBE|NOTIFY|INVITE|BYE" "$DIR/uc-a.out" || true

step "partner connections and counters"
run "${A[@]}" peers
run "${B[@]}" peers
run "${A[@]}" status

step "message window of the a.test gateway"
"${A[@]}" log
step "message window of the b.test gateway"
"${B[@]}" log

step "stopping everything"
lab_stop
echo "demo finished"
