#!/usr/bin/env bash
# Installs Edge's two commands on this machine, so the README's commands work as written:
#   edged       the Native-AOT daemon (tools/publish.sh), with its native libraries and the shipped models
#   edge-prep   the model-preparation tool (a framework-dependent build; it needs the .NET 10 runtime)
#
#   tools/install.sh [--prefix DIR] [--no-edge-prep]
#   tools/install.sh --service        build the Debian package (tools/package.sh) and install it with apt:
#                                     edged as a hardened systemd service, config in /etc/edge
#
# PREFIX defaults to /usr/local (on every user's PATH; sudo is used only to copy the built files there when
# PREFIX is not writable); commands go to PREFIX/bin, their files to PREFIX/lib/edge and PREFIX/lib/edge-prep.
# Rerunning replaces an earlier install. Runs tools/setup.sh first (with --service, only its publishing part).
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."
# Paths given on the command line are the caller's, not the repository's.
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$caller/$1" ;; esac; }
fail() { echo "install: $*" >&2; exit 1; }
usage() { echo "usage: tools/install.sh [--prefix DIR] [--no-edge-prep] | --service" >&2; exit 2; }
prefix=""; prep=1; service=0
while (($#)); do
  case "$1" in
    --prefix) (($# >= 2)) || usage; prefix=$(absolute "$2"); shift 2 ;;
    --no-edge-prep) prep=0; shift ;;
    --service) service=1; shift ;;
    -h|--help) usage ;;
    *) echo "install: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$(uname -m)" in
  x86_64) rid=linux-x64; arch=amd64 ;;
  aarch64) rid=linux-arm64; arch=arm64 ;;
  *) fail "machine '$(uname -m)': Edge builds for x86_64 and aarch64" ;;
esac
if ((service)); then tools/setup.sh --publish; else tools/setup.sh; fi

if ((service)); then
  [ -z "$prefix" ] || fail "--service installs the Debian package (/usr/bin/edged); --prefix does not apply"
  # A folder of its own, so the one package in it is the one just built (apt reads it as _apt: world-readable).
  debs=$(mktemp -d)
  trap 'rm -rf "$debs"' EXIT
  chmod 0755 "$debs"
  tools/package.sh "$arch" --out "$debs"
  deb=$(find "$debs" -name "edge_*_${arch}.deb" | head -n 1)
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # --reinstall: a rebuild of the same version replaces what is installed instead of being skipped.
  $sudo apt-get install -y --reinstall "$deb"
  echo "install: edged runs as the systemd service 'edged' (config /etc/edge/edged.json, results /var/lib/edge)"
  echo "next: edit /etc/edge/edged.json for your camera, then: sudo -u edge edged check --config /etc/edge/edged.json && sudo systemctl restart edged"
  exit 0
fi

prefix=${prefix:-/usr/local}
mkdir -p "$prefix" 2>/dev/null || true
sudo=""
if [ ! -w "$prefix" ] || { [ -d "$prefix/bin" ] && [ ! -w "$prefix/bin" ]; }; then
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
fi
$sudo mkdir -p "$prefix/bin" "$prefix/lib" || fail "cannot create '$prefix/bin' (give --prefix DIR)"
prefix=$(cd "$prefix" && pwd)

echo "install: publishing edged ($rid, Native AOT)"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
tools/publish.sh "$rid" "$stage/edge" > "$stage/publish.log" 2>&1 || { tail -n 20 "$stage/publish.log"; fail "publishing edged failed"; }
# The symbols (edged.dbg, *.pdb) stay out of the install; tools/publish.sh's folder keeps them.
rm -f "$stage"/edge/*.dbg "$stage"/edge/*.pdb

if ((prep)); then
  echo "install: publishing edge-prep"
  dotnet publish tools/Edge.ModelPrep -c Release -o "$stage/edge-prep" --verbosity quiet --nologo > "$stage/prep.log" 2>&1 \
    || { tail -n 20 "$stage/prep.log"; fail "publishing edge-prep failed"; }
  rm -f "$stage"/edge-prep/*.pdb
  # A wrapper rather than a link: the .NET runtime that built it is found wherever it is installed.
  dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
  # Single-quoted for the shell, whatever characters the paths hold.
  quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
  {
    echo '#!/bin/sh'
    echo '# edge-prep, installed by tools/install.sh'
    echo "[ -n \"\${DOTNET_ROOT:-}\" ] || DOTNET_ROOT=$(quote "$dotnet_root")"
    echo 'export DOTNET_ROOT'
    echo "exec $(quote "$prefix/lib/edge-prep/edge-prep") \"\$@\""
  } > "$stage/edge-prep.sh"
fi

# Into place: the old install goes only once the new one is built.
$sudo rm -rf "$prefix/lib/edge"
$sudo cp -r "$stage/edge" "$prefix/lib/edge"
$sudo ln -sfn ../lib/edge/edged "$prefix/bin/edged"
if ((prep)); then
  $sudo rm -rf "$prefix/lib/edge-prep"
  $sudo cp -r "$stage/edge-prep" "$prefix/lib/edge-prep"
  $sudo install -m 0755 "$stage/edge-prep.sh" "$prefix/bin/edge-prep"
fi

echo "install: edged$( ((prep)) && echo " and edge-prep") in $prefix/bin ($(du -sh "$prefix/lib/edge" | cut -f1) for edged$( ((prep)) && echo ", $(du -sh "$prefix/lib/edge-prep" | cut -f1) for edge-prep"))"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "install: $prefix/bin is not on PATH: add it (export PATH=\"$prefix/bin:\$PATH\")" >&2 ;;
esac
echo "next: edged classify models/samples"
