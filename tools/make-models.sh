#!/usr/bin/env bash
# Rebuilds the trained model shipped in models/ with edge-prep, the way its figures in models/README.md
# were measured (seed 1 throughout, two libtorch threads):
#   1. train a ResNet-20 at width 1.5 (24/48/96 channels) with a stride-2 stem on Fashion-MNIST
#      (19.2 M MACs; 30 epochs, 27 minutes on a 2-core x86-64 machine),
#   2. prune it to at most 9.9 M MACs (about 52% of them) by structured pruning, fine-tuning the
#      pruned network for 10 epochs distilled from the unpruned one (9 minutes),
#   3. export (parity-checked) and quantize to INT8 (min-max, 512 calibration images, 8-bit weights as the shipped file has them
#      (models/README.md says why; without --weight-bits 8 it answers the same on every CPU), verified on the
#      10,000 test images), then the sample images (the first test image of each class).
# Nothing here runs at build or test time.
#   tools/make-models.sh [run-folder=runs/fashion-resnet20s2]
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-runs/fashion-resnet20s2}
pruned="$run-p10"
prep=(dotnet run -c Release --project tools/Edge.ModelPrep --)
model=models/fashion-mnist-resnet20-pruned.int8.onnx
if [ ! -f "$run/checkpoints/last/state.json" ]; then
  "${prep[@]}" train --data fashion-mnist --arch resnet20 --width 1.5 --stem-stride 2 --epochs 30 --threads 2 --seed 1 --out "$run"
fi
if [ ! -f "$pruned/pruning.json" ]; then
  resume=(); [ -d "$pruned" ] && resume=(--resume)
  "${prep[@]}" prune "$run" --target-macs 9.9M --epochs 10 --teacher source --threads 2 --out "$pruned" "${resume[@]}"
fi
"${prep[@]}" export "$pruned" --out "$pruned/model.onnx"
"${prep[@]}" quantize "$pruned/model.onnx" "$model" \
    --calibration fashion-mnist --samples 512 --method minmax --weight-bits 8 --eval fashion-mnist
mkdir -p models/fashion-samples
/usr/bin/python3 - <<'PY'
import gzip, numpy as np
from PIL import Image
names = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
x = np.frombuffer(gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 28, 28)
y = np.frombuffer(gzip.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
for c, name in enumerate(names):
    i = int(np.argmax(y == c))
    Image.fromarray(x[i]).resize((112, 112), Image.NEAREST).save(f"models/fashion-samples/{name}.png")
PY
echo "wrote $model and models/fashion-samples/; update the figures in models/README.md (the tests read them)"
