#!/usr/bin/env bash
# Peak RSS of edge-prep training against PyTorch for the same network, batch, input and steps, in the
# same run, plus edge-prep's own estimate made before its first step.
#   tools/bench/train-memory.sh [arch=mobilenetv2] [width=1.0] [size=224] [batch=128] [steps=2] [threads=2]
set -euo pipefail
cd "$(dirname "$0")/../.."
arch=${1:-mobilenetv2}; width=${2:-1.0}; size=${3:-224}; batch=${4:-128}; steps=${5:-2}; threads=${6:-2}
dotnet build tools/Edge.ModelPrep -c Release -v q -nologo >/dev/null
prep=tools/Edge.ModelPrep/bin/Release/net10.0/linux-x64/edge-prep.dll
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
theirs=$(/usr/bin/python3 tools/bench/torch_train_memory.py "$arch" "$width" "$size" "$batch" "$steps" "$threads")
# Enough images for the steps (and a few for validation), as 3-channel images of SIZE x SIZE.
/usr/bin/time -f '%M' -o "$tmp/peak" dotnet "$prep" train --data fashion-mnist --arch "$arch" --width "$width" --input-size "$size" \
  --color rgb --pretrained none --batch-size "$batch" --max-steps "$steps" --epochs 1 --no-eval --threads "$threads" \
  --max-images $((batch * steps + 16)) --val-fraction 0.01 --out "$tmp/run" > "$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
ours=$(awk '{printf "%.0f", $1/1024}' "$tmp/peak")
estimate=$(tr '\r' '\n' < "$tmp/log" | grep -m1 -o 'memory: about [0-9.]* GiB' | grep -o '[0-9.]*' || echo '?')
echo "$arch $width ${size}x${size} batch $batch, $steps steps, $threads threads: edge-prep peak $ours MiB (estimated ${estimate} GiB), PyTorch $theirs MiB, ratio $(awk -v a="$ours" -v b="$theirs" 'BEGIN{printf "%.3f", a/b}')"
