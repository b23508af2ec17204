#!/usr/bin/env bash
# Rebuilds the trained model shipped in models/ with edge-prep, the way its figures in the README
# were measured: train (budget: 8 epochs of MobileNetV2-0.5 on Fashion-MNIST, about 33 minutes on
# a 2-core x86-64 machine), export (parity-checked), INT8 quantization (verified), then the sample
# images (the first test image of each class). Nothing here runs at build or test time.
#   tools/make-models.sh [run-folder=runs/fashion-mobilenetv2]
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-runs/fashion-mobilenetv2}
prep=(dotnet run -c Release --project tools/Edge.ModelPrep --)
[ -f "$run/checkpoints/last/state.json" ] || "${prep[@]}" train --data fashion-mnist --arch mobilenetv2 --width 0.5 --epochs 8 --threads 2 --out "$run"
"${prep[@]}" export "$run" --out "$run/model.onnx"
"${prep[@]}" quantize "$run/model.onnx" models/fashion-mnist-mobilenetv2.int8.onnx \
    --calibration fashion-mnist --samples 512 --method minmax --eval fashion-mnist
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
echo "wrote models/fashion-mnist-mobilenetv2.int8.onnx and models/fashion-samples/"
