#!/usr/bin/env bash
# RFC 4475 torture messages (tests/integration/torture/) sent one per TCP
# connection to the internal listener of a running gateway, each judged
# against torture/expectations.txt (NORMAL processing, an exact status, or
# SILENT); one also over the federation side with the partner's certificate.
# The gateway must be alive afterwards: a MESSAGE still federates with 200.
# The messages name hosts like example.com, so the test runs in a network
# namespace of its own with only lo up; dnsmasq answers only the *.test zone.
# usage: torture_test.sh BIN_DIR
if [ -z "${FEDGW_TORTURE_NETNS:-}" ]; then
  userns=()
  [ "$(id -u)" -eq 0 ] || userns=(--map-root-user)
  exec env FEDGW_TORTURE_NETNS=1 unshare "${userns[@]}" --net -- "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
BIN=$(cd "$1" && pwd)
D=$FEDGW_TEST_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
T=$HERE/torture
LAB_IP_A=127.0.16.1
LAB_IP_B=127.0.17.1
LAB_TIMER_MS=1500  # a request routed nowhere gets its final response well within WAIT
WAIT=3
LAB_EXTRA_CONFIG='partners { allowed: "a.test" allowed: "b.test" }'
lab_federation "$BIN" "$D"
"$BIN/fedua" --gateway "$LAB_IP_B:5060" --domain b.test -q serve 120 > "$D/uc-b.out" 2>&1 &
LAB_PIDS+=($!)
for _ in $(seq 1 50); do grep -q "internal connection up" "$D/b.log" && break; sleep 0.1; done
check "b.test's UC server connected" grep -q "internal connection up" "$D/b.log"

# judge EXPECTED GOT: NORMAL is any final response but the parse-error ones.
judge() {
  local expected=$1 got=$2 code
  code=$(sed -n 's/^SIP\/2.0 \([0-9][0-9][0-9]\).*/\1/p' <<<"$got")
  case $expected in
    NORMAL) [ -n "$code" ] && ! grep -qE '^(400|413|416|420|505)$' <<<"$code" ;;
    SILENT) [ "$got" = SILENT ] ;;
    *) [ "$code" = "$expected" ] ;;
  esac
}

printf '%-28s %-8s %-60s %s\n' message expected got verdict
differ=()
while read -r name expected _; do
  case $name in ''|'#'*) continue ;; esac
  [ -f "$T/$name.dat" ] || { fail "$name.dat is missing"; continue; }
  got=$(timeout $((WAIT + 5)) python3 "$T/send.py" "$LAB_IP_A:5060" "$T/$name.dat" "$WAIT" 2>&1 | head -1)
  if judge "$expected" "$got"; then verdict=PASS; else verdict=FAIL; differ+=("$name"); fi
  printf '%-28s %-8s %-60.60s %s\n' "$name" "$expected" "$got" "$verdict"
done < "$T/expectations.txt"
check "every torture message judged as RFC 4475 asks (differing: ${differ[*]:-none})" [ "${#differ[@]}" -eq 0 ]

# Federation side: b.test's gateway certificate, an unsupported SIP version.
out=$(timeout 20 python3 "$HERE/sip_peer.py" "$LAB_IP_A:5061" --tls "$D/certs/peer.pem" "$D/certs/peer.key" \
      "$D/certs/ca.pem" --raw "$T/badvers.dat" 2>&1 || true)
check "federation side: badvers answered 505 (got: $(head -1 <<<"$out"))" contains "$out" "SIP/2.0 505"

check "gateway a.test still running" kill -0 "$GW_A_PID"
printf 'MESSAGE sip:bob@b.test SIP/2.0\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKtorture1\nMax-Forwards: 70\nFrom: <sip:alice@a.test>;tag=1\nTo: <sip:bob@b.test>\nCall-ID: torture-alive@test\nCSeq: 1 MESSAGE\n\nstill alive' > "$D/alive.sip"
out=$(timeout 20 python3 "$HERE/sip_peer.py" "$LAB_IP_A:5060" "$D/alive.sip" 2>&1 || true)
check "after all messages a MESSAGE still federates with 200" contains "$out" "SIP/2.0 200"
finish
