"""Raw PyTorch reference for bench:train: the same models (PreResNet-20, CIFAR ResNet-18,
VGG-16-BN as src/models builds them: same layers, widths scaled the same way) and training step
(SGD momentum 0.9, weight decay 1e-4, BN in training mode, cross-entropy), timed the
same way, written as a PyTorch user would (nn.Module, torch.optim), fp32 without TF32
like the harness's engines. Prints one JSON line. Run by bench/train-throughput.ts
when torch imports; the torch engine's per-step overhead is judged against it.

--epoch: the fastest honest baseline for a whole epoch. The images are already on the
device as normalised float tensors, a batch is a slice of a shuffled copy, and nothing
syncs with the host until the epoch ends; no augmentation (the engine's epoch does
augment, so any cost of that counts against the engine)."""
import argparse, json, math, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.down = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + (self.down(x) if self.down is not None else x)


def stages(block, width, count, blocks):
    """`count` stages of `blocks` blocks each, channels doubling per stage from `width`, the first block of every later stage at stride 2; and the channels they end with."""
    layers, cin = [], width
    for stage in range(count):
        cout = width << stage
        for i in range(blocks):
            layers.append(block(cin, cout, 2 if stage > 0 and i == 0 else 1))
            cin = cout
    return nn.Sequential(*layers), cin


class PreResNet20(nn.Module):
    def __init__(self, width, in_ch, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 3, 1, 1, bias=False)
        self.layers, cin = stages(Block, width, 3, 3)
        self.bn = nn.BatchNorm2d(cin)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.layers(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class BasicBlock(nn.Module):
    """CIFAR ResNet-18's block: conv-BN-ReLU-conv-BN plus the shortcut (1x1 conv + BN when the shape changes), then ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, width, in_ch, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layers, cin = stages(BasicBlock, width, 4, 2)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]


class VGG16(nn.Module):
    """BiP's CIFAR VGG-16-BN as src/models/vgg.ts builds it: 4 max-pools, then a 2x2 map flattened into a 256-256 classifier."""

    def __init__(self, width, in_ch, classes):
        super().__init__()
        layers, cin = [], in_ch
        for v in VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            cout = max(1, round(v * width / 64))
            layers += [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(cin * 4, 256), nn.ReLU(inplace=True), nn.Linear(256, 256), nn.ReLU(inplace=True), nn.Linear(256, classes))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


MODELS = {"preresnet20": PreResNet20, "resnet18": ResNet18, "vgg16": VGG16}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", choices=sorted(MODELS), default="preresnet20")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--epoch", action="store_true", help="time whole epochs of --steps batches from device-resident data")
    p.add_argument("--epochs", type=int, default=1, help="--epoch: timed epochs; the median is reported")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    model = MODELS[a.arch](a.width, a.channels, 10).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    # The batch comes from the host each step, as it does in the harness.
    x_host = torch.randn(a.batch, a.channels, 32, 32)
    y_host = torch.randint(0, 10, (a.batch,))

    def step():
        x, y = x_host.to(dev), y_host.to(dev)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    if a.epoch:
        return epoch_mode(a, dev, model, opt)
    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    print(json.dumps({"torch": torch.__version__, "arch": a.arch, "params": sum(p.numel() for p in model.parameters()), "device": str(dev), "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None, "threads": torch.get_num_threads(), "median_s": med, "min_s": times[0],
                      "images_per_s": a.batch / med, "steps": a.steps}))


def epoch_mode(a, dev, model, opt):
    n = a.batch * a.steps
    x_all = torch.randn(n, a.channels, 32, 32, device=dev)
    y_all = torch.randint(0, 10, (n,), device=dev)

    def epoch(steps):
        perm = torch.randperm(n, device=dev)
        xs, ys = x_all[perm], y_all[perm]
        total = torch.zeros((), device=dev)
        for i in range(steps):
            x, y = xs[i * a.batch:(i + 1) * a.batch], ys[i * a.batch:(i + 1) * a.batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            total += loss.detach()
        return total.item()  # the epoch's one sync

    epoch(a.warmup)
    times = []
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        epoch(a.steps)
        times.append(time.perf_counter() - t0)
    s = sorted(times)[len(times) // 2]
    print(json.dumps({"torch": torch.__version__, "arch": a.arch, "params": sum(p.numel() for p in model.parameters()), "device": str(dev), "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None, "threads": torch.get_num_threads(),
                      "median_s": s / a.steps, "min_s": s / a.steps, "images_per_s": n / s, "steps": a.steps, "epoch_s": s}))


if __name__ == "__main__":
    main()
