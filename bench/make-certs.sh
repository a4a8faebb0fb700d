#!/bin/sh
# Throwaway test CA and certificates of bench/run (EC P-256, 30 days). TEST DATA ONLY.
#   make-certs.sh OUTDIR [PARTNERS]
#   ca.crt/.key    the test CA (trusted by every system under test and the peer)
#   edge.crt/.key  edge.corp.test, corp.test: the edge under test (fedgw or Kamailio)
#   peer.crt/.key  peer-edge.peer.test, peer.test: the stateless Kamailio peer
#   gwa.crt/.key   a.test, gw.a.test: scaling scenario, gateway of the UC server under load
#   gwb.crt/.key   b.test and p1.test .. pPARTNERS.test (default 100) in one SAN list:
#                  scaling scenario, the gateway serving every partner domain
# (Adapted from ../shared/anchors/kamailio/gen-certs.sh.)
set -eu
out=${1:?usage: make-certs.sh OUTDIR [PARTNERS]}
partners=${2:-100}
mkdir -p "$out"
cd "$out"
export OPENSSL_CONF=/dev/null
DAYS=30
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -sha256 -days $DAYS -subj "/CN=fedgw bench test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.crt 2>/dev/null
leaf() { # name cn san
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days $DAYS -sha256 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
leaf edge "edge.corp.test" "DNS:edge.corp.test,DNS:corp.test"
leaf peer "peer-edge.peer.test" "DNS:peer-edge.peer.test,DNS:peer.test"
leaf gwa "gw.a.test" "DNS:a.test,DNS:gw.a.test"
san="DNS:b.test,DNS:gw.b.test"
i=1
while [ "$i" -le "$partners" ]; do san="$san,DNS:p$i.test"; i=$((i + 1)); done
leaf gwb "gw.b.test" "$san"
rm -f ca.srl
chmod 600 ./*.key
