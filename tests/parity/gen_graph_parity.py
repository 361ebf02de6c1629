#!/usr/bin/python3
"""PyTorch oracle for hone's graph parity test (tests/parity/test_graph_parity.cpp).

Builds a small ResNet-style network (BasicBlocks with residual adds, BatchNorm, ReLU,
max pooling, global average pooling, a linear head) and a small MobileNetV2-style network
(inverted residuals with depthwise convolutions and ReLU6) with fixed seeds, runs them in
float32 with Debian's python3-torch, and writes for each network one fixture file holding:

  input, labels                      the batch
  init/<param>                       every parameter and buffer before training
  step<k>/logits, step<k>/loss       forward outputs of training step k (k = 0, 1, 2)
  step<k>/grad/<param>               every parameter gradient of step k
  final/<param>                      parameters and buffers after the 3 SGD-momentum steps
  eval/logits                        the eval-mode forward after the 3 steps

hone loads init/*, rebuilds the same network with its builder API and compares the rest.
The file format is deliberately trivial: the magic b"HONEFIX1", a little-endian uint32
count, then per tensor: uint32 name length, the name (UTF-8), uint32 rank, int64 dims,
float32 data. The SGD hyper-parameters are written as the tensor "sgd" = [lr, momentum,
weight_decay].

Usage: gen_graph_parity.py OUTDIR   (writes OUTDIR/resnet.fix and OUTDIR/mobilenet.fix)
"""
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 1e-3
STEPS = 3


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + identity)


class TinyResNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(8, 8, 1))
        self.layer2 = nn.Sequential(BasicBlock(8, 16, 2))
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class TinyMobileNetV2(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6()),
            InvertedResidual(16, 16, 1, 2),
            InvertedResidual(16, 24, 2, 3),
            nn.Sequential(nn.Conv2d(24, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6()))
        self.classifier = nn.Linear(32, classes)

    def forward(self, x):
        x = torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)
        return self.classifier(x)


def write_fixture(path, tensors):
    with open(path, "wb") as f:
        f.write(b"HONEFIX1")
        f.write(struct.pack("<I", len(tensors)))
        for name, t in tensors:
            t = t.detach().to(torch.float32).contiguous()
            raw = name.encode()
            f.write(struct.pack("<I", len(raw)))
            f.write(raw)
            f.write(struct.pack("<I", t.dim()))
            f.write(struct.pack("<%dq" % t.dim(), *t.shape))
            f.write(t.numpy().astype("<f4").tobytes())


def run(model, input_shape, seed, path):
    torch.manual_seed(seed)
    net = model()
    # Non-trivial BatchNorm affine parameters and running statistics, so that a swapped or
    # ignored scale, shift, mean or variance shows up.
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.8, 1.2)
    x = torch.randn(4, *input_shape)
    labels = torch.tensor([1, 7, 3, 9])
    out = [("input", x), ("labels", labels.float()),
           ("sgd", torch.tensor([LR, MOMENTUM, WEIGHT_DECAY]))]
    out += [("init/" + k, v.clone()) for k, v in net.state_dict().items()
            if not k.endswith("num_batches_tracked")]
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    net.train()
    for step in range(STEPS):
        opt.zero_grad()
        logits = net(x)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        out += [("step%d/logits" % step, logits), ("step%d/loss" % step, loss.reshape(()))]
        out += [("step%d/grad/%s" % (step, k), p.grad.clone()) for k, p in net.named_parameters()]
        opt.step()
    out += [("final/" + k, v.clone()) for k, v in net.state_dict().items()
            if not k.endswith("num_batches_tracked")]
    net.eval()
    with torch.no_grad():
        out.append(("eval/logits", net(x)))
    write_fixture(path, out)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_graph_parity.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    torch.backends.cudnn.deterministic = True
    run(TinyResNet, (3, 16, 16), 1234, os.path.join(outdir, "resnet.fix"))
    run(TinyMobileNetV2, (3, 16, 16), 4321, os.path.join(outdir, "mobilenet.fix"))
    print("gen_graph_parity: wrote resnet.fix and mobilenet.fix to", outdir)


if __name__ == "__main__":
    main()
