#!/usr/bin/python3
"""Peak memory of a few training steps in PyTorch, the baseline for edge-prep's (tools/bench/train-memory.sh).

  torch_train_memory.py ARCH WIDTH SIZE BATCH STEPS THREADS

ARCH: mobilenetv2 (torchvision's, width multiplier WIDTH) or resnet18. SGD with Nesterov momentum on random
inputs of SIZE x SIZE, cross-entropy with 10 classes. Prints the peak resident set size in MiB.
"""
import resource, sys, torch, torchvision

arch, width, size, batch, steps, threads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
torch.set_num_threads(threads)
torch.manual_seed(1)
net = torchvision.models.mobilenet_v2(width_mult=width, num_classes=10) if arch == "mobilenetv2" else torchvision.models.resnet18(num_classes=10)
net.train()
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
x = torch.randn(batch, 3, size, size)
y = torch.randint(0, 10, (batch,))
for _ in range(steps):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(net(x), y, label_smoothing=0.1)
    loss.backward()
    opt.step()
print(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
