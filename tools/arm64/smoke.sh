#!/usr/bin/env bash
# Cross-publishes edged for linux-arm64 (AOT, warning-free) and runs it under qemu on the shipped
# samples, expecting the same answers as on x64. ONNX Runtime's cpuinfo reader crashes on the host's
# x86 /proc/cpuinfo, so a Raspberry Pi 4 one is bind-mounted over it in a private mount namespace.
# Emulated timings mean nothing; this checks that the arm64 build loads its natives and classifies.
set -euo pipefail
here=$(dirname "$0")
cd "$here/../.."
packages=(clang lld gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
out=artifacts/edged-linux-arm64
tools/publish.sh linux-arm64 "$out" > artifacts/publish-arm64.log 2>&1 || { tail -n 40 artifacts/publish-arm64.log; exit 1; }
tail -n 1 artifacts/publish-arm64.log
cpuinfo=$(realpath tools/arm64/cpuinfo-rpi4.txt)
actual=$(unshare -m sh -c "mount --bind '$cpuinfo' /proc/cpuinfo && exec qemu-aarch64-static -cpu cortex-a72 -L /usr/aarch64-linux-gnu $out/edged classify models/samples --json" \
  | grep -o '"label": "[a-z]*"' | head -n 100 | tr '\n' ' ')
expected=$(artifacts/edged-linux-x64/edged classify models/samples --json | grep -o '"label": "[a-z]*"' | head -n 100 | tr '\n' ' ')
if [ -z "$actual" ] || [ "$actual" != "$expected" ]; then
  echo "arm64 smoke: answers differ from x64" >&2
  echo "  arm64: $actual" >&2
  echo "  x64:   $expected" >&2
  exit 1
fi
echo "arm64 smoke: $out/edged classifies the samples as the x64 build does"
