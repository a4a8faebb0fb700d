#!/usr/bin/env bash
# Federation readiness check end to end: real fedgw, real dnsmasq on loopback,
# certificates generated with openssl. usage: readiness_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$1
D=$FEDGW_TEST_DIR
SOCK=$D/control.sock
CTL=("$BIN/fedctl" --socket "$SOCK")

make_certs "$D/certs"
# a.test publishes its federation record; b.test publishes nothing.
start_dnsmasq "$D" \
  --srv-host=_sipfederationtls._tcp.a.test,gw.a.test,5061,10,10 \
  --host-record=gw.a.test,127.0.0.2

# config NAME CERT PORT [EXTRA]: a DIRECT config using CERT and listener port PORT.
config() {
  cat > "$D/$1.textproto" <<CFG
mode: DIRECT
domains: "a.test"
certificate { cert_file: "$D/certs/$2.pem" key_file: "$D/certs/$2.key" ca_bundle: "$D/certs/ca.pem" }
internal_listener { bind_ip: "127.0.10.1" port: 5060 transport: TCP }
federation_listener { bind_ip: "127.0.0.2" port: $3 transport: MTLS }
dns { servers: "127.0.0.1:$DNSMASQ_PORT" timeout_ms: 500 tries: 1 }
control_socket: "$SOCK"
${4:-}
CFG
}

config good good 5061
start_fedgw "$BIN" "$D/good.textproto" "$D/fedgw.log"
PID=$FEDGW_LAST_PID

rc=0; out=$("${CTL[@]}" check) || rc=$?
echo "$out" | sed 's/^/    | /'
check "consistent set-up: check exits 0" [ "$rc" -eq 0 ]
check "shows the DNS host IP" contains "$out" "DNS host IP: 127.0.0.2"
check "shows the DNS port" contains "$out" "DNS port: 5061"
check "shows the record used" contains "$out" "_sipfederationtls._tcp.a.test SRV -> gw.a.test:5061"
check "says consistent" contains "$out" "Result: consistent"
check "real DNS was asked" grep -q "query\[SRV\] _sipfederationtls._tcp.a.test" "$DNSMASQ_LOG"
for _ in $(seq 1 50); do grep -q "federation readiness (start-up)" "$D/fedgw.log" && break; sleep 0.1; done
check "start-up check logged" grep -q "INFO  check: federation readiness (start-up): consistent" "$D/fedgw.log"
check "start-up check logged the fields" grep -qF "INFO  check: federation readiness (start-up): consistent (a.test: DNS host IP 127.0.0.2, DNS port 5061" "$D/fedgw.log"

# A new served domain reaches the certificate manager: its warnings name it.
config more good 5061 'domains: "c.test"'
check "apply adding c.test" "${CTL[@]}" config apply "$D/more.textproto"
# One summary entry plus one per problem, logged before apply answered.
applied=$("${CTL[@]}" log | awk -v s="config: applied $D/more.textproto" 'index($0, s) { on = 1 } on')
echo "$applied" | sed 's/^/    | /'
check "apply wrote a summary and one problem" [ "$(wc -l <<<"$applied")" -eq 2 ]
check "apply summary" contains "$applied" "WARN  config: applied $D/more.textproto (mode DIRECT, domains a.test,c.test; changed: domains); federation readiness: NOT consistent, 1 problem(s)"
check "apply problem" contains "$applied" "WARN  check: domain c.test is not a name of the certificate (names: a.test, gw.a.test)"
rc=0; out=$("${CTL[@]}" cert reload 2>&1) || rc=$?
check "cert reload warns about the new domain" contains "$out" "WARN: certificate does not cover the served domain c.test"
# A certificate change with problems: one certificate entry, the summary and one entry per
# readiness problem; nothing twice (was 9 entries for this apply: the certificate's warnings
# one by one and the resolver's "no federation record" next to the check's).
config mixed mixed 5061
check "apply a certificate with problems" "${CTL[@]}" config apply "$D/mixed.textproto"
# From the certificate entry (the apply's first) to the end of the 30-entry window.
applied=$("${CTL[@]}" log | awk -v s="config apply: certificate \"CN=b.test" 'index($0, s) { on = 1 } on')
echo "$applied" | sed 's/^/    | /'
problems=$(sed -n 's/.*NOT consistent, \([0-9]*\) problem(s).*/\1/p' <<<"$applied")
check "certificate apply: one cert entry, a summary and ${problems:-?} problems, nothing else" \
  [ "$(wc -l <<<"$applied")" -eq $((2 + ${problems:-99})) ]
check "the certificate entry names its warnings" contains "$applied" "is now in use, replacing"
check "no separate resolver entry" bash -c '! grep -q "dns: DNS: .*no federation record" <<<"$1"' _ "$applied"
check "apply the good certificate again" "${CTL[@]}" config apply "$D/more.textproto"

# Port mismatch (listener changes need a restart: apply refuses them).
config port good 5062
rc=0; out=$("${CTL[@]}" config apply "$D/port.textproto" 2>&1) || rc=$?
check "listener change refused by apply" contains "$out" "federation_listener: changing 127.0.0.2:5061 MTLS to 127.0.0.2:5062 MTLS needs a restart"
stop_pid "$PID" TERM || true
start_fedgw "$BIN" "$D/port.textproto" "$D/fedgw-port.log"
PID=$FEDGW_LAST_PID
rc=0; out=$("${CTL[@]}" check) || rc=$?
check "port mismatch: check exits 1" [ "$rc" -eq 1 ]
check "port mismatch named" contains "$out" "a.test: DNS port 5061 differs from the open-federation listener port 5062"

# A certificate whose domain has no federation record: nothing found, queries listed.
config other peer 5062 'domains: "b.test"'
sed -i 's/domains: "a.test"//' "$D/other.textproto"
check "apply with the b.test certificate" "${CTL[@]}" config apply "$D/other.textproto"
rc=0; out=$("${CTL[@]}" check) || rc=$?
check "no record: check exits 1" [ "$rc" -eq 1 ]
check "no record explained" contains "$out" "nothing found: the DNS-SRV record may not match the certificate or may not be present"
check "queries listed" contains "$out" "query: DNS: _sipfederationtls._tcp.b.test SRV: NXDOMAIN"
check "fallback queries listed" contains "$out" "query: DNS: _sips._tcp.b.test SRV: NXDOMAIN"
check "check after apply logged" grep -q "WARN  config: applied $D/other.textproto (.*); federation readiness: NOT consistent" "$D/fedgw-port.log"

# An expired certificate is refused by apply as a whole; the running config stays.
config expired expired 5062
before=$("${CTL[@]}" config show)
rc=0; out=$("${CTL[@]}" config apply "$D/expired.textproto" 2>&1) || rc=$?
check "expired certificate refused" [ "$rc" -eq 1 ]
check "expiry named" contains "$out" "certificate: certificate expired"
check "running config unchanged" [ "$before" = "$("${CTL[@]}" config show)" ]

# A certificate without clientAuth (serverAuth only, as public CAs issue them): refused only when
# certificate.require_client_auth_eku asks for it.
config noclient noclient 5062
sed -i 's|ca_bundle: "\([^"]*\)" }|ca_bundle: "\1" require_client_auth_eku: true }|' "$D/noclient.textproto"
rc=0; out=$("${CTL[@]}" config apply "$D/noclient.textproto" 2>&1) || rc=$?
check "no-clientAuth certificate refused when required" contains "$out" "lacks the clientAuth extended key usage"

# A dead DNS server (a loopback UDP port that never answers): fedctl check waits
# as long as the configured timeouts need (4 s, then 8 s: c-ares doubles the
# timeout per try; more than the 10 s the control server used to allow) and
# prints the diagnosis, not a timeout.
stop_pid "$PID" TERM || true
python3 -c 'import socket, signal
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True); signal.pause()' > "$D/dead.port" &
LAB_PIDS+=("$!")
for _ in $(seq 1 100); do [ -s "$D/dead.port" ] && break; sleep 0.05; done
config dead good 5061
sed -i "s|dns { .* }|dns { servers: \"127.0.0.1:$(cat "$D/dead.port")\" timeout_ms: 4000 tries: 2 }|" "$D/dead.textproto"
start_fedgw "$BIN" "$D/dead.textproto" "$D/fedgw-dead.log"
PID=$FEDGW_LAST_PID
rc=0; out=$("${CTL[@]}" check 2>&1) || rc=$?
echo "$out" | sed 's/^/    | /'
check "dead DNS: check exits 1" [ "$rc" -eq 1 ]
check "dead DNS: no timeout of the waiters" bash -c '! grep -qE "check failed|request_timeout|did not answer" <<<"$1"' _ "$out"
check "dead DNS: the query's diagnosis" contains "$out" "query: DNS: _sipfederationtls._tcp.a.test SRV: server 127.0.0.1:$(cat "$D/dead.port") timed out after 2 tries (4000 ms each)"
check "dead DNS: nothing found" contains "$out" "Result: NOT consistent"

# cert reload: a bad file is refused and the old certificate stays in use.
stop_pid "$PID" TERM || true
mkdir -p "$D/live"
cp "$D/certs/good.pem" "$D/live/gw.pem"; cp "$D/certs/good.key" "$D/live/gw.key"
config live good 5061
sed -i "s|$D/certs/good.pem|$D/live/gw.pem|; s|$D/certs/good.key|$D/live/gw.key|" "$D/live.textproto"
start_fedgw "$BIN" "$D/live.textproto" "$D/fedgw2.log"
cp "$D/certs/expired.pem" "$D/live/gw.pem"; cp "$D/certs/expired.key" "$D/live/gw.key"
rc=0; out=$("${CTL[@]}" cert reload 2>&1) || rc=$?
check "reload of an expired certificate fails" [ "$rc" -eq 1 ]
check "reload says the old one stays" contains "$out" "previous one stays in use"
rc=0; out=$("${CTL[@]}" check) || rc=$?
check "check still consistent with the old certificate" [ "$rc" -eq 0 ]
cp "$D/certs/good.pem" "$D/live/gw.pem"; cp "$D/certs/good.key" "$D/live/gw.key"
check "reload of a good certificate succeeds" "${CTL[@]}" cert reload

# Changed files are noticed without a command, and the check runs again.
cp "$D/certs/peer.pem" "$D/live/gw.pem"; cp "$D/certs/peer.key" "$D/live/gw.key"
for _ in $(seq 1 150); do grep -q "federation readiness (certificate files changed)" "$D/fedgw2.log" && break; sleep 0.1; done
check "file change reloaded the certificate" grep -q "certificate files changed: certificate \"CN=gw.b.test" "$D/fedgw2.log"
check "file change re-ran the check" grep -q "WARN  check: federation readiness (certificate files changed): NOT consistent" "$D/fedgw2.log"
finish
