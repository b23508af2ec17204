#!/usr/bin/env bash
# Publishes edged as a trimmed Native-AOT binary and fails on any trim/AOT warning.
#   tools/publish.sh [linux-x64|linux-arm64|linux-arm64-glibc2.31] [OUT]     (default: linux-x64, artifacts/edged-RID)
# linux-arm64 cross-compiles; it needs: clang lld gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross
set -euo pipefail
cd "$(dirname "$0")/.."
rid=${1:-linux-x64}
out=${2:-artifacts/edged-$rid}
log=$(mktemp)
extra=()
target=$rid
if [ "$rid" = linux-arm64-glibc2.31 ]; then
  # JetPack 5 / Ubuntu 20.04 / Debian 11: linked against bullseye's glibc 2.31 (a sysroot), with its own
  # intermediate folder so the two arm64 builds never share a link; SQLite comes from the system (libsqlite3-0),
  # since the NuGet build of it needs glibc 2.34.
  sysroot=$(tools/arm64/bullseye-sysroot.sh)
  target=linux-arm64
  extra=(-p:SysRoot="$(realpath "$sysroot")" -p:IntermediateOutputPath=obj/Release/net10.0/linux-arm64-glibc2.31/ -p:OutputPath=bin/Release/net10.0/linux-arm64-glibc2.31/)
fi
dotnet publish src/Edge.Daemon -c Release -r "$target" -o "$out" -p:TrimmerSingleWarn=false "${extra[@]}" 2>&1 | tee "$log"
if grep -E ': warning [A-Z]+[0-9]+' "$log" | grep -v NU1603 >/dev/null; then
  echo "publish: warnings above; AOT builds must be warning-free" >&2
  exit 1
fi
rm -f "$log"
if [ "$rid" = linux-arm64-glibc2.31 ]; then
  ln -sfn /usr/lib/aarch64-linux-gnu/libsqlite3.so.0 "$out/libe_sqlite3.so"
  newest=$(find "$out" -maxdepth 1 -type f \( -name edged -o -name '*.so' \) -exec readelf --dyn-syms -W {} + | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
  [ "$(printf '%s\n2.31\n' "$newest" | sort -V | tail -n 1)" = 2.31 ] || { echo "publish: the build needs glibc $newest, more than 2.31" >&2; exit 1; }
  echo "publish: needs glibc $newest; libe_sqlite3.so is the system's libsqlite3.so.0"
fi
echo "publish: $out/edged ($(du -h "$out/edged" | cut -f1))"
