#!/usr/bin/env bash
# Training speed of edge-prep against PyTorch on the same network, batch size and threads, in the
# same run (the machine is shared: only same-run ratios mean anything). Prints medians of 3 rounds.
#   tools/bench/train-speed.sh [threads=2] [steps=60] [batch=128]
set -euo pipefail
cd "$(dirname "$0")/../.."
threads=${1:-2}; steps=${2:-60}; batch=${3:-128}; warm=5
dotnet build tools/Edge.ModelPrep -c Release -v q -nologo >/dev/null
prep=tools/Edge.ModelPrep/bin/Release/net10.0/linux-x64/edge-prep.dll
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ours=(); theirs=(); waits=()
for round in 1 2 3; do
  rm -rf "$tmp/run"
  dotnet "$prep" train --data fashion-mnist --arch mobilenetv2 --width 0.5 --batch-size "$batch" --threads "$threads" \
    --max-steps $((steps + warm)) --epochs 1 --no-eval --out "$tmp/run" --json > "$tmp/summary.json" 2>/dev/null
  # images/s over the steps after the warm-up ones, from the per-step clock in steps.csv
  ours+=("$(awk -F, -v w=$warm -v b="$batch" 'NR==w+1{t0=$5} NR>w+1{n+=b; t=$5} END{printf "%.2f", n/(t-t0)}' "$tmp/run/steps.csv")")
  waits+=("$(/usr/bin/python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["data_wait_fraction"]*100,2))' "$tmp/summary.json")")
  theirs+=("$(/usr/bin/python3 tools/bench/torch_train_speed.py --batch-size "$batch" --threads "$threads" --steps "$steps" --warmup $warm | /usr/bin/python3 -c 'import json,sys; print(round(json.load(sys.stdin)["images_per_second"],2))')")
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
o=$(median "${ours[@]}"); t=$(median "${theirs[@]}"); w=$(median "${waits[@]}")
echo "rounds: edge-prep ${ours[*]} img/s; pytorch ${theirs[*]} img/s; data wait ${waits[*]} %"
echo "MobileNetV2-0.5 28x28, batch $batch, $threads threads: edge-prep $o img/s, PyTorch $t img/s, ratio $(awk -v a="$o" -v b="$t" 'BEGIN{printf "%.3f", a/b}'), data wait $w% of step time"
