#!/usr/bin/env bash
# The admin pages in a real browser: a real fedgw for a.test (127.0.50.1) with its admin_http listener, a
# partner gateway b.test (127.0.50.2), a third gateway in SIP_PROXY mode with its own admin listener
# (127.0.50.3), fedua UC servers, dnsmasq for the SRV records, and Debian's Chromium (headless) driven by
# playwright-core (tests/integration/admin/browser.mjs). Logs in, checks the overview against fedctl check,
# applies / refuses / cancels on the settings page and compares with fedctl config show, uses the proxy
# dialog, watches the message window get a new entry, uses the partner actions. A PNG screenshot of each
# page goes to BUILD/test-artifacts/admin/ (and to docs/screenshots/ with UPDATE_SCREENSHOTS=1).
# usage: admin_browser_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
D=$FEDGW_TEST_DIR
NODE_DIR=$SRC/tests/integration/admin
ARTIFACTS=${ADMIN_ARTIFACTS:-$(dirname "$BIN")/test-artifacts/admin}
IP_A=127.0.50.1
IP_B=127.0.50.2
IP_C=127.0.50.3
ADMIN_PORT=8080
PASSWORD="admin-pw-$RANDOM$RANDOM"

die() { echo "FAIL: $*" >&2; exit 1; }
command -v node >/dev/null || die "node is missing: run scripts/install-deps.sh"
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing: run scripts/install-deps.sh (Debian package chromium)"
[ -f "$NODE_DIR/node_modules/playwright-core/package.json" ] ||
  die "playwright-core is not installed in $NODE_DIR: run scripts/install-deps.sh (npm ci there)"

make_certs "$D/certs"
cp "$D/certs/ca.pem" "$D/certs/ca-copy.pem"   # the valid change the settings page applies
start_dnsmasq "$D" \
  --srv-host=_sipfederationtls._tcp.a.test,gw.a.test,5061,10,10 --host-record=gw.a.test,$IP_A \
  --srv-host=_sipfederationtls._tcp.b.test,b.test,5061,10,10 --host-record=b.test,$IP_B
HASH=$(printf '%s\n' "$PASSWORD" | "$BIN/fedctl" hash-password) || die "fedctl hash-password failed"
gateway_config "$D" a a.test $IP_A good \
  "admin_http { bind_ip: \"$IP_A\" port: $ADMIN_PORT password_hash: \"$HASH\" }"
gateway_config "$D" b b.test $IP_B peer
# A third gateway in SIP_PROXY mode, for the proxy session block and the Configure... dialog with values. Its
# proxy (127.0.50.9) does not exist: the session stays disconnected (a refused loopback connection).
cat > "$D/c.textproto" <<CFG
mode: SIP_PROXY
domains: "a.test"
certificate { cert_file: "$D/certs/good.pem" key_file: "$D/certs/good.key" ca_bundle: "$D/certs/ca.pem" }
internal_listener { bind_ip: "$IP_C" port: 5060 transport: TCP }
dns { servers: "127.0.0.1:$DNSMASQ_PORT" timeout_ms: 500 tries: 1 }
sip_proxy {
  username: "gw" password: "proxy-secret" interface: "$IP_C" ip: "127.0.50.9" port: 5061 transport: MTLS
  server_name: "proxy.test" incoming { bind_ip: "$IP_C" port: 5090 transport: MTLS }
}
admin_http { bind_ip: "$IP_C" port: $ADMIN_PORT password_hash: "$HASH" }
control_socket: "$D/c.sock"
CFG
start_fedgw "$BIN" "$D/a.textproto" "$D/a.log" || die "fedgw a.test did not start"
GW_A_PID=$FEDGW_LAST_PID
start_fedgw "$BIN" "$D/b.textproto" "$D/b.log" || die "fedgw b.test did not start"
start_fedgw "$BIN" "$D/c.textproto" "$D/c.log" || die "fedgw in SIP_PROXY mode did not start"
CTL=("$BIN/fedctl" --socket "$D/a.sock")
for ip in $IP_A $IP_C; do
  wait_until 10 bash -c "exec 3<>/dev/tcp/$ip/$ADMIN_PORT" 2>/dev/null || die "the admin listener $ip:$ADMIN_PORT did not open; logs:
$(cat "$D/a.log" "$D/c.log")"
done
# A UC server behind each gateway and a chat between them: a UC server connection, a partner connection
# and moving counters for the pages.
"$BIN/fedua" --gateway $IP_A:5060 --domain a.test serve > "$D/uc-a.out" 2>&1 &
LAB_PIDS+=("$!")
"$BIN/fedua" --gateway $IP_B:5060 --domain b.test serve > "$D/uc-b.out" 2>&1 &
LAB_PIDS+=("$!")
wait_until 10 bash -c "\"$BIN/fedua\" --gateway $IP_A:5060 --domain a.test --user alice --timeout 2 send bob@b.test hello bob | grep -q '200 OK'" ||
  die "alice's chat to bob@b.test did not get through; logs: $(cat "$D/a.log" "$D/uc-b.out")"
"$BIN/fedua" --gateway $IP_B:5060 --domain b.test --user bob send alice@a.test hello alice | sed 's/^/    | /'
out=$("${CTL[@]}" send-test b.test 2>&1) || die "send-test b.test failed: $out"
echo "    | send-test b.test: $out"
"${CTL[@]}" check | sed 's/^/    | /' || true

rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS" "$D/xdg"
# Chromium gets a fresh profile and home in the test's directory; it only ever talks to the admin listener
# (browser.mjs aborts any other request; the flags turn off Chromium's own background connections).
rc=0
( cd "$NODE_DIR" && exec env HOME="$D/xdg" XDG_CONFIG_HOME="$D/xdg" XDG_CACHE_HOME="$D/xdg" \
    ADMIN_URL="http://$IP_A:$ADMIN_PORT" ADMIN_PASSWORD="$PASSWORD" FEDCTL="$BIN/fedctl" FEDCTL_SOCKET="$D/a.sock" \
    ARTIFACTS="$ARTIFACTS" PROFILE_DIR="$D/chromium-profile" EXPECT_SUBJECT=gw.a.test \
    EXPECT_DNS_IP=$IP_A EXPECT_DNS_PORT=5061 NEW_CA_BUNDLE="$D/certs/ca-copy.pem" \
    PARTNER=b.test PARTNER_SUBJECT=gw.b.test \
    PROXY_URL="http://$IP_C:$ADMIN_PORT" PROXY_SOCKET="$D/c.sock" PROXY_EXPECT="ip=127.0.50.9 port=5061 transport=MTLS server=proxy.test interface=$IP_C incoming=$IP_C:5090" \
    node browser.mjs ) &
NODE_PID=$!
LAB_PIDS+=("$NODE_PID")
wait "$NODE_PID" || rc=$?
running=()
for pid in "${LAB_PIDS[@]}"; do [ "$pid" = "$NODE_PID" ] || running+=("$pid"); done
LAB_PIDS=("${running[@]}")
[ "$rc" -eq 0 ] || fail "browser checks (exit status $rc; see the lines above)"

shots=$(find "$ARTIFACTS" -name '*.png' | wc -l)
check "six screenshots in $ARTIFACTS" [ "$shots" -eq 6 ]
if [ "${UPDATE_SCREENSHOTS:-0}" = 1 ] && [ "$rc" -eq 0 ]; then
  mkdir -p "$SRC/docs/screenshots"
  cp "$ARTIFACTS"/*.png "$SRC/docs/screenshots/"
  echo "screenshots copied to $SRC/docs/screenshots/"
fi
check "a.test's gateway still running" kill -0 "$GW_A_PID"
finish
