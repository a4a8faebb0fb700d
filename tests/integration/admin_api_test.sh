#!/usr/bin/env bash
# The admin listener's HTTP API against a real gateway pair (a.test with admin_http, b.test), real
# mutual TLS and fedua traffic: the JSON equals what fedctl reports, logins, sessions, CSRF and
# cross-site refusals, size limits, an apply with a bad field changes nothing, peers show with the
# partner's certificate, and /metrics in the Prometheus text format.
# usage: admin_api_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$1
D=$FEDGW_TEST_DIR
PY=/usr/bin/python3
ADMIN=127.0.51.1:8080
URL=http://$ADMIN
PASSWORD='correct horse battery'
HASH=$(printf '%s\n' "$PASSWORD" | "$BIN/fedctl" hash-password)
check "hash-password prints a PBKDF2 hash" contains "$HASH" 'pbkdf2-sha256$200000$'
rc=0; printf '' | "$BIN/fedctl" hash-password >/dev/null 2>&1 || rc=$?
check "hash-password refuses an empty password" [ "$rc" -eq 2 ]

LAB_IP_A=127.0.51.1 LAB_IP_B=127.0.52.1 \
  LAB_EXTRA_CONFIG_A="admin_http { bind_ip: \"127.0.51.1\" port: 8080 password_hash: \"$HASH\" }" \
  lab_federation "$BIN" "$D"
A=("$BIN/fedctl" --socket "$D/a.sock")
UA_A=("$BIN/fedua" --gateway 127.0.51.1:5060 --domain a.test --timeout 10)
UA_B=("$BIN/fedua" --gateway 127.0.52.1:5060 --domain b.test --timeout 10)
start_uc_servers 60
out=$("${UA_A[@]}" --user alice send bob@b.test "hello" 2>&1) || true
check "a chat crosses the federation" contains "$out" "-> 200 OK"

status=$("${A[@]}" status)
check "fedctl status lists the admin listener" contains "$status" "admin_http          127.0.51.1:8080"
check "fedctl status shows the certificate" contains "$status" "certificate: CN=gw.a.test"
check "fedctl status shows the UC server connection" contains "$status" "UC server connections: 127."

# code METHOD PATH [curl args...]: the HTTP status code.
code() { local m=$1 p=$2; shift 2; curl -s -o "$D/body" -w '%{http_code}' -X "$m" "$@" "$URL$p"; }
JAR=$D/jar

# Without a session: pages yes, API no, metrics yes.
check "GET /overview without login: 200" [ "$(code GET /overview)" = 200 ]
check "the page is the built-in file" grep -q '<script src="/static/app.js"' "$D/body"
headers=$(curl -s -D - -o /dev/null "$URL/overview")
check "Content-Security-Policy allows only the gateway's own scripts" contains "$headers" "Content-Security-Policy: default-src 'none'; script-src 'self'"
check "GET /api/status without login: 401" [ "$(code GET /api/status)" = 401 ]
check "401 says why" grep -qF '{"error":"login required"}' "$D/body"
check "POST /api/config/apply without login: 401" [ "$(code POST /api/config/apply -H 'Content-Type: application/json' -d '{}')" = 401 ]
check "PUT is refused: 405" [ "$(code PUT /api/status)" = 405 ]
check "an unknown page: 404" [ "$(code GET /nothing)" = 404 ]

# Login: wrong password, then the right one.
check "wrong password: 401" [ "$(code POST /api/login -H 'Content-Type: application/json' -d '{"password":"nope"}')" = 401 ]
check "a cross-site login: 403" [ "$(code POST /api/login -H 'Content-Type: application/json' -H 'Origin: http://evil.test' -d "{\"password\":\"$PASSWORD\"}")" = 403 ]
check "right password: 200" [ "$(code POST /api/login -c "$JAR" -H 'Content-Type: application/json' -d "{\"password\":\"$PASSWORD\"}")" = 200 ]
TOKEN=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrfToken"])' "$D/body")
check "the session cookie is HttpOnly" grep -q '#HttpOnly_127.0.51.1' "$JAR"
check "the login is in the message window" wait_for_log "$D/a.log" "admin page: login from 127.0.0.1" 1 5
check "the wrong password is in the message window" grep -q "admin page: wrong password from 127.0.0.1" "$D/a.log"

get() { curl -s -b "$JAR" "$URL$1"; }
post() { local p=$1 body=$2; shift 2; curl -s -b "$JAR" -H "X-CSRF-Token: $TOKEN" -H 'Content-Type: application/json' -d "$body" "$@" "$URL$p"; }
pyjson() { $PY -c "import json,sys; r=json.load(sys.stdin); $1"; }

# The JSON is the control API's Response: compare with what fedctl prints.
get /api/status > "$D/status.json"
check "status: domains and mode" pyjson 'assert r["status"]["domains"]==["a.test"] and r["status"]["mode"]=="DIRECT", r' < "$D/status.json"
check "status: certificate subject as fedctl status" pyjson "assert r['status']['certificate']['subject'] in '''$status''', r['status']['certificate']" < "$D/status.json"
check "status: every listener fedctl lists" pyjson "assert all(l['address'] in '''$status''' for l in r['status']['listeners']), r" < "$D/status.json"
check "status: requests counted" pyjson 'assert int(r["status"]["counters"]["requestsIn"])>=1, r' < "$D/status.json"
fedctl_check=$("${A[@]}" check)
get /api/check > "$D/check.json"
check "check: the same lines as fedctl check" pyjson "assert '\n'.join(r['readiness']['lines'])=='''$fedctl_check''', r['readiness']['lines']" < "$D/check.json"
check "check: DNS host IP and port of the certificate's name" pyjson 'n=[n for n in r["readiness"]["names"] if n["served"]][0]; assert n["hostIp"]=="127.0.51.1" and n["port"]==5061, n' < "$D/check.json"
fedctl_log=$("${A[@]}" log)
get /api/log > "$D/log.json"
check "log: the entries fedctl log shows (window of 30)" pyjson "lines=[e['line'] for e in r['log']['entries']]; assert len(lines)<=30 and lines[0] in '''$fedctl_log''', lines[:2]" < "$D/log.json"
get /api/interfaces > "$D/interfaces.json"
check "interfaces: loopback with its addresses" pyjson 'assert any("127.0.0.1" in i["addresses"] for i in r["interfaces"]["interfaces"]), r' < "$D/interfaces.json"
get /api/config > "$D/config.json"
check "config: the running config as a message" pyjson 'assert r["config"]["federationListener"]["bindIp"]=="127.0.51.1", r' < "$D/config.json"
check "config: the admin password hash never reaches the page" bash -c '! grep -q "pbkdf2" "$1"' _ "$D/config.json"

# Partners: the table and one partner's certificate (fedctl peers show).
get /api/peers > "$D/peers.json"
check "peers: b.test up with its certificate" pyjson 'p=[p for p in r["peers"]["peers"] if p["domain"]=="b.test"][0]; assert p["state"]=="up" and "CN=" in p["certificateSubject"] and len(p["certificateFingerprint"])==95, p' < "$D/peers.json"
show=$("${A[@]}" peers show b.test)
check "fedctl peers show: subject" contains "$show" "subject:"
check "fedctl peers show: issuer" contains "$show" "issuer:"
check "fedctl peers show: expiry" contains "$show" "days left"
fingerprint=$($PY -c 'import json,sys; print([p for p in json.load(sys.stdin)["peers"]["peers"] if p["domain"]=="b.test"][0]["certificateFingerprint"])' < "$D/peers.json")
check "fedctl peers show: the same fingerprint as the API" contains "$show" "sha256:      $fingerprint"
check "GET /api/peers?domain=b.test: one domain" bash -c "curl -s -b '$JAR' '$URL/api/peers?domain=b.test' | $PY -c 'import json,sys; r=json.load(sys.stdin); assert {p[\"domain\"] for p in r[\"peers\"][\"peers\"]}=={\"b.test\"}, r'"
rc=0; out=$("${A[@]}" peers show nowhere.test 2>&1) || rc=$?
check "fedctl peers show of an unknown domain: exit 1, says so" bash -c '[ "$1" -eq 1 ] && grep -q "no partner domain nowhere.test is known" <<<"$2"' _ "$rc" "$out"

# Changes need the CSRF token, JSON and no foreign Origin.
check "POST without the CSRF token: 403" [ "$(code POST /api/cert/reload -b "$JAR" -H 'Content-Type: application/json' -d '{}')" = 403 ]
check "POST as a form: 415" [ "$(code POST /api/cert/reload -b "$JAR" -H "X-CSRF-Token: $TOKEN" -H 'Content-Type: application/x-www-form-urlencoded' -d 'a=b')" = 415 ]
check "cross-site POST: 403" [ "$(code POST /api/cert/reload -b "$JAR" -H "X-CSRF-Token: $TOKEN" -H 'Content-Type: application/json' -H 'Origin: http://evil.test' -d '{}')" = 403 ]
check "the cross-site POST is logged" wait_for_log "$D/a.log" "refused a cross-site /api/cert/reload" 1 5
head -c 70000 /dev/zero | tr '\0' ' ' > "$D/big.json"
check "a body over 64 KiB: 413" [ "$(code POST /api/config/apply -b "$JAR" -H "X-CSRF-Token: $TOKEN" -H 'Content-Type: application/json' --data-binary @"$D/big.json")" = 413 ]
check "a request line of 40 KB is refused" bash -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$URL/overview?x=$(head -c 40000 /dev/zero | tr '\0' a)') -ge 400 ]"

# Apply: a bad field changes nothing; a good change is applied like fedctl config apply.
before=$("${A[@]}" config show)
bad=$($PY -c 'import json,sys; c=json.load(open(sys.argv[1]))["config"]; c["dns"]["timeoutMs"]=0; c["domains"].append("bad domain"); print(json.dumps({"config":c}))' "$D/config.json")
post /api/config/apply "$bad" > "$D/apply.json"
check "apply with bad fields: each field: problem line" pyjson 'e=r["configResult"]["errors"]; assert any(x.startswith("domains") and "bad domain" in x for x in e) and r["error"].endswith("found"), r' < "$D/apply.json"
check "apply with a bad field changed nothing" [ "$("${A[@]}" config show)" = "$before" ]
good=$($PY -c 'import json,sys; c=json.load(open(sys.argv[1]))["config"]; c["partners"]["blocked"]=["spam.test"]; print(json.dumps({"config":c}))' "$D/config.json")
post /api/config/apply "$good" > "$D/apply.json"
check "apply of a good change: no errors" pyjson 'assert r["error"]=="" and r["configResult"]["errors"]==[], r' < "$D/apply.json"
check "fedctl config show has the change" contains "$("${A[@]}" config show)" 'blocked: "spam.test"'
check "the apply is logged with its source" wait_for_log "$D/a.log" "admin page (127.0.0.1)" 1 5

# Partner actions.
post /api/peers/test '{"domain":"b.test"}' > "$D/test.json"
check "send test: 200 from b.test" pyjson 'assert r["sendTest"]["status"]==200, r' < "$D/test.json"
post /api/peers/reset '{"domain":"b.test"}' > "$D/reset.json"
check "reset back-off: a notice" pyjson 'assert "b.test" in r["notice"], r' < "$D/reset.json"
post /api/peers/close '{"domain":"b.test"}' > "$D/close.json"
check "close connection: a notice" pyjson 'assert "b.test" in r["notice"], r' < "$D/close.json"

# /metrics: the Prometheus text format, the same as fedctl metrics; needs no login.
curl -s "$URL/metrics" > "$D/metrics.txt"
check "/metrics parses as the Prometheus text format" $PY -c 'import sys; from prometheus_client.parser import text_string_to_metric_families as p; n=len(list(p(open(sys.argv[1]).read()))); assert n>5, n' "$D/metrics.txt"
check "/metrics and fedctl metrics name the same families" bash -c 'diff <(grep "^# TYPE" "$1") <("$2" --socket "$3" metrics | grep "^# TYPE")' _ "$D/metrics.txt" "$BIN/fedctl" "$D/a.sock"

# Logout ends the session.
post /api/logout '{}' >/dev/null
check "after logout: 401" [ "$(code GET /api/status -b "$JAR")" = 401 ]
# The apply above sent the hash back as "***": the running one was kept, so the password still works.
check "the password still logs in after the page's apply" [ "$(code POST /api/login -H 'Content-Type: application/json' -d "{\"password\":\"$PASSWORD\"}")" = 200 ]

# A slow client does not hold up the data path: an idle connection open while chatting.
exec 7<>/dev/tcp/127.0.51.1/8080
out=$("${UA_A[@]}" --user alice send bob@b.test "while a slow admin client waits" 2>&1) || true
check "chat while an admin connection idles" contains "$out" "-> 200 OK"
exec 7>&-

finish
