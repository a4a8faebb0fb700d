#!/usr/bin/env bash
# Builds the Debian package fedgw_<version>_amd64.deb into build-deb/ (root, Debian 12).
#
#   ./scripts/package.sh           # build-deb/fedgw_0.1.0_amd64.deb (and fedgw-dbgsym_0.1.0_amd64.deb)
#
# Installs the build dependencies it needs with apt (debhelper, lintian and the libraries of
# debian/control), copies the source tree to build-deb/src (the tree itself stays untouched) and
# runs dpkg-buildpackage -us -uc -b there: only fedgw, fedctl and fedua, in Release mode, with
# Debian's hardening flags. Unchanged sources since the last build: nothing is rebuilt.
# The version is the project's (CMakeLists.txt project(... VERSION ...)); debian/changelog must
# name the same version (add an entry when it changes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build-deb
cd "$root"

version=$(sed -n 's/^project(fedgw VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
changelog_version=$(sed -n '1s/^fedgw (\([^)]*\)).*/\1/p' debian/changelog)
if [ -z "$version" ] || [ "$version" != "$changelog_version" ]; then
  echo "package: CMakeLists.txt says version \"$version\", debian/changelog \"$changelog_version\":" \
       "add a debian/changelog entry for $version" >&2
  exit 1
fi
arch=$(dpkg --print-architecture)
deb=$out/fedgw_${version}_${arch}.deb

# Build dependencies (Debian packages).
needed=(dpkg-dev debhelper lintian fakeroot cmake pkg-config libcaf-dev libssl-dev libc-ares-dev
        libprotobuf-dev protobuf-compiler libmicrohttpd-dev libgoogle-perftools-dev)
missing=()
for p in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "package: run as root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "==> apt-get install ${missing[*]}"
  apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; }
fi

# The sources as a tar stream (build trees, .git, and tests, benchmarks and README that the package
# does not build, left out); with --normalized
# (times and owners dropped) to hash them by content.
mkdir -p "$out"
sources() {
  local normalize=()
  [ "${1:-}" = --normalized ] && normalize=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner)
  tar -C "$root" "${normalize[@]}" \
      --exclude=./.git --exclude='./build' --exclude='./build-*' --exclude=./run \
      --exclude=./tests --exclude=./bench --exclude=./docs/screenshots --exclude=./README.md --exclude='./obj-*' \
      --exclude=./debian/.debhelper --exclude=./debian/fedgw --exclude=./debian/files \
      --exclude='./debian/*.substvars' --exclude='./debian/*.debhelper.log' --exclude=./debian/debhelper-build-stamp \
      -cf - .
}
hash=$(sources --normalized | sha256sum | cut -d' ' -f1)
if [ -f "$deb" ] && [ "$(cat "$out/.source-hash" 2>/dev/null)" = "$hash" ]; then
  echo "==> $deb is up to date (sources unchanged)"
  exit 0
fi

echo "==> copying the sources to $out/src"
rm -rf "$out/src" "$out/.source-hash"
mkdir -p "$out/src"
sources | tar -C "$out/src" -xf -

# debhelper gives the build its own HOME: keep using the machine's ccache (cache and configuration).
if command -v ccache >/dev/null; then
  export CCACHE_DIR=${CCACHE_DIR:-$(ccache -k cache_dir)}
  # Paths relative to the copy: a clone in another folder (CI) hits the same cache entries.
  export CCACHE_BASEDIR=$out/src
  for conf in "${CCACHE_CONFIGPATH:-}" "${XDG_CONFIG_HOME:-$HOME/.config}/ccache/ccache.conf" "$HOME/.ccache/ccache.conf"; do
    if [ -n "$conf" ] && [ -f "$conf" ]; then export CCACHE_CONFIGPATH=$conf; break; fi
  done
fi

echo "==> dpkg-buildpackage -us -uc -b (in $out/src, $(nproc) jobs)"
rm -f "$out"/fedgw_*.deb "$out"/fedgw-dbgsym_*.*deb "$out"/fedgw_*.buildinfo "$out"/fedgw_*.changes
(cd "$out/src" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
   dpkg-buildpackage -us -uc -b > "$out/build.log" 2>&1) ||
  { tail -50 "$out/build.log"; echo "package: dpkg-buildpackage failed; the whole log: $out/build.log" >&2; exit 1; }
[ -f "$deb" ] || { echo "package: $deb was not built (see $out/build.log)" >&2; exit 1; }
echo "$hash" > "$out/.source-hash"
echo "==> $deb"
dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Architecture\|Depends\|Installed-Size\):/  \1:/p'
