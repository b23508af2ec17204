#!/usr/bin/env bash
# Publishes edged as a trimmed Native-AOT binary and fails on any trim/AOT warning.
#   tools/publish.sh [linux-x64|linux-arm64] [OUT]     (default: linux-x64, artifacts/edged-RID)
# linux-arm64 cross-compiles; it needs: clang lld gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross
set -euo pipefail
cd "$(dirname "$0")/.."
rid=${1:-linux-x64}
out=${2:-artifacts/edged-$rid}
log=$(mktemp)
dotnet publish src/Edge.Daemon -c Release -r "$rid" -o "$out" -p:TrimmerSingleWarn=false 2>&1 | tee "$log"
if grep -E ': warning [A-Z]+[0-9]+' "$log" | grep -v NU1603 >/dev/null; then
  echo "publish: warnings above; AOT builds must be warning-free" >&2
  exit 1
fi
rm -f "$log"
echo "publish: $out/edged ($(du -h "$out/edged" | cut -f1))"
