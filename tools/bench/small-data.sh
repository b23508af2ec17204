#!/usr/bin/env bash
# edge-prep's defaults on a small photo set (issue 10's goal): 1,000 Fashion-MNIST test images as a
# 96x96 RGB JPEG ImageFolder, trained with no flag but --epochs, exported, and classified by `edged
# classify` on 1,000 other held-out images. Prints time, peak RSS and top-1 per run.
#   tools/bench/small-data.sh [epochs...]        (default: 5 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
epochs=("$@"); [ ${#epochs[@]} -eq 0 ] && epochs=(5 20)
work=${WORK:-$(mktemp -d)}
dotnet build tools/Edge.ModelPrep -c Release -v q -nologo >/dev/null
dotnet build src/Edge.Daemon -c Release -v q -nologo >/dev/null
prep="dotnet tools/Edge.ModelPrep/bin/Release/net10.0/linux-x64/edge-prep.dll"
edged="dotnet src/Edge.Daemon/bin/Release/net10.0/edged.dll"
[ -d "$work/train" ] || /usr/bin/python3 tools/bench/fashion_folder.py "$work/train" --per-class 100 >/dev/null
[ -d "$work/test" ] || /usr/bin/python3 tools/bench/fashion_folder.py "$work/test" --per-class 100 --offset 100 >/dev/null
for e in "${epochs[@]}"; do
  run="$work/run$e"; rm -rf "$run"
  /usr/bin/time -f '%e %M' -o "$work/time$e" $prep train --data "$work/train" --out "$run" --epochs "$e" > "$work/train$e.log" 2>&1
  $prep export "$run" --out "$work/model$e.onnx" > /dev/null
  $edged classify --model "$work/model$e.onnx" "$work/test" --json > "$work/classify$e.json"
  acc=$(/usr/bin/python3 -c '
import json, os, sys
r = json.load(open(sys.argv[1]))["results"]
ok = sum(1 for x in r if x["ok"] and x["top"][0]["label"] == os.path.basename(os.path.dirname(x["path"])))
print(f"{100*ok/len(r):.1f}% of {len(r)}")' "$work/classify$e.json")
  read -r secs kib < "$work/time$e"
  echo "epochs $e: $(grep -m1 "memory: about" "$work/train$e.log" || true)"
  echo "epochs $e: train ${secs} s, peak RSS $(awk -v k="$kib" 'BEGIN{printf "%.2f GiB", k/1048576}'), held-out top-1 (edged classify) $acc"
done
