#!/usr/bin/python3
"""A photo-like ImageFolder made from Fashion-MNIST (benchmarks and tests of edge-prep on small data).

  fashion_folder.py OUT [--per-class 100] [--size 96] [--offset 0] [--split t10k]

Writes OUT/<class>/<index>.jpg: the first PER_CLASS images of each class of the split (from OFFSET on),
upscaled to SIZE x SIZE (bicubic) as RGB JPEG (quality 90). Two calls with different offsets give
disjoint training and held-out sets. Needs Debian's dataset-fashion-mnist, numpy and PIL.
"""
import argparse, gzip, os
import numpy as np
from PIL import Image

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]

def read(split):
    root = "/usr/share/datasets/fashion-mnist"
    with gzip.open(f"{root}/{split}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(f"{root}/{split}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels

def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--offset", type=int, default=0, help="skip this many images of each class first")
    p.add_argument("--split", default="t10k", choices=["t10k", "train"])
    a = p.parse_args()
    images, labels = read(a.split)
    for c, name in enumerate(CLASSES):
        os.makedirs(os.path.join(a.out, name), exist_ok=True)
        idx = np.nonzero(labels == c)[0][a.offset:a.offset + a.per_class]
        if len(idx) < a.per_class:
            raise SystemExit(f"only {len(idx)} images of class {name} after offset {a.offset}")
        for i in idx:
            img = Image.fromarray(images[i]).resize((a.size, a.size), Image.BICUBIC).convert("RGB")
            img.save(os.path.join(a.out, name, f"{i:05d}.jpg"), quality=90)
    print(f"{a.per_class * len(CLASSES)} images in {a.out}")

if __name__ == "__main__":
    main()
