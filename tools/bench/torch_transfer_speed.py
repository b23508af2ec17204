#!/usr/bin/python3
"""Reference for edge-prep's fine-tuning and distillation speed: the same networks, batch, input size and
threads in PyTorch (Debian's python3-torch), on in-memory inputs. Prints one JSON line.

  torch_transfer_speed.py finetune|distill [--size 96] [--batch-size 32] [--threads 2] [--steps 20] [--warmup 5]

finetune: edge-prep's default for photo folders, CNTK's ImageNet ResNet-18 layout (basic blocks 2,2,2,3, 7x7
stem and max-pool), SGD with Nesterov momentum. distill: a MobileNetV2-0.5 student laid out as edge-prep
lays it out below 128 pixels (stride-1 stem), trained against that ResNet as teacher (eval mode, no
gradients) with Hinton's loss (T 4, alpha 0.7)."""
import argparse, json, time
import torch, torch.nn as nn, torch.nn.functional as F, torchvision
from torchvision.models.resnet import ResNet, BasicBlock

p = argparse.ArgumentParser()
p.add_argument("mode", choices=["finetune", "distill"])
p.add_argument("--size", type=int, default=96)
p.add_argument("--batch-size", type=int, default=32)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=5)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)

teacher = ResNet(BasicBlock, [2, 2, 2, 3], num_classes=10)
if a.mode == "finetune":
    net = teacher
else:
    net = torchvision.models.mobilenet_v2(width_mult=0.5, num_classes=10)
    net.features[0][0].stride = (1, 1)
    teacher.eval()
opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9, nesterov=True, weight_decay=1e-4)
net.train()
x_all = torch.randn(8 * a.batch_size, 3, a.size, a.size)
y_all = torch.randint(0, 10, (8 * a.batch_size,))
T, alpha = 4.0, 0.7
for step in range(a.warmup + a.steps):
    if step == a.warmup:
        t0 = time.perf_counter()
    i = (step % 8) * a.batch_size
    x, y = x_all[i:i + a.batch_size], y_all[i:i + a.batch_size]
    opt.zero_grad()
    logits = net(x)
    if a.mode == "finetune":
        loss = F.cross_entropy(logits, y, label_smoothing=0.1)
    else:
        with torch.no_grad():
            t = teacher(x)
        soft = F.kl_div(F.log_softmax(logits / T, 1), F.log_softmax(t / T, 1), reduction="batchmean", log_target=True)
        loss = alpha * T * T * soft + (1 - alpha) * F.cross_entropy(logits, y, label_smoothing=0.1)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
    opt.step()
print(json.dumps({"images_per_second": a.steps * a.batch_size / (time.perf_counter() - t0), "mode": a.mode, "torch": torch.__version__}))
