#!/usr/bin/env bash
# Distillation against training alone (issue 10's goal): a MobileNetV2-0.5 student on a small photo
# folder, trained alone and distilled from a teacher, same data, epochs and seeds; test top-1 on
# held-out photos for each seed, then both means and spreads.
#   tools/bench/distill.sh TEACHER TRAIN_DIR TEST_DIR [epochs=10] [seeds="1 2 3"]
set -euo pipefail
cd "$(dirname "$0")/../.."
teacher=$1; train=$2; test=$3; epochs=${4:-10}; seeds=${5:-1 2 3}
dotnet build tools/Edge.ModelPrep -c Release -v q -nologo >/dev/null
prep="dotnet tools/Edge.ModelPrep/bin/Release/net10.0/linux-x64/edge-prep.dll"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
top1() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["test"]["top1"], round(d["images_per_second"],1))' "$1"; }
alone=(); distilled=()
for s in $seeds; do
  common=(--data "$train" --test-data "$test" --arch mobilenetv2 --width 0.5 --epochs "$epochs" --seed "$s" --json)
  $prep train "${common[@]}" --pretrained none --out "$tmp/alone$s" > "$tmp/alone$s.json" 2> "$tmp/alone$s.log"
  $prep distill "${common[@]}" --teacher "$teacher" --out "$tmp/distill$s" > "$tmp/distill$s.json" 2> "$tmp/distill$s.log"
  read -r a ar < <(top1 "$tmp/alone$s.json"); read -r d dr < <(top1 "$tmp/distill$s.json")
  alone+=("$a"); distilled+=("$d")
  echo "seed $s: alone $a% ($ar img/s), distilled $d% ($dr img/s)"
done
/usr/bin/python3 - "${alone[*]}" "${distilled[*]}" <<'PY'
import statistics as st, sys
a = [float(x) for x in sys.argv[1].split()]; d = [float(x) for x in sys.argv[2].split()]
sd = lambda v: st.stdev(v) if len(v) > 1 else 0.0
print(f"alone: mean {st.mean(a):.2f}% (sd {sd(a):.2f}, {min(a):.1f}-{max(a):.1f}); distilled: mean {st.mean(d):.2f}% (sd {sd(d):.2f}, {min(d):.1f}-{max(d):.1f}); gain {st.mean(d)-st.mean(a):+.2f} points")
PY
