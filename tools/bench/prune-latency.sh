#!/usr/bin/env bash
# INT8 latency of channel-only against depth+channel pruning at the same MAC budget: architecture only
# (weights from a few training steps; latency does not depend on them). Usage: tools/bench/prune-latency.sh [edge-prep binary] [work folder]
set -euo pipefail
EP=$(realpath "${1:-tools/Edge.ModelPrep/bin/Release/net10.0/linux-x64/edge-prep}"); R=${2:-runs/prune-latency}; mkdir -p "$R"; cd "$R"
t() { [ -f "$2/checkpoints/last/state.json" ] || $EP train --data fashion-mnist "${@:3}" --epochs 1 --max-steps 40 --threads 2 --no-eval --out $2 >/dev/null 2>&1; }
t r r --arch resnet20 --width 1.5 --stem-stride 2
t m m --arch mobilenetv2 --width 0.5
p() { [ -f "$2/pruning.json" ] || $EP prune $1 --out $2 --epochs 0 --no-eval "${@:3}" >/dev/null 2>&1; }
p r r-d0 --target-macs 9.9M
p r r-d2 --target-macs 9.9M --drop-blocks 2
p r r-d3 --target-macs 9.9M --drop-blocks 3
p r r-d4 --target-macs 9.9M --drop-blocks 4
p m m-d0 --target-macs 50%
p m m-d4 --target-macs 50% --drop-blocks 4
p m m-d6 --target-macs 50% --drop-blocks 6
for n in r r-d0 r-d2 r-d3 r-d4 m m-d0 m-d4 m-d6; do
  src=$n; [ -d $n/pruned ] && src=$n/pruned
  [ -f $n.int8.onnx ] || { $EP export $src --out $n.onnx >/dev/null 2>&1; $EP quantize $n.onnx $n.int8.onnx -c fashion-mnist -n 64 --no-latency >/dev/null 2>&1; }
  echo "$n $(python3 -c "import json;print(json.load(open('$n/pruning.json'))['after']['macs'] if '$n'.count('-') else '')" 2>/dev/null)"
done
for round in 1 2 3; do
  for n in r r-d0 r-d2 r-d3 r-d4 m m-d0 m-d4 m-d6; do
    echo "$round $n $($EP eval $n.int8.onnx -d fashion-mnist --max-images 10 --latency-runs 3000 --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["latency"]["p50_ms"])')"
  done
done
