#!/usr/bin/env bash
# A partner company behind its own record-routing edge: a real Kamailio
# (peer.test, tests/integration/kamailio/edge.cfg) in front of the partner's UC
# server (real sipp over TCP). The partner subscribes to a.test presence
# through its edge and the gateway; the gateway's NOTIFYs must follow the
# dialog's route set to that edge node and reuse the connection the dialog
# came in on (issue 10 §6): peer.test has no DNS records at all here, so
# nothing else could deliver them. The unsubscribe comes back through both
# edges inside the dialog. Own loopback addresses: 127.0.20.1 (a.test),
# 127.0.21.1 (Kamailio). usage: kamailio_edge_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$(cd "$1" && pwd)
D=$FEDGW_TEST_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
IP_A=127.0.20.1
IP_EDGE=127.0.21.1

make_certs "$D/certs"
start_dnsmasq "$D" --srv-host=_sipfederationtls._tcp.a.test,gw.a.test,5061,10,10 --host-record=gw.a.test,"$IP_A"
gateway_config "$D" a a.test "$IP_A" good
start_fedgw "$BIN" "$D/a.textproto" "$D/a.log"
A=("$BIN/fedctl" --socket "$D/a.sock")
"$BIN/fedua" --gateway "$IP_A:5060" --domain a.test -q serve 120 > "$D/uc-a.out" 2>&1 &
LAB_PIDS+=($!)
wait_for_log "$D/uc-a.out" "serve: OPTIONS sip:a.test -> 200"

sed "s|@CERTS@|$D/certs|g" "$HERE/kamailio/tls.cfg.in" > "$D/kamailio-tls.cfg"
kamailio -f "$HERE/kamailio/edge.cfg" -A "TLS_CFG=\"$D/kamailio-tls.cfg\"" \
  -A "A_GW=\"sip:$IP_A:5061;transport=tls\"" -DD -E -m 64 -M 8 -n 1 > "$D/kamailio.log" 2>&1 &
LAB_PIDS+=($!)
edge_up() {
  local i
  for i in $(seq 1 50); do
    (exec 3<>/dev/tcp/$IP_EDGE/5070) 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$D/kamailio.log" >&2
  return 1
}
check "the Kamailio edge of peer.test is up" edge_up

# 5 partner users subscribe to bob@a.test: SUBSCRIBE, 200 + NOTIFY (PIDF open)
# back along the route set, unsubscribe in the dialog, final NOTIFY.
rc=0
(cd "$D" && timeout 60 sipp -sf "$HERE/sipp/subscribe_uac.xml" -key user carol -key domain peer.test \
  -key to_domain a.test -t t1 -i 127.0.0.1 -p 15072 -s bob -m 5 -r 5 -l 5 -timeout 40s -trace_err -nostdin \
  "$IP_EDGE:5070" > sipp.out 2>&1) || rc=$?
check "sipp behind Kamailio: 5 SUBSCRIBE/NOTIFY/unsubscribe dialogs through both edges (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || { tail -20 "$D/sipp.out"; cat "$D"/*_errors.log 2>/dev/null | tail -30; tail -20 "$D/kamailio.log"; }
check "the partner edge connected with its peer.test certificate" \
  grep -q "inbound connection up: peer.test.* at $IP_EDGE:" "$D/a.log"
check "NOTIFYs reused the connection the dialogs came in on (no DNS, no new connection)" \
  bash -c '! grep -q "outbound connection up" "$1"' _ "$D/a.log"
check "no DNS lookup of peer.test was needed" bash -c '! grep -q "DNS: .*peer.test" "$1"' _ "$D/a.log"
status=$("${A[@]}" status)
check "no 4xx/5xx answered on either side (fedctl status)" \
  bash -c 'grep -q "4xx 0, 5xx 0, 6xx 0" <<<"$1"' _ "$status"
finish
