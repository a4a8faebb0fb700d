#!/bin/sh
# Generates the certificates used by the fedgw TLS tests into OUTDIR.
#
#   root CA (ca.pem, the trusted bundle) -> intermediate CA (inter.pem) -> leaf certificates
#   every leaf *.pem holds leaf + intermediate; *.key is its private key (EC P-256, unencrypted)
#
#   good        CN=gw.a.test  SAN DNS:a.test DNS:gw.a.test URI:sip:a.test     serverAuth+clientAuth
#   peer        CN=gw.b.test  SAN DNS:b.test URI:sip:b.test                   serverAuth+clientAuth
#   peerwild    CN=gw.b.test  SAN DNS:b.test DNS:*.b.test URI:sip:b.test      like peer, plus a wildcard name
#   expired     valid 2020-01-01 .. 2021-01-01
#   notyet      valid 2045-01-01 .. 2046-01-01
#   expiring    valid for 10 more days
#   wrongkey    wrongkey.pem = good certificate, wrongkey.key = another key
#   selfsigned  self-signed, otherwise like good
#   nosan       CN=nosan.a.test, no subjectAltName
#   noclient    serverAuth only
#   wildcard    SAN DNS:*.a.test
#   clientonly  clientAuth only (no serverAuth)
#   nodigsig    key usage keyAgreement only (no digitalSignature)
#   encrypted.key  good.key encrypted with password "secret"
#   mixed       CN=b.test, SAN DNS:peer.test URI:sip:other.test URI:sip:alice@b.test
#   untrusted   issued by another root (other_ca.pem, not in ca.pem)
#   leafonly    good leaf without the intermediate (incomplete chain)
#   good.p12    good key + chain, password "secret"
#   revoked     like peer (CN=revoked.b.test), revoked: inter.crl.pem / inter.crl.der (current CRL of the
#               intermediate), stale.crl.pem (the same CRL, next update 2020-02-01: expired),
#               clean.crl.pem (current, made before the revocation: revokes nothing)
#   deep        CN=gw.b.test under root -> deep_ca1 -> deep_ca2 (two intermediates, both sent)
#   untrusted_chain  untrusted + its self-signed root other_ca (root sent, not trusted)
#   foreign     issued by other_inter under other_ca; foreign.pem = leaf + other_inter (root not sent)
#   uc          CN=uc.internal SAN DNS:uc.internal, issued by uc_ca.pem (a separate CA for the UC server)
#   uc_noname   CN=uc2.internal, no SAN, issued by uc_ca.pem
set -eu
out=${1:?usage: make_test_certs.sh OUTDIR}
mkdir -p "$out"
cd "$out"
export OPENSSL_CONF=/dev/null   # no system defaults

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

cat > ext.cnf <<'CNF'
[ca_root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ca_inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[good]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:a.test, DNS:gw.a.test, URI:sip:a.test
[peer]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:b.test, URI:sip:b.test
[peerwild]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:b.test, DNS:*.b.test, URI:sip:b.test
[nosan]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
[noclient]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:a.test, URI:sip:a.test
[wildcard]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:*.a.test
[clientonly]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:a.test
[nodigsig]
basicConstraints = CA:FALSE
keyUsage = critical, keyAgreement
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:a.test
[mixed]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:peer.test, URI:sip:other.test, URI:sip:alice@b.test
[ca_mid]
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[uc]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:uc.internal
[uc_noname]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
[ca_cnf]
CNF

# A minimal "openssl ca" setup: it is the only 3.0 tool that sets arbitrary start/end dates.
mkca() {  # dir
  mkdir -p "$1/new"
  : > "$1/index.txt"
  echo 1000 > "$1/serial"
  cat > "$1/ca.cnf" <<CNF
[ca]
default_ca = this
[this]
dir = $1
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
copy_extensions = none
default_crl_days = 30
[anything]
commonName = supplied
organizationName = optional
CNF
}

# root and intermediate
newkey ca.key
openssl req -new -x509 -key ca.key -subj "/O=fedgw test/CN=fedgw test root CA" -days 3650 \
  -config ext.cnf -extensions ca_root -out ca.pem
newkey inter.key
openssl req -new -key inter.key -subj "/O=fedgw test/CN=fedgw test intermediate CA" -out inter.csr
openssl x509 -req -in inter.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3000 \
  -extfile ext.cnf -extensions ca_inter -out inter.pem 2>/dev/null
mkca "$PWD/inter_db"
cp ca.pem inter.pem inter_db/

# leaf NAME CN SECTION [extra openssl ca options...]
leaf() {
  name=$1 cn=$2 section=$3
  shift 3
  newkey "$name.key"
  openssl req -new -key "$name.key" -subj "/O=fedgw test/CN=$cn" -out "$name.csr"
  openssl ca -batch -notext -preserveDN -config inter_db/ca.cnf -cert inter.pem -keyfile inter.key \
    -in "$name.csr" -extfile ext.cnf -extensions "$section" -out "$name.leaf" "$@" 2>/dev/null
  cat "$name.leaf" inter.pem > "$name.pem"
}

leaf good gw.a.test good -days 365
leaf peer gw.b.test peer -days 365
leaf peerwild gw.b.test peerwild -days 365
leaf expired expired.a.test good -startdate 20200101000000Z -enddate 20210101000000Z
leaf notyet notyet.a.test good -startdate 20450101000000Z -enddate 20460101000000Z
leaf expiring expiring.a.test good -days 10
leaf nosan nosan.a.test nosan -days 365
leaf noclient noclient.a.test noclient -days 365
leaf wildcard wildcard.a.test wildcard -days 365
leaf mixed b.test mixed -days 365
leaf clientonly clientonly.a.test clientonly -days 365
leaf nodigsig nodigsig.a.test nodigsig -days 365
openssl pkey -in good.key -aes256 -passout pass:secret -out encrypted.key

# certificate with a key that does not belong to it
cp good.pem wrongkey.pem
newkey wrongkey.key

# leaf only, no intermediate
cp good.leaf leafonly.pem
cp good.key leafonly.key

# self-signed
newkey selfsigned.key
openssl req -new -x509 -key selfsigned.key -subj "/O=fedgw test/CN=gw.a.test" -days 365 \
  -config ext.cnf -extensions good -out selfsigned.pem

# issued by a root nobody trusts
newkey other_ca.key
openssl req -new -x509 -key other_ca.key -subj "/O=elsewhere/CN=untrusted root CA" -days 3650 \
  -config ext.cnf -extensions ca_root -out other_ca.pem
newkey untrusted.key
openssl req -new -key untrusted.key -subj "/O=elsewhere/CN=gw.b.test" -out untrusted.csr
openssl x509 -req -in untrusted.csr -CA other_ca.pem -CAkey other_ca.key -CAcreateserial -days 365 \
  -extfile ext.cnf -extensions peer -out untrusted.pem 2>/dev/null

# PKCS#12 bundle (OpenSSL 3 defaults: AES-256-CBC, PBKDF2)
openssl pkcs12 -export -in good.leaf -inkey good.key -certfile inter.pem -name "fedgw good" \
  -passout pass:secret -out good.p12

# a revoked partner certificate and the intermediate's CRLs (current and expired)
leaf revoked revoked.b.test peer -days 365
openssl ca -batch -config inter_db/ca.cnf -cert inter.pem -keyfile inter.key -gencrl -out clean.crl.pem 2>/dev/null
openssl ca -batch -config inter_db/ca.cnf -cert inter.pem -keyfile inter.key -revoke revoked.leaf 2>/dev/null
openssl ca -batch -config inter_db/ca.cnf -cert inter.pem -keyfile inter.key -gencrl -out inter.crl.pem 2>/dev/null
openssl crl -in inter.crl.pem -outform DER -out inter.crl.der
openssl ca -batch -config inter_db/ca.cnf -cert inter.pem -keyfile inter.key -gencrl \
  -crl_lastupdate 20200101000000Z -crl_nextupdate 20200201000000Z -out stale.crl.pem 2>/dev/null

# ca(x509 -req) NAME CN SECTION ISSUER: a certificate signed by ISSUER.pem / ISSUER.key
signed() {
  newkey "$1.key"
  openssl req -new -key "$1.key" -subj "/O=fedgw test/CN=$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" -CAcreateserial -days 365 \
    -extfile ext.cnf -extensions "$3" -out "$1.leaf" 2>/dev/null
}

# two intermediates
signed deep_ca1 "fedgw test deep CA 1" ca_mid ca
mv deep_ca1.leaf deep_ca1.pem
signed deep_ca2 "fedgw test deep CA 2" ca_inter deep_ca1
mv deep_ca2.leaf deep_ca2.pem
signed deep gw.b.test peer deep_ca2
cat deep.leaf deep_ca2.pem deep_ca1.pem > deep.pem

# untrusted chains: root sent along; ending at an intermediate of the untrusted root
cat untrusted.pem other_ca.pem > untrusted_chain.pem
cp untrusted.key untrusted_chain.key
signed other_inter "elsewhere intermediate CA" ca_inter other_ca
mv other_inter.leaf other_inter.pem
signed foreign gw.b.test peer other_inter
cat foreign.leaf other_inter.pem > foreign.pem

# the UC server's own CA
newkey uc_ca.key
openssl req -new -x509 -key uc_ca.key -subj "/O=uc/CN=uc internal CA" -days 3650 \
  -config ext.cnf -extensions ca_root -out uc_ca.pem
signed uc uc.internal uc uc_ca
mv uc.leaf uc.pem
signed uc_noname uc2.internal uc_noname uc_ca
mv uc_noname.leaf uc_noname.pem

rm -f ./*.csr ./*.srl
echo "test certificates written to $out"
