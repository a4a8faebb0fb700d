#!/usr/bin/env bash
# Prometheus metrics end to end: two real gateways (a.test 127.0.40.1, b.test 127.0.40.2) with mutual
# TLS, a real DNS server and fedua UC servers; real traffic; `fedctl metrics` scraped before and after
# and parsed by the Prometheus client's own text-format parser (Debian's python3-prometheus-client).
# usage: metrics_test.sh BIN_DIR
source "$(dirname "$0")/lib.sh"
BIN=$1
D=$FEDGW_TEST_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
LAB_IP_A=127.0.40.1
LAB_IP_B=127.0.40.2
lab_federation "$BIN" "$D"
A=("$BIN/fedctl" --socket "$D/a.sock")
B=("$BIN/fedctl" --socket "$D/b.sock")
UA_A=("$BIN/fedua" --gateway $LAB_IP_A:5060 --domain a.test --timeout 10)
UA_B=("$BIN/fedua" --gateway $LAB_IP_B:5060 --domain b.test --timeout 10)
PY=/usr/bin/python3
$PY -c 'from prometheus_client.parser import text_string_to_metric_families' ||
  { echo "python3-prometheus-client is missing (scripts/install-deps.sh)" >&2; exit 1; }

"${A[@]}" metrics > "$D/a-before.prom"
check "fedctl metrics answers" grep -q '^fedgw_build_info{version=' "$D/a-before.prom"

start_uc_servers 120

# Traffic: 5 MESSAGEs a.test -> b.test, one to a domain without federation records (404), one to a
# partner whose certificate does not name it (503), one body over the limit (413, answered by the
# connection itself).
for i in 1 2 3 4 5; do
  out=$("${UA_A[@]}" --user alice send bob@b.test "hello $i" 2>&1) || true
  check "alice -> bob #$i: 200" contains "$out" "-> 200 OK"
done
out=$("${UA_A[@]}" --user alice send carol@nowhere.test "hi" 2>&1) || true
check "NXDOMAIN -> 404" contains "$out" "404 Not Found"
# mismatch.test's record names b.test's server, whose certificate does not name mismatch.test.
out=$("${UA_A[@]}" --user alice send dave@mismatch.test "hi" 2>&1) || true
check "certificate mismatch -> 503" contains "$out" "503"
printf 'MESSAGE sip:bob@b.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKbig\r\nMax-Forwards: 70\r\nFrom: <sip:alice@a.test>;tag=1\r\nTo: <sip:bob@b.test>\r\nCall-ID: big@test\r\nCSeq: 1 MESSAGE\r\nContent-Length: 70000\r\n\r\n' > "$D/big.sip"
check "oversized body -> 413" contains "$(python3 "$HERE/sip_peer.py" $LAB_IP_A:5060 --raw "$D/big.sip" 2>&1)" "SIP/2.0 413"

"${A[@]}" metrics > "$D/a-after.prom"
"${B[@]}" metrics > "$D/b-after.prom"
# fedctl status and /metrics read the same numbers: with no traffic in between, they agree.
"${A[@]}" status > "$D/a-status-1.txt"
"${A[@]}" metrics > "$D/a-same.prom"
"${A[@]}" status > "$D/a-status-2.txt"

cat > "$D/check.py" <<'PY'
import re, sys, time
from prometheus_client.parser import text_string_to_metric_families

d = sys.argv[1]
failures = []

def load(name):
    samples = []
    families = {}
    for f in text_string_to_metric_families(open(f"{d}/{name}").read()):  # raises on malformed text
        families[f.name] = f.type
        samples += f.samples
    return families, samples

def value(samples, name, **labels):
    """Sum of the samples named `name` whose labels include `labels`."""
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))

def check(what, ok):
    print(("ok:   " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)

_, before = load("a-before.prom")
fam_a, after = load("a-after.prom")
_, b = load("b-after.prom")
moved = lambda name, **l: value(after, name, **l) - value(before, name, **l)

check("families present", all(any(n.startswith(f) for n in fam_a) for f in (
    "fedgw_build_info", "process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds",
    "process_max_fds", "process_start_time_seconds", "fedgw_sip_requests", "fedgw_sip_responses",
    "fedgw_sip_local_responses", "fedgw_transactions_active", "fedgw_transaction_duration_seconds",
    "fedgw_partner_connections", "fedgw_tls_handshakes", "fedgw_dns_queries", "fedgw_dns_query_duration_seconds",
    "fedgw_certificate_not_after_seconds", "fedgw_policy_rejections", "fedgw_rate_limit_rejections")))
check("MESSAGEs in from the UC server moved by >= 7",
      moved("fedgw_sip_requests_total", side="internal", direction="in", method="MESSAGE") >= 7)
check("MESSAGEs out to partners moved by >= 5",
      moved("fedgw_sip_requests_total", side="external", direction="out", method="MESSAGE") >= 5)
check("2xx in from partners moved by >= 5",
      moved("fedgw_sip_responses_total", side="external", direction="in", method="MESSAGE", **{"class": "2xx"}) >= 5)
check("2xx out to the UC server moved by >= 5",
      moved("fedgw_sip_responses_total", side="internal", direction="out", method="MESSAGE", **{"class": "2xx"}) >= 5)
check("b.test: MESSAGEs in from partners >= 5",
      value(b, "fedgw_sip_requests_total", side="external", direction="in", method="MESSAGE") >= 5)
check("own 404 counted as no_dns_record",
      moved("fedgw_sip_local_responses_total", code="404", reason="no_dns_record") >= 1)
check("the connection's own 413 counted as too_large",
      moved("fedgw_sip_local_responses_total", code="413", reason="too_large") >= 1)
check("transactions started >= 6", moved("fedgw_transactions_total") >= 6)
check("transaction durations observed >= 6", moved("fedgw_transaction_duration_seconds_count") >= 6)
check("a DNS query was counted (SRV, ok)", moved("fedgw_dns_queries_total", type="SRV", result="ok") >= 1)
check("the missing record was counted (nxdomain)", moved("fedgw_dns_queries_total", result="nxdomain") >= 1)
check("DNS latency observed", moved("fedgw_dns_query_duration_seconds_count") >= 1)
check("a.test: the mismatching certificate counted as name_mismatch",
      moved("fedgw_tls_handshakes_total", side="external", direction="outbound", result="name_mismatch") >= 1)
check("a.test: outbound handshake ok",
      moved("fedgw_tls_handshakes_total", side="external", direction="outbound", result="ok") >= 1)
check("b.test: inbound handshake ok",
      value(b, "fedgw_tls_handshakes_total", side="external", direction="inbound", result="ok") >= 1)
check("a.test: connection to b.test counted as opened",
      moved("fedgw_connections_opened_total", side="external", direction="outbound") >= 1)
check("a.test: the partner table has an outbound connection up",
      value(after, "fedgw_partner_connections", direction="outbound", state="up") >= 1)
check("certificate expiry in the future", value(after, "fedgw_certificate_not_after_seconds") > time.time())
check("scrape complete", value(after, "fedgw_scrape_parts_missing") == 0)
check("process start time in the past", 0 < value(after, "process_start_time_seconds") <= time.time())
check("process has open fds", value(after, "process_open_fds") > 3)

# Never a domain, user, Call-ID or address as a label value (none is allow-listed in this lab).
unbounded = re.compile(r"\.test|@|\d+\.\d+\.\d+\.\d+|:\d+|[0-9a-f]{8,}")
bad = [(s.name, k, v) for name in ("a-after.prom", "b-after.prom") for s in load(name)[1]
       for k, v in s.labels.items() if k not in ("le", "version") and unbounded.search(v)]
check("no label value is a domain, address or user: %s" % bad[:3], not bad)

# fedctl status reads the same numbers.
def status_counts(name):
    text = open(f"{d}/{name}").read()
    m = re.search(r"requests in (\d+), out (\d+)", text)
    r = re.search(r"responses 1xx (\d+), 2xx (\d+), 3xx (\d+), 4xx (\d+), 5xx (\d+), 6xx (\d+), dropped (\d+)", text)
    return [int(x) for x in m.groups() + r.groups()]
s1, s2 = status_counts("a-status-1.txt"), status_counts("a-status-2.txt")
_, same = load("a-same.prom")
from_metrics = [value(same, "fedgw_sip_requests_total", direction="in"),
                value(same, "fedgw_sip_requests_total", direction="out")] + \
               [value(same, "fedgw_sip_responses_total", direction="out", **{"class": f"{c}xx"}) for c in range(1, 7)] + \
               [value(same, "fedgw_sip_responses_dropped_total")]
if s1 == s2:
    check("fedctl status and fedctl metrics agree (%s)" % s1, [int(x) for x in from_metrics] == s1)
else:
    print("skip: traffic between the two status calls")
sys.exit(1 if failures else 0)
PY
check "metrics parse and moved with the traffic" $PY "$D/check.py" "$D"
if [ "$FEDGW_TEST_FAILURES" -ne 0 ]; then
  echo "--- a.test metrics after the traffic (SIP lines) ---"
  grep -E '^fedgw_(sip|tls|dns_queries|connections)' "$D/a-after.prom" | grep -v ' 0$' || true
fi
finish
