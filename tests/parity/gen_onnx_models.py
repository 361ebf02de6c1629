#!/usr/bin/python3
"""PyTorch oracle for hone's ONNX import of real models (tests/parity/test_onnx_models.cpp).

Exports torchvision's resnet18, mobilenet_v2 and squeezenet1_1 (random weights from a fixed
seed, BatchNorm statistics made non-trivial) at opsets 11, 13 and 17 with a symbolic batch
axis, and writes for each model and opset:

  OUTDIR/<model>_op<opset>.onnx       the default export (PyTorch folds BatchNorm into Conv)
  OUTDIR/<model>_op13_bn.onnx         an export that keeps BatchNormalization nodes and the
                                      module names of every parameter (TrainingMode.PRESERVE,
                                      no constant folding): what a model for fine-tuning is
  OUTDIR/<model>_input.pb             a batch of 4 images, TensorProto
  OUTDIR/<model>_output.pb            PyTorch's eval-mode logits, TensorProto

Usage: gen_onnx_models.py OUTDIR [SIZE]   (SIZE: image side, default 96)
"""
import os
import sys

import onnx
import onnx.numpy_helper
import torch
import torchvision

MODELS = ("resnet18", "mobilenet_v2", "squeezenet1_1")
OPSETS = (11, 13, 17)


def build(name):
    torch.manual_seed(2024)
    net = getattr(torchvision.models, name)(num_classes=10)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def save_tensor(array, name, path):
    t = onnx.numpy_helper.from_array(array, name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: gen_onnx_models.py OUTDIR [SIZE]")
    outdir = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) == 3 else 96
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    for name in MODELS:
        net = build(name)
        torch.manual_seed(7)
        x = torch.randn(4, 3, size, size)
        with torch.no_grad():
            y = net(x)
        save_tensor(x.numpy(), "input", os.path.join(outdir, name + "_input.pb"))
        save_tensor(y.numpy(), "output", os.path.join(outdir, name + "_output.pb"))
        for opset in OPSETS:
            path = os.path.join(outdir, "%s_op%d.onnx" % (name, opset))
            torch.onnx.export(net, x, path, opset_version=opset, input_names=["input"],
                              output_names=["output"],
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        torch.onnx.export(net, x, os.path.join(outdir, "%s_op13_bn.onnx" % name), opset_version=13,
                          input_names=["input"], output_names=["output"],
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    print("gen_onnx_models: wrote %d models to %s" % (len(MODELS) * (len(OPSETS) + 1), outdir))


if __name__ == "__main__":
    main()
