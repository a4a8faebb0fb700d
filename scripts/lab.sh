# A loopback federation lab, sourced by the demo and the integration tests:
# a test CA with certificates, a real DNS server (dnsmasq) for the *.test zone,
# fedgw gateways. Every process started here is recorded in LAB_PIDS and
# stopped by PID in lab_stop. Only loopback addresses are used.

LAB_PIDS=()
LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

lab_stop() {
  local pid
  for pid in "${LAB_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${LAB_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  LAB_PIDS=()
}

# make_certs DIR: test CA and certificates (tests/gateway/tls/make_test_certs.sh):
# good.pem = a.test, gw.a.test; peer.pem = b.test; ca.pem the trusted root.
make_certs() {
  sh "$LAB_ROOT/tests/gateway/tls/make_test_certs.sh" "$1" >/dev/null
}

# count_lines FILE PATTERN: how many lines of FILE match the grep pattern (0 when FILE is missing).
count_lines() {
  local n
  n=$(grep -c -- "$2" "$1" 2>/dev/null) || true
  echo "${n:-0}"
}

# start_dnsmasq DIR RECORD_OPTION...: dnsmasq on 127.0.0.1:<free port> for the
# *.test zone only (no upstream); sets DNSMASQ_PORT and DNSMASQ_LOG.
start_dnsmasq() {
  local dir=$1 attempt port pid started i
  shift
  DNSMASQ_LOG=$dir/dnsmasq.log
  for attempt in 1 2 3 4 5 6 7 8; do
    started=$(count_lines "$DNSMASQ_LOG" 'started, version')
    port=$((20000 + RANDOM % 30000))
    /usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
      --bind-interfaces --listen-address=127.0.0.1 --port="$port" --local=/test/ \
      --log-queries --log-facility="$DNSMASQ_LOG" --pid-file= --cache-size=0 --user=root "$@" \
      2>>"$dir/dnsmasq.err" &
    pid=$!
    # dnsmasq logs "started" once its sockets are bound; a taken port makes it
    # exit instead (then another port is tried).
    for ((i = 0; i < 100; i++)); do
      if [ "$(count_lines "$DNSMASQ_LOG" 'started, version')" -gt "$started" ]; then
        LAB_PIDS+=("$pid")
        DNSMASQ_PORT=$port
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "dnsmasq did not start:" >&2
  cat "$dir/dnsmasq.err" >&2
  return 1
}

# wait_for_log FILE PATTERN [AT_LEAST] [SECONDS]: waits (bounded) until FILE has at
# least AT_LEAST (default 1) lines matching the grep pattern; status 1 on timeout.
wait_for_log() {
  local file=$1 pattern=$2 want=${3:-1} seconds=${4:-10} i
  for ((i = 0; i < seconds * 20; i++)); do
    [ "$(count_lines "$file" "$pattern")" -ge "$want" ] && return 0
    sleep 0.05
  done
  echo "timed out after ${seconds}s waiting for \"$pattern\" in $file" >&2
  return 1
}

# wait_until SECONDS COMMAND...: runs COMMAND every 50 ms until it succeeds;
# status 1 after SECONDS.
wait_until() {
  local seconds=$1 i
  shift
  for ((i = 0; i < seconds * 20; i++)); do
    "$@" && return 0
    sleep 0.05
  done
  echo "timed out after ${seconds}s waiting for: $*" >&2
  return 1
}

# start_fedgw BIN CONFIG LOG: starts fedgw and waits until its control socket
# answers; sets FEDGW_LAST_PID.
start_fedgw() {
  local bin=$1 config=$2 log=$3 socket
  socket=$(sed -n 's/^control_socket: *"\(.*\)"/\1/p' "$config")
  "$bin/fedgw" --config "$config" 2>"$log" &
  FEDGW_LAST_PID=$!
  LAB_PIDS+=("$FEDGW_LAST_PID")
  for _ in $(seq 1 100); do
    "$bin/fedctl" --socket "$socket" status >/dev/null 2>&1 && return 0
    kill -0 "$FEDGW_LAST_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "fedgw did not come up; its log:" >&2
  cat "$log" >&2
  return 1
}

# gateway_config DIR NAME DOMAIN IP CERT [EXTRA...]: DIR/NAME.textproto for a
# DIRECT gateway serving DOMAIN: internal TCP IP:5060, federation MTLS IP:5061.
gateway_config() {
  local dir=$1 name=$2 domain=$3 ip=$4 cert=$5
  shift 5
  cat > "$dir/$name.textproto" <<CFG
mode: DIRECT
domains: "$domain"
certificate { cert_file: "$dir/certs/$cert.pem" key_file: "$dir/certs/$cert.key" ca_bundle: "$dir/certs/ca.pem" }
internal_listener { bind_ip: "$ip" port: 5060 transport: ${LAB_INTERNAL_TRANSPORT:-TCP} }
federation_listener { bind_ip: "$ip" port: 5061 transport: MTLS }
dns { servers: "127.0.0.1:$DNSMASQ_PORT" timeout_ms: 500 tries: 2 }
limits { transaction_timeout_ms: ${LAB_TIMER_MS:-4000} ${LAB_LIMITS_EXTRA:-} }
control_socket: "$dir/$name.sock"
$(printf '%s\n' "$@")
CFG
}

# lab_federation BIN DIR: a.test (127.0.1.1) and b.test (127.0.2.1), each with
# its gateway, certificates from one test CA, federation SRV records in DNS
# (and mismatch.test, whose record names b.test's server: a certificate mismatch).
# LAB_IP_A / LAB_IP_B change the addresses; LAB_EXTRA_CONFIG is appended to both configs (and
# LAB_EXTRA_CONFIG_A to a.test's only);
# LAB_EXTRA_DNS adds dnsmasq record options (split on spaces); LAB_INTERNAL_TRANSPORT_A sets
# the transport of a.test's internal listener (TCP, TLS or MTLS); LAB_LIMITS_EXTRA adds
# fields to the limits section.
lab_federation() {
  local bin=$1 dir=$2 ip_a=${LAB_IP_A:-127.0.1.1} ip_b=${LAB_IP_B:-127.0.2.1}
  make_certs "$dir/certs"
  start_dnsmasq "$dir" \
    --srv-host=_sipfederationtls._tcp.a.test,gw.a.test,5061,10,10 --host-record=gw.a.test,"$ip_a" \
    --srv-host=_sipfederationtls._tcp.b.test,b.test,5061,10,10 --host-record=b.test,"$ip_b" \
    --srv-host=_sipfederationtls._tcp.mismatch.test,b.test,5061,10,10 ${LAB_EXTRA_DNS:-} || return 1
  LAB_INTERNAL_TRANSPORT=${LAB_INTERNAL_TRANSPORT_A:-TCP} gateway_config "$dir" a a.test "$ip_a" good "${LAB_EXTRA_CONFIG:-}" \
    "${LAB_EXTRA_CONFIG_A:-}"
  gateway_config "$dir" b b.test "$ip_b" peer "${LAB_EXTRA_CONFIG:-}"
  start_fedgw "$bin" "$dir/a.textproto" "$dir/a.log" || return 1
  GW_A_PID=$FEDGW_LAST_PID
  start_fedgw "$bin" "$dir/b.textproto" "$dir/b.log" || return 1
  GW_B_PID=$FEDGW_LAST_PID
}

# SIP proxy mode: Debian's Kamailio as the federation SIP proxy (tests/integration/kamailio/proxy.cfg) on
# LAB_PROXY_IP: TCP 5070, TLS 5071, mutual TLS 5072 (certificate mixed.pem, SAN peer.test); registrar with
# digest for user "gw", password LAB_PROXY_PASSWORD. Requests for a.test go to LAB_PROXY_GATEWAY_A
# (sip_proxy.incoming of a.test's gateway); for b.test to LAB_PROXY_GATEWAY_B when set, else they are
# answered by the proxy itself.
LAB_PROXY_IP=127.0.22.1
LAB_PROXY_PASSWORD=s3cret-pw
# start_sip_proxy DIR ALGORITHM (MD5 or SHA-256): needs DIR/certs; sets SIP_PROXY_PID; logs to DIR/kamailio.log.
start_sip_proxy() {
  local dir=$1 algorithm=$2
  local -a defines=(-A "TLS_CFG=\"$dir/proxy-tls.cfg\"" -A 'PROXY_USER="gw"' -A "PROXY_PASSWORD=\"$LAB_PROXY_PASSWORD\""
                    -A "PROXY_ALGORITHM=\"$algorithm\"" -A "GATEWAY_A_URI=\"${LAB_PROXY_GATEWAY_A:-sip:127.0.23.1:5090;transport=tcp}\"")
  [ -n "${LAB_PROXY_GATEWAY_B:-}" ] && defines+=(-A "GATEWAY_B_URI=\"$LAB_PROXY_GATEWAY_B\"")
  sed "s|@CERTS@|$dir/certs|g" "$LAB_ROOT/tests/integration/kamailio/proxy-tls.cfg.in" > "$dir/proxy-tls.cfg"
  kamailio -f "$LAB_ROOT/tests/integration/kamailio/proxy.cfg" "${defines[@]}" -DD -E -m 64 -M 8 -n 1 \
    >> "$dir/kamailio.log" 2>&1 &
  SIP_PROXY_PID=$!
  LAB_PIDS+=("$SIP_PROXY_PID")
  wait_until 10 bash -c "exec 3<>/dev/tcp/$LAB_PROXY_IP/5072" 2>/dev/null
}

# proxy_gateway_config DIR NAME DOMAIN IP CERT PASSWORD PORT TRANSPORT [SERVER_NAME]: DIR/NAME.textproto for a
# SIP_PROXY gateway serving DOMAIN: internal TCP IP:5060, sip_proxy.incoming TCP IP:5090, login "gw"
# with PASSWORD at LAB_PROXY_IP:PORT over TRANSPORT, DNS at DNSMASQ_PORT.
proxy_gateway_config() {
  local dir=$1 name=$2 domain=$3 ip=$4 cert=$5 password=$6 port=$7 transport=$8 server_name=${9:-}
  cat > "$dir/$name.textproto" <<CFG
mode: SIP_PROXY
domains: "$domain"
certificate { cert_file: "$dir/certs/$cert.pem" key_file: "$dir/certs/$cert.key" ca_bundle: "$dir/certs/ca.pem" }
internal_listener { bind_ip: "$ip" port: 5060 transport: TCP }
dns { servers: "127.0.0.1:$DNSMASQ_PORT" timeout_ms: 500 tries: 2 }
limits { transaction_timeout_ms: ${LAB_TIMER_MS:-4000} }
sip_proxy {
  username: "gw" password: "$password" interface: "$ip" ip: "$LAB_PROXY_IP" port: $port transport: $transport
  ${server_name:+server_name: \"$server_name\"}
  incoming { bind_ip: "$ip" port: 5090 transport: TCP }
}
control_socket: "$dir/${domain%%.*}.sock"
CFG
}

# lab_proxy_federation BIN DIR: a.test (127.0.23.1) and b.test (127.0.24.1), each with its gateway in
# SIP_PROXY mode, logged in at one Kamailio proxy (SHA-256 digest, mutual TLS on 5072) that relays
# between them; DNS (dnsmasq) serves only the gateways' own records (the readiness check), never partner
# lookups. Sets GW_A_PID, GW_B_PID.
lab_proxy_federation() {
  local bin=$1 dir=$2
  make_certs "$dir/certs"
  start_dnsmasq "$dir" --srv-host=_sipfederationtls._tcp.a.test,gw.a.test,5061,10,10 --host-record=gw.a.test,127.0.23.1 \
    --srv-host=_sipfederationtls._tcp.b.test,gw.b.test,5061,10,10 --host-record=gw.b.test,127.0.24.1 || return 1
  LAB_PROXY_GATEWAY_A="sip:127.0.23.1:5090;transport=tcp" LAB_PROXY_GATEWAY_B="sip:127.0.24.1:5090;transport=tcp" \
    start_sip_proxy "$dir" SHA-256 || return 1
  proxy_gateway_config "$dir" a a.test 127.0.23.1 good "$LAB_PROXY_PASSWORD" 5072 MTLS peer.test
  proxy_gateway_config "$dir" b b.test 127.0.24.1 peer "$LAB_PROXY_PASSWORD" 5072 MTLS peer.test
  start_fedgw "$bin" "$dir/a.textproto" "$dir/a.log" || return 1
  GW_A_PID=$FEDGW_LAST_PID
  start_fedgw "$bin" "$dir/b.textproto" "$dir/b.log" || return 1
  GW_B_PID=$FEDGW_LAST_PID
}
