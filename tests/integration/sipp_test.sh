#!/usr/bin/env bash
# Debian's sipp (TCP only) drives the internal side of the a.test gateway with
# this project's MESSAGE and SUBSCRIBE/NOTIFY scenarios; b.test's UC server is
# fedua. usage: sipp_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$(cd "$1" && pwd)
D=$FEDGW_TEST_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_IP_A=127.0.7.1
LAB_IP_B=127.0.8.1
LAB_EXTRA_CONFIG='partners { allowed: "a.test" allowed: "b.test" }'
lab_federation "$BIN" "$D"
"$BIN/fedua" --gateway "$LAB_IP_B:5060" --domain b.test --presence open -q serve 120 > "$D/uc-b.out" 2>&1 &
LAB_PIDS+=($!)
wait_for_log "$D/uc-b.out" "serve: OPTIONS sip:b.test -> 200"

cd "$D"
rc=0
timeout 60 sipp -sf "$HERE/sipp/message_uac.xml" -t t1 -i 127.0.0.1 -p 15060 -s bob \
  -m 500 -r 100 -l 50 -timeout 50s -trace_stat -stf message.csv -trace_err -nostdin \
  "$LAB_IP_A:5060" > sipp-message.out 2>&1 || rc=$?
check "sipp: 500 MESSAGEs answered 200 (exit $rc)" [ "$rc" -eq 0 ] || true
[ "$rc" -eq 0 ] || { tail -30 sipp-message.out; ls; cat *errors* 2>/dev/null | tail -20; }
status=$("$BIN/fedctl" --socket "$D/a.sock" status)
check "gateway counted the 500 requests" bash -c 'grep -Eq "requests in ([5-9][0-9]{2}|[0-9]{4,})" <<<"$1"' _ "$status"

rc=0
timeout 60 sipp -sf "$HERE/sipp/subscribe_uac.xml" -key user alice -key domain a.test -key to_domain b.test -t t1 -i 127.0.0.1 -p 15062 -s bob \
  -m 20 -r 10 -l 5 -timeout 50s -trace_stat -stf subscribe.csv -trace_err -nostdin \
  "$LAB_IP_A:5060" > sipp-subscribe.out 2>&1 || rc=$?
check "sipp: 20 SUBSCRIBE/NOTIFY/unsubscribe dialogs succeeded (exit $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || { tail -12 sipp-subscribe.out; cat *errors* 2>/dev/null | head -40; }
finish
