#!/usr/bin/env bash
# Installs what Edge needs on a fresh Debian 12 / Ubuntu 22.04+ machine with the .NET 10 SDK,
# idempotently: Debian packages only when missing, then a NuGet restore.
#   tools/setup.sh          everything: build, tests (Python reference tools) and AOT publishing
#   tools/setup.sh --publish  only what publishing and packaging edged need (tools/install.sh --service)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # Reference implementations the tests check against (never used by the product).
  python3-onnx python3-numpy python3-pil python3-torch python3-torchvision
  # A JSON Schema validator: every --json output is checked against its documented schema (docs/json).
  python3-jsonschema
  # A camera for the daemon tests (ffmpeg -f lavfi -i testsrc ... -f mjpeg -) and Fashion-MNIST for quantization.
  ffmpeg dataset-fashion-mnist
  # An independent JPEG encoder (cjpeg: restart intervals, optimised tables) for the JPEG scan check's tests.
  libjpeg-turbo-progs
  # Real clients for the daemon tests: headless Chromium for the live page, promtool for /metrics.
  chromium prometheus
  # Native AOT publishing of edged for linux-x64.
  clang zlib1g-dev
  # Packaging and its tests: the .deb (tools/package.sh), lintian, a Debian chroot to install it into,
  # and systemd-analyze for the unit.
  fakeroot lintian debootstrap systemd
  # edge-prep: a font for the labels of its report plots; readelf to check the libtorch load fix.
  fonts-dejavu-core binutils
)
project=Edge.sln
if [ "${1:-}" = "--publish" ]; then
  packages=(clang zlib1g-dev fakeroot binutils)
  project=src/Edge.Daemon/Edge.Daemon.csproj
elif [ -n "${1:-}" ]; then
  echo "setup: unknown argument '$1' (expected nothing or --publish)" >&2
  exit 2
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK (dotnet) is not on PATH" >&2; exit 1; }
dotnet restore "$project" --verbosity quiet
echo "setup: ready"
