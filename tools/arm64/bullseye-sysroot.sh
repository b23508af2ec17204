#!/usr/bin/env bash
# A Debian 11 (bullseye, glibc 2.31) arm64 sysroot for the glibc-2.31 build of edged (JetPack 5, Ubuntu 20.04):
#   tools/arm64/bullseye-sysroot.sh [DIR]     (default: artifacts/sysroot-bullseye-arm64; prints DIR)
# debootstrap's first stage fetches the packages from the Debian mirror apt uses (about a minute, once);
# they are unpacked, not installed (nothing runs), and absolute symbolic links are made relative so that
# the linker finds libc, libm and libpthread inside the sysroot instead of the host's. Also the root
# qemu-aarch64 runs the build in (-L DIR), so the build is tried against bullseye's own glibc and SQLite.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-artifacts/sysroot-bullseye-arm64}
packages=libc6-dev,libgcc-10-dev,libstdc++-10-dev,zlib1g-dev,libsqlite3-0,libssl1.1,linux-libc-dev
stamp=$dir/.edge-sysroot
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$packages" ]; then echo "$dir"; exit 0; fi
command -v debootstrap >/dev/null || {
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
debootstrap --arch=arm64 --foreign --variant=minbase --include="$packages" bullseye "$dir" http://deb.debian.org/debian > "$dir.log" 2>&1 \
  || { tail -n 20 "$dir.log" >&2; echo "sysroot: debootstrap failed (log: $dir.log)" >&2; exit 1; }
for deb in "$dir"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$dir"; done
while IFS= read -r -d '' link; do
  target=$(readlink "$link")
  case "$target" in /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$dir$target")" "$link" ;; esac
done < <(find "$dir" -type l -print0)
rm -rf "$dir"/var/cache/apt/archives/*.deb
echo "$packages" > "$stamp"
echo "$dir"
