#!/usr/bin/python3
"""Reference for edge-prep's training speed: the same network trained by PyTorch (Debian's
python3-torch) with the same batch size, threads and input, on Fashion-MNIST images held in memory.
Prints one JSON line: {"images_per_second": ..., "steps": ...}. Used by tools/bench/train-speed.sh."""
import argparse, gzip, json, time

import numpy as np
import torch
import torch.nn as nn
import torchvision

p = argparse.ArgumentParser()
p.add_argument("--arch", default="mobilenetv2")
p.add_argument("--width", type=float, default=0.5)
p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=60)
p.add_argument("--warmup", type=int, default=5)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)

with gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
with gzip.open("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
x_all = torch.from_numpy(((images.astype(np.float32) / 255) - 0.286) / 0.353)
y_all = torch.from_numpy(labels)

if a.arch == "mobilenetv2":
    # torchvision's MobileNetV2 made like edge-prep's for a 28-pixel gray input: 1 input channel,
    # stride 1 in the stem and in the first 24-channel block (the last feature map stays 4x4).
    net = torchvision.models.mobilenet_v2(width_mult=a.width, num_classes=10)
    stem = net.features[0][0]
    net.features[0][0] = nn.Conv2d(1, stem.out_channels, 3, 1, 1, bias=False)
    net.features[2].conv[1][0].stride = (1, 1)
else:
    raise SystemExit(f"unsupported --arch {a.arch}")

opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
net.train()
g = torch.Generator().manual_seed(1)
order = torch.randperm(len(x_all), generator=g)
seen = 0
for step in range(a.warmup + a.steps):
    if step == a.warmup:
        t0 = time.perf_counter()
        seen = 0
    idx = order[(step * a.batch_size) % (len(order) - a.batch_size):][: a.batch_size]
    x, y = x_all[idx], y_all[idx]
    opt.zero_grad()
    loss = loss_fn(net(x), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
    opt.step()
    seen += len(idx)
print(json.dumps({"images_per_second": seen / (time.perf_counter() - t0), "steps": a.steps, "torch": torch.__version__}))
