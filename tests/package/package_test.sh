#!/usr/bin/env bash
# The Debian package end to end (issue 14), on this machine (root; otherwise skipped, exit 77):
#  - scripts/package.sh builds build-deb/fedgw_<version>_<arch>.deb (nothing when the sources are unchanged);
#  - lintian finds no errors;
#  - dpkg -i installs it: the fedgw system user and group, /usr/bin/{fedgw,fedctl,fedua}, the conffile
#    /etc/fedgw/fedgw.textproto (0640 root:fedgw), the man pages, the unit (systemd-analyze verify clean,
#    systemd-analyze security printed and bounded);
#  - the installed fedgw runs as the unit's ExecStart would, as user fedgw with the unit's capability
#    (setpriv: systemd is not PID 1 here), a runtime directory as RuntimeDirectory= makes it, a fake
#    NOTIFY_SOCKET and JOURNAL_STREAM; test configuration on 127.0.60.1 only, DNS at 127.0.0.1:9:
#    READY=1 after start, stderr lines with their syslog priority, fedctl works for root and for a
#    member of group fedgw and is refused for nobody, SIGHUP applies an edited file (RELOADING=1, READY=1,
#    the new domain in config show), a bad file on SIGHUP changes nothing and each problem is logged,
#    SIGTERM stops it with exit status 0 (STOPPING=1);
#  - dpkg -r, then dpkg --purge leave none of the package's files (the fedgw user and group stay, as
#    Debian policy wants for system users).
# Only processes this script started are stopped, by PID.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the package test installs a package: run it as root"
  exit 77
fi
started=$(date +%s)
step() { echo "==> [$(( $(date +%s) - started ))s] $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/fedgw-package-test.XXXXXX)
chmod 0755 "$work"
rundir=/run/fedgw-package-test   # what RuntimeDirectory=fedgw makes, under a name of its own
operator=fedgw-pkgtest-op         # a member of group fedgw
fedgw_pid=""
notify_pid=""
installed_by_us=0

cleanup() {
  local rc=$?
  for pid in $fedgw_pid $notify_pid; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  if [ "$installed_by_us" = 1 ] && dpkg-query -W -f='${Status}' fedgw 2>/dev/null | grep -q installed; then
    dpkg --purge fedgw >/dev/null 2>&1 || true
  fi
  getent passwd "$operator" >/dev/null && userdel "$operator" 2>/dev/null || true
  rm -rf "$rundir"
  if [ $rc -ne 0 ]; then
    echo "--- fedgw stderr ---" >&2
    cat "$work/fedgw.stderr" 2>/dev/null >&2 || true
    echo "--- notifications ---" >&2
    cat "$work/notify.log" 2>/dev/null >&2 || true
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

# Waits up to $2 seconds for `grep -c $3` in file $1 to reach $4 (default 1).
wait_for() {
  local file=$1 seconds=$2 pattern=$3 count=${4:-1}
  for _ in $(seq $((seconds * 10))); do
    [ "$(grep -c -- "$pattern" "$file" 2>/dev/null || true)" -ge "$count" ] && return 0
    sleep 0.1
  done
  fail "no $count x \"$pattern\" in $file within ${seconds}s"
}

step "build the package (scripts/package.sh)"
"$root/scripts/package.sh"
version=$(sed -n 's/^project(fedgw VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
deb=$root/build-deb/fedgw_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || fail "$deb missing"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in libcaf-core libssl3 libprotobuf libc-ares libmicrohttpd libtcmalloc-minimal4 adduser; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib (dh_shlibdeps): $depends"
done
contents=$(dpkg-deb -c "$deb")
grep -qE '/(gtest|benchmark)|_tests$|_bench$' <<<"$contents" && fail "the package contains tests or benchmarks"

step "lintian"
lintian_out=$(lintian --allow-root --fail-on error "$deb" 2>&1) || { echo "$lintian_out"; fail "lintian reports errors"; }
echo "${lintian_out:-(no tags)}"
echo "lintian: $(grep -c '^E:' <<<"$lintian_out" || true) errors, $(grep -c '^W:' <<<"$lintian_out" || true) warnings," \
     "$(grep -c '^I:' <<<"$lintian_out" || true) info"

step "dpkg -i"
if dpkg-query -W -f='${Status}' fedgw 2>/dev/null | grep -q installed; then
  echo "a fedgw package is installed already (a previous run?): purging it first"
  dpkg --purge fedgw >/dev/null
fi
installed_by_us=1
dpkg -i "$deb"

step "files, user, permissions"
getent group fedgw >/dev/null || fail "no group fedgw"
uid=$(id -u fedgw)
[ "$uid" -lt 1000 ] || fail "fedgw is not a system user (uid $uid)"
[ "$(id -gn fedgw)" = fedgw ] || fail "fedgw's group is $(id -gn fedgw)"
for p in fedgw fedctl fedua; do
  [ "$(stat -c '%a %U %G' /usr/bin/$p)" = "755 root root" ] || fail "/usr/bin/$p: $(stat -c '%a %U %G' /usr/bin/$p)"
done
[ "$(stat -c '%a %U %G' /etc/fedgw/fedgw.textproto)" = "640 root fedgw" ] ||
  fail "/etc/fedgw/fedgw.textproto: $(stat -c '%a %U %G' /etc/fedgw/fedgw.textproto)"
dpkg-query -W -f='${Conffiles}\n' fedgw | grep -q '^ /etc/fedgw/fedgw.textproto ' || fail "fedgw.textproto is not a conffile"
for m in /usr/share/man/man8/fedgw.8.gz /usr/share/man/man8/fedctl.8.gz /usr/share/man/man1/fedua.1.gz; do
  [ -f "$m" ] || fail "missing man page $m"
done
unit=/lib/systemd/system/fedgw.service
[ -f "$unit" ] || fail "missing $unit"
runuser -u fedgw -- /usr/bin/fedgw --config /etc/fedgw/fedgw.textproto --check || fail "the shipped configuration does not validate"

step "systemd-analyze verify / security"
verify=$(systemd-analyze verify "$unit" 2>&1) || { echo "$verify"; fail "systemd-analyze verify failed"; }
[ -z "$verify" ] || { echo "$verify"; fail "systemd-analyze verify is not clean"; }
security=$(systemd-analyze security --offline=true "$unit" 2>&1 || true)
overall=$(sed -n 's/.*Overall exposure level for fedgw.service: \([0-9.]*\).*/\1/p' <<<"$security")
echo "systemd-analyze security: $(grep 'Overall exposure' <<<"$security")"
[ -n "$overall" ] || { echo "$security"; fail "no exposure level from systemd-analyze security"; }
awk -v x="$overall" 'BEGIN { exit !(x <= 2.0) }' || { echo "$security"; fail "exposure $overall above 2.0"; }

step "start the installed fedgw as the unit would (user fedgw, CAP_NET_BIND_SERVICE only)"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "$exec_start" = "/usr/bin/fedgw --config /etc/fedgw/fedgw.textproto" ] || fail "ExecStart is \"$exec_start\""
rm -rf "$rundir"
install -d -o fedgw -g fedgw -m 0755 "$rundir"
cat > "$work/fedgw.textproto" <<EOF
mode: DIRECT
domains: "pkg.test"
# a port below 1024: binding it needs the unit's CAP_NET_BIND_SERVICE
internal_listener { bind_ip: "127.0.60.1" port: 506 transport: TCP }
dns { servers: "127.0.0.1:9" timeout_ms: 200 tries: 1 }
control_socket: "$rundir/control.sock"
control_socket_mode: "0660"
control_socket_group: "fedgw"
worker_threads: 2
EOF
chmod 0644 "$work/fedgw.textproto"
# The fake NOTIFY_SOCKET: one line per datagram, newlines as " | ".
cat > "$work/notify.py" <<'EOF'
import os, socket, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(log + ".tmp", "w"):
    pass
os.rename(log + ".tmp", log)
with open(log, "a") as out:
    while True:
        data = s.recv(4096).decode()
        out.write(data.replace("\n", " | ") + "\n")
        out.flush()
EOF
/usr/bin/python3 "$work/notify.py" "$work/notify.sock" "$work/notify.log" &
notify_pid=$!
for _ in $(seq 50); do [ -f "$work/notify.log" ] && break; sleep 0.1; done
[ -f "$work/notify.log" ] || fail "the notify listener did not start"
: > "$work/fedgw.stderr"
journal_stream=$(stat -c '%d:%i' "$work/fedgw.stderr")
(
  umask 0027
  exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NOTIFY_SOCKET="$work/notify.sock" JOURNAL_STREAM="$journal_stream" \
    setpriv --reuid=fedgw --regid=fedgw --init-groups --no-new-privs \
      --bounding-set=-all,+net_bind_service --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service \
      /usr/bin/fedgw --config "$work/fedgw.textproto"
) 2>>"$work/fedgw.stderr" &
fedgw_pid=$!
wait_for "$work/notify.log" 20 '^READY=1'
grep -q "^READY=1 | STATUS=serving pkg.test" "$work/notify.log" || fail "READY=1 without its STATUS"
kill -0 "$fedgw_pid" || fail "fedgw is not running"
[ "$(ps -o user= -p "$fedgw_pid")" = fedgw ] || fail "fedgw runs as $(ps -o user= -p "$fedgw_pid")"
/usr/bin/python3 -c 'import socket; socket.create_connection(("127.0.60.1", 506), 2).close()' ||
  fail "nothing listens on 127.0.60.1:506"
echo "ready: $(head -1 "$work/notify.log")"

step "stderr lines carry the syslog priority (JOURNAL_STREAM)"
head -3 "$work/fedgw.stderr"
grep -qE '^<6>\([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\) INFO  fedgw: starting fedgw' "$work/fedgw.stderr" ||
  fail "no <6> prefix on the start line"
grep -vqE '^<[346]>\(' "$work/fedgw.stderr" && fail "a stderr line without a priority prefix"

step "control socket: root and group fedgw may use fedctl, others may not"
[ "$(stat -c '%a %U %G' "$rundir/control.sock")" = "660 fedgw fedgw" ] ||
  fail "control socket: $(stat -c '%a %U %G' "$rundir/control.sock")"
fedctl=(/usr/bin/fedctl --socket "$rundir/control.sock")
"${fedctl[@]}" status | tee "$work/status.txt" | head -5
grep -q "pkg.test" "$work/status.txt" || fail "fedctl status (root) does not show the domain"
getent passwd "$operator" >/dev/null && userdel "$operator"   # left by an interrupted run
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --groups fedgw "$operator"
setpriv --reuid="$operator" --regid="$operator" --init-groups "${fedctl[@]}" status > /dev/null ||
  fail "fedctl status as $operator (group fedgw) failed"
echo "fedctl status as $operator (group fedgw): ok"
if refused=$(setpriv --reuid=nobody --regid=nogroup --init-groups "${fedctl[@]}" status 2>&1); then
  fail "fedctl status as nobody worked: $refused"
fi
echo "fedctl status as nobody: refused: $refused"
grep -qi "permission denied" <<<"$refused" || fail "refusal does not say why: $refused"

step "SIGHUP applies the edited file (RELOADING=1, READY=1)"
sed -i 's/^domains: "pkg.test"$/domains: "pkg.test"\ndomains: "added.test"/' "$work/fedgw.textproto"
kill -HUP "$fedgw_pid"
wait_for "$work/notify.log" 30 '^READY=1' 2
grep -q '^RELOADING=1 | MONOTONIC_USEC=[0-9]* | STATUS=reloading' "$work/notify.log" || fail "no RELOADING=1"
"${fedctl[@]}" config show > "$work/show.txt"
grep -q '"added.test"' "$work/show.txt" || fail "config show lacks the added domain"
grep -q "SIGHUP: $work/fedgw.textproto applied" "$work/fedgw.stderr" || fail "the reload is not logged"
echo "reloaded: $(tail -1 "$work/notify.log")"

step "a bad file on SIGHUP changes nothing, each problem logged"
cp "$work/fedgw.textproto" "$work/good.textproto"
sed -i 's/^domains: "added.test"$/domains: "bad domain"\ndomains: "other.test"\nlimits { max_body_bytes: 999999999 }/' \
  "$work/fedgw.textproto"
kill -HUP "$fedgw_pid"
wait_for "$work/notify.log" 30 '^READY=1' 3
grep -q '^READY=1 | STATUS=reload refused' "$work/notify.log" || fail "READY=1 after the refusal does not say so"
grep -q '^<3>.*SIGHUP: .*refused, running configuration unchanged (2 problems)' "$work/fedgw.stderr" ||
  fail "the refusal is not logged as an error"
grep -q '^<3>.*SIGHUP: domains\[1\]: "bad domain" is not a valid domain name' "$work/fedgw.stderr" ||
  fail "problem 1 not logged"
grep -q '^<3>.*SIGHUP: limits.max_body_bytes: 999999999 is out of range' "$work/fedgw.stderr" ||
  fail "problem 2 not logged"
"${fedctl[@]}" config show > "$work/show2.txt"
cmp -s "$work/show.txt" "$work/show2.txt" || { diff "$work/show.txt" "$work/show2.txt"; fail "the bad file changed the configuration"; }
"${fedctl[@]}" log | tail -4
kill -0 "$fedgw_pid" || fail "fedgw died on a bad file"

step "SIGTERM stops it cleanly"
kill -TERM "$fedgw_pid"
rc=0
wait "$fedgw_pid" || rc=$?
fedgw_pid=""
[ "$rc" -eq 0 ] || fail "fedgw exited with $rc"
wait_for "$work/notify.log" 5 '^STOPPING=1'
grep -q '<6>.*fedgw: stopped' "$work/fedgw.stderr" || fail "no 'stopped' entry"
kill "$notify_pid"; wait "$notify_pid" 2>/dev/null || true
notify_pid=""
echo "notifications:"; sed 's/^/  /' "$work/notify.log"

step "dpkg -r, dpkg --purge"
files=$(dpkg-query -L fedgw | grep -v '^/\.$')
dpkg -r fedgw
for p in /usr/bin/fedgw /usr/bin/fedctl /usr/bin/fedua "$unit"; do [ ! -e "$p" ] || fail "$p left after dpkg -r"; done
[ -f /etc/fedgw/fedgw.textproto ] || fail "dpkg -r removed the conffile (only purge may)"
dpkg --purge fedgw
installed_by_us=0
dpkg-query -W -f='${Status}' fedgw 2>/dev/null | grep -q installed && fail "fedgw still installed"
left=""
while read -r f; do
  # Directories shared with other packages stay.
  if [ -e "$f" ] && ! { [ -d "$f" ] && dpkg -S "$f" >/dev/null 2>&1; }; then left+=" $f"; fi
done <<<"$files"
[ ! -e /etc/fedgw ] || left+=" /etc/fedgw"
[ -z "$left" ] || fail "left after purge:$left"
echo "purged: none of the package's files left; the fedgw user and group stay (Debian policy for system users):" \
     "$(getent passwd fedgw)"
step "package test passed"
