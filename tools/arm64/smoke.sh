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
x64=artifacts/edged-linux-x64/edged
qemu="qemu-aarch64-static -cpu cortex-a72 -L /usr/aarch64-linux-gnu"
arm64() { unshare -m sh -c "mount --bind '$cpuinfo' /proc/cpuinfo && exec $qemu $out/edged $*"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
compare=tools/arm64/same_results.py
# The FP32 default model: same top-1 and every score within 1e-4. The INT8 model: same top-1 (its integer
# kernels differ between architectures).
"$x64" classify models/samples --json > "$work/x64.json"
arm64 classify models/samples --json > "$work/arm64.json"
/usr/bin/python3 "$compare" classify "$work/x64.json" "$work/arm64.json" 1e-4
int8=models/fashion-mnist-resnet20-pruned.int8.onnx
"$x64" classify --model "$int8" models/fashion-samples --json > "$work/x64-int8.json"
arm64 classify --model "$int8" models/fashion-samples --json > "$work/arm64-int8.json"
/usr/bin/python3 "$compare" classify "$work/x64-int8.json" "$work/arm64-int8.json"
# A short `edged run` on the sample frames: the stored results agree.
settings="--Source:Fps=20 --Trigger:MaxRate=20 --Http:MaxQueuedUploads=0"
/usr/bin/python3 "$compare" collect 6 "$work/x64.db" -- "$x64" run $settings --Store:Path="$work/x64.db" --Http:Url=http://127.0.0.1:18781
/usr/bin/python3 "$compare" collect 6 "$work/arm64.db" -- unshare -m sh -c \
  "mount --bind '$cpuinfo' /proc/cpuinfo && exec $qemu $out/edged run $settings --Store:Path=$work/arm64.db --Http:Url=http://127.0.0.1:18782"
/usr/bin/python3 "$compare" stored 6 "$work/x64.db" "$work/arm64.db"
echo "arm64 smoke: $out/edged classifies and runs as the x64 build does"

# The glibc-2.31 build (JetPack 5, Ubuntu 20.04, Debian 11), run on Debian 11's own loader, glibc, OpenSSL and
# SQLite (qemu -L the bullseye sysroot it was linked against): the same answers and stored results again.
old=artifacts/edged-linux-arm64-glibc2.31
tools/publish.sh linux-arm64-glibc2.31 "$old" > artifacts/publish-arm64-glibc2.31.log 2>&1 || { tail -n 40 artifacts/publish-arm64-glibc2.31.log; exit 1; }
tail -n 2 artifacts/publish-arm64-glibc2.31.log
sysroot=$(realpath "$(tools/arm64/bullseye-sysroot.sh)")
# Its libe_sqlite3.so links to /usr/lib/aarch64-linux-gnu/libsqlite3.so.0, which this host resolves itself: a copy points into the sysroot.
run=$work/glibc2.31
cp -a "$old" "$run"
ln -sfn "$sysroot/usr/lib/aarch64-linux-gnu/libsqlite3.so.0" "$run/libe_sqlite3.so"
bullseye="qemu-aarch64-static -cpu cortex-a72 -L $sysroot"
unshare -m sh -c "mount --bind '$cpuinfo' /proc/cpuinfo && exec $bullseye $run/edged classify models/samples --json" > "$work/bullseye.json"
/usr/bin/python3 "$compare" classify "$work/x64.json" "$work/bullseye.json" 1e-4
/usr/bin/python3 "$compare" collect 6 "$work/bullseye.db" -- unshare -m sh -c \
  "mount --bind '$cpuinfo' /proc/cpuinfo && exec $bullseye $run/edged run $settings --Store:Path=$work/bullseye.db --Http:Url=http://127.0.0.1:18783"
/usr/bin/python3 "$compare" stored 6 "$work/x64.db" "$work/bullseye.db"
echo "arm64 smoke: $old/edged (glibc 2.31) classifies and runs on Debian 11's libraries as the x64 build does"
