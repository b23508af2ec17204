#!/usr/bin/env bash
# Builds the Debian package of edged: artifacts/edge_<version>_<arch>.deb with dpkg-deb.
#   tools/package.sh amd64|arm64|arm64-glibc2.31 [--from DIR] [--out DIR] [--version X.Y.Z]
# DIR is a published edged (tools/publish.sh); without --from it is published first (arm64 cross-compiles,
# see publish.sh for the packages it needs). The package holds the AOT binary (symbols stay in the
# publish folder's edged.dbg), its native libraries, the shipped models, /etc/edge/edged.json (a
# conffile), the hardened unit and maintainer scripts that create the edge user and enable the service.
# arm64-glibc2.31 is the build for JetPack 5 / Ubuntu 20.04 / Debian 11: version X.Y.Z~glibc2.31 (older than
# X.Y.Z, so a device moved to a newer OS upgrades to the regular package), SQLite from libsqlite3-0.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."
# Paths given on the command line are the caller's, not the repository's.
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$caller/$1" ;; esac; }
fail() { echo "package: $*" >&2; exit 1; }
usage() { echo "usage: tools/package.sh amd64|arm64|arm64-glibc2.31 [--from DIR] [--out DIR] [--version X.Y.Z]" >&2; exit 2; }
(($#)) || usage
flavour=$1; shift
suffix=""; system_sqlite=""
case "$flavour" in
  amd64) arch=amd64; rid=linux-x64; strip=strip ;;
  arm64) arch=arm64; rid=linux-arm64; strip=aarch64-linux-gnu-strip; [ "$(uname -m)" != aarch64 ] || strip=strip ;;
  arm64-glibc2.31) arch=arm64; rid=linux-arm64-glibc2.31; strip=aarch64-linux-gnu-strip; [ "$(uname -m)" != aarch64 ] || strip=strip
    suffix="~glibc2.31"; system_sqlite=yes ;;
  *) echo "package: architecture '$flavour': expected amd64, arm64 or arm64-glibc2.31" >&2; usage ;;
esac
from=""; out=artifacts; version=""
while (($#)); do
  case "$1" in
    --from) (($# >= 2)) || usage; from=$(absolute "$2"); shift 2 ;;
    --out) (($# >= 2)) || usage; out=$(absolute "$2"); shift 2 ;;
    --version) (($# >= 2)) || usage; version=$2; shift 2 ;;
    *) echo "package: unknown argument '$1'" >&2; usage ;;
  esac
done
for tool in dpkg-deb fakeroot readelf "$strip" gzip; do command -v "$tool" >/dev/null || fail "'$tool' is not installed"; done

# The product's version (--version overrides it, e.g. to test an upgrade).
[ -n "$version" ] || version=$(sed -n 's:.*<Version>\([^<]*\)</Version>.*:\1:p' Directory.Build.props | head -n 1)
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "version '$version': expected X.Y.Z (<Version> in Directory.Build.props, or --version)"
if [ -z "$from" ]; then
  from=artifacts/edged-$rid
  echo "package: publishing edged for $rid into $from"
  mkdir -p artifacts
  tools/publish.sh "$rid" "$from" > "artifacts/publish-$rid.log" 2>&1 || { tail -n 20 "artifacts/publish-$rid.log"; fail "publish failed"; }
fi
[ -x "$from/edged" ] || fail "'$from/edged' is not a published edged (run tools/publish.sh $rid)"
machine=$(readelf -h "$from/edged" | sed -n 's/^ *Machine: *//p')
case "$arch:$machine" in
  amd64:*X86-64*|arm64:*AArch64*) ;;
  *) fail "'$from/edged' is built for '$machine', not $arch" ;;
esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
lib=$root/usr/lib/edge
install -d -m 0755 "$root/DEBIAN" "$lib" "$root/usr/bin" "$root/etc/edge" "$root/lib/systemd/system" \
  "$root/lib/udev/rules.d" "$root/usr/share/doc/edge" "$root/usr/share/lintian/overrides" "$root/usr/share/man/man1"
install -m 0755 "$from/edged" "$lib/edged"
for so in "$from"/*.so; do
  [ ! -L "$so" ] || continue # the glibc-2.31 build's link to the system SQLite, made below
  install -m 0644 "$so" "$lib/"
  "$strip" --strip-unneeded "$lib/$(basename "$so")"
done
[ -z "$system_sqlite" ] || ln -s ../aarch64-linux-gnu/libsqlite3.so.0 "$lib/libe_sqlite3.so"
cp -r "$from/models" "$lib/models"
find "$lib/models" -type d -exec chmod 0755 {} + && find "$lib/models" -type f -exec chmod 0644 {} +
ln -s ../lib/edge/edged "$root/usr/bin/edged"
install -m 0644 tools/packaging/edged.service "$root/lib/systemd/system/edged.service"
install -m 0644 tools/packaging/edged.json "$root/etc/edge/edged.json"
install -m 0644 tools/packaging/60-edge-gpio.rules "$root/lib/udev/rules.d/60-edge-gpio.rules"
install -m 0644 tools/packaging/copyright "$root/usr/share/doc/edge/copyright"
install -m 0644 tools/packaging/lintian-overrides "$root/usr/share/lintian/overrides/edge"
gzip -9n < tools/packaging/edged.1 > "$root/usr/share/man/man1/edged.1.gz" && chmod 0644 "$root/usr/share/man/man1/edged.1.gz"
maintainer=${EDGE_MAINTAINER:-Edge developers <edge@example.org>}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
when=$(git log -1 --format=%aD 2>/dev/null || date -R)
# A native package (no Debian revision): its changelog is changelog.gz.
version=$version$suffix
printf 'edge (%s) stable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
  "$version" "$commit" "$maintainer" "$when" | gzip -9n > "$root/usr/share/doc/edge/changelog.gz"
chmod 0644 "$root/usr/share/doc/edge/changelog.gz"

for script in postinst prerm postrm; do install -m 0755 "tools/packaging/debian/$script" "$root/DEBIAN/$script"; done
echo /etc/edge/edged.json > "$root/DEBIAN/conffiles"
# The oldest glibc the binaries need, from their versioned symbols.
glibc=$(find "$lib" -type f \( -name edged -o -name '*.so' \) -exec readelf --dyn-syms -W {} + | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: edge
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: libc6 (>= $glibc), libgcc-s1, libstdc++6, libssl3 | libssl3t64 | libssl1.1, adduser${system_sqlite:+, libsqlite3-0 (>= 3.31.1)}
Recommends: libgpiod2
Suggests: ffmpeg
Section: video
Priority: optional
Description: image classification on camera frames for small devices
 edged runs an INT8 ONNX image classifier (made with edge-prep) on frames from
 V4L2, Raspberry Pi and HTTP MJPEG cameras or folders, with motion, GPIO and
 HTTP triggers, GPIO actions, snapshots, a SQLite result store and a local
 HTTP API with a live page. It runs as a hardened systemd service (edged),
 configured in /etc/edge/edged.json, keeping its results in /var/lib/edge.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/edge_${version}_${arch}.deb
fakeroot dpkg-deb -Zxz --root-owner-group --build "$root" "$deb" >/dev/null
echo "package: $deb ($(du -h "$deb" | cut -f1); installed $((size / 1024)) MiB; edged $(du -h "$lib/edged" | cut -f1))"
