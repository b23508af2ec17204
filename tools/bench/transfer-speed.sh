#!/usr/bin/env bash
# Fine-tuning and distillation speed of edge-prep against PyTorch (tools/bench/torch_transfer_speed.py),
# same networks, batch, input and threads, in the same run; medians of 3 rounds.
#   tools/bench/transfer-speed.sh TEACHER_RUN TRAIN_DIR [threads=2] [steps=20]
set -euo pipefail
cd "$(dirname "$0")/../.."
teacher=$1; train=$2; threads=${3:-2}; steps=${4:-20}; warm=5
dotnet build tools/Edge.ModelPrep -c Release -v q -nologo >/dev/null
prep="dotnet tools/Edge.ModelPrep/bin/Release/net10.0/linux-x64/edge-prep.dll"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
rate() { awk -F, -v w=$warm -v b=32 'NR==w+1{t0=$5} NR>w+1{n+=b; t=$5} END{printf "%.2f", n/(t-t0)}' "$1/steps.csv"; }
torch() { /usr/bin/python3 tools/bench/torch_transfer_speed.py "$1" --threads "$threads" --steps "$steps" --warmup $warm | /usr/bin/python3 -c 'import json,sys; print(round(json.load(sys.stdin)["images_per_second"],2))'; }
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
fo=(); ft=(); do_=(); dt=()
for round in 1 2 3; do
  rm -rf "$tmp"/f "$tmp"/d
  $prep train --data "$train" --batch-size 32 --threads "$threads" --max-steps $((steps + warm)) --epochs 1 --no-eval --out "$tmp/f" >/dev/null 2>&1
  fo+=("$(rate "$tmp/f")"); ft+=("$(torch finetune)")
  $prep distill --teacher "$teacher" --data "$train" --arch mobilenetv2 --width 0.5 --batch-size 32 --threads "$threads" \
    --max-steps $((steps + warm)) --epochs 1 --no-eval --out "$tmp/d" >/dev/null 2>&1
  do_+=("$(rate "$tmp/d")"); dt+=("$(torch distill)")
done
for kind in fine-tune distill; do
  if [ $kind = fine-tune ]; then o=$(median "${fo[@]}"); t=$(median "${ft[@]}"); r="${fo[*]} / ${ft[*]}"; else o=$(median "${do_[@]}"); t=$(median "${dt[@]}"); r="${do_[*]} / ${dt[*]}"; fi
  echo "$kind (96x96, batch 32, $threads threads): edge-prep $o img/s, PyTorch $t img/s, ratio $(awk -v a="$o" -v b="$t" 'BEGIN{printf "%.3f", a/b}')  [rounds: $r]"
done
