#!/usr/bin/python3
"""Python side of bench/compare (run by Debian's /usr/bin/python3 with python3-torch,
python3-torchvision and python3-onnx). Three subcommands:

  export MODEL OUT.onnx --image-size HxW
      torchvision's MODEL (random init from a fixed seed, 1000 classes) to ONNX opset 13
      with a symbolic batch axis, keeping the BatchNormalization nodes and every
      parameter's module name (TrainingMode.PRESERVE on the eval-mode network, no constant
      folding: what a model for fine-tuning is). Its BatchNormalization nodes are in
      inference mode, so ONNX Runtime runs the same file.
  torch MODEL --mode infer|train-full|train-head --batch B --image-size HxW --threads T
        --iters N --warmup W
      times one mode in PyTorch on random data and prints one JSON line: median seconds
      per iteration, images per second and the process's peak RSS.
  report RESULTS.jsonl --json OUT.json [--config JSON]
      prints the markdown table from the runs' JSON lines and writes them as one JSON file.
"""
import argparse
import json
import resource
import statistics
import sys
import time

HEADS = {"resnet18": "fc", "mobilenet_v2": "classifier.1"}
MODES = ("infer", "train-full", "train-head")


def image_size(text):
    h, _, w = text.partition("x")
    return int(h), int(w or h)


def build(name):
    import torch
    import torchvision
    torch.manual_seed(2024)
    return getattr(torchvision.models, name)(num_classes=1000)


def export(args):
    import torch
    h, w = image_size(args.image_size)
    torch.set_num_threads(1)
    net = build(args.model).eval()
    x = torch.randn(1, 3, h, w)
    torch.onnx.export(net, x, args.out, opset_version=13, input_names=["input"], output_names=["output"],
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})


def run_torch(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    h, w = image_size(args.image_size)
    net = build(args.model)
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, h, w) * 2 - 1
    labels = torch.randint(0, 1000, (args.batch,))
    if args.mode == "infer":
        net.eval()

        def step():
            with torch.no_grad():
                net(x)
    else:
        # Train mode in both training modes (BatchNorm on batch statistics, as in hone bench's
        # training step). Head-only: every parameter but the classifier's is frozen, so autograd
        # records nothing in the backbone and backward stops at the head.
        net.train()
        if args.mode == "train-head":
            head = HEADS[args.model]
            for name, p in net.named_parameters():
                p.requires_grad_(name.startswith(head + "."))
        params = [p for p in net.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), labels)
            loss.backward()
            opt.step()
    seconds = []
    for i in range(args.warmup + args.iters):
        t0 = time.perf_counter()
        step()
        if i >= args.warmup:
            seconds.append(time.perf_counter() - t0)
    median = statistics.median(seconds)
    print(json.dumps(dict(seconds_median=median, img_s=args.batch / median,
                          peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                          threads=torch.get_num_threads(), torch=torch.__version__)))


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def report(args):
    runs = {}
    with open(args.results) as f:
        for line in f:
            r = json.loads(line)
            runs[(r["model"], r["mode"], r["engine"])] = r
    config = json.loads(args.config) if args.config else {}
    models = []
    for model, _, _ in runs:
        if model not in models:
            models.append(model)

    def value(model, mode, engine, key):
        r = runs.get((model, mode, engine))
        return None if r is None or "error" in r else r.get(key)

    rows = []
    print("| model | mode | hone img/s | PyTorch img/s | ONNX Runtime img/s | hone/PyTorch | hone/ORT | "
          "hone peak RSS MiB | PyTorch peak RSS MiB | RSS hone/PyTorch | ORT peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for model in models:
        for mode in MODES:
            if not any((model, mode, e) in runs for e in ("hone", "pytorch")):
                continue
            h, p, o = (value(model, mode, e, "img_s") for e in ("hone", "pytorch", "ort"))
            hr, pr, orr = (value(model, mode, e, "peak_rss_mib") for e in ("hone", "pytorch", "ort"))
            row = dict(model=model, mode=mode, hone_img_s=h, pytorch_img_s=p, ort_img_s=o,
                       hone_over_pytorch=ratio(h, p), hone_over_ort=ratio(h, o),
                       hone_peak_rss_mib=hr, pytorch_peak_rss_mib=pr, rss_hone_over_pytorch=ratio(hr, pr),
                       ort_peak_rss_mib=orr,
                       errors={e: runs[(model, mode, e)]["error"] for e in ("hone", "pytorch", "ort")
                               if (model, mode, e) in runs and "error" in runs[(model, mode, e)]})
            rows.append(row)
            infer = mode == "infer"

            def cell(v, digits, applies=True):  # "—": not measured by design; "failed": a run failed
                return "—" if not applies else "failed" if v is None else f"{v:.{digits}f}"
            cells = [model, mode, cell(h, 1), cell(p, 1), cell(o, 1, infer), cell(ratio(h, p), 2),
                     cell(ratio(h, o), 2, infer), cell(hr, 0), cell(pr, 0), cell(ratio(hr, pr), 2),
                     cell(orr, 0, infer)]
            print("| " + " | ".join(cells) + " |")
    with open(args.json, "w") as f:
        json.dump(dict(config=config, rows=rows, runs=[dict(r) for r in runs.values()]), f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export")
    e.add_argument("model", choices=sorted(HEADS))
    e.add_argument("out")
    e.add_argument("--image-size", default="224x224")
    t = sub.add_parser("torch")
    t.add_argument("model", choices=sorted(HEADS))
    t.add_argument("--mode", choices=MODES, required=True)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--image-size", default="224x224")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--iters", type=int, default=10)
    t.add_argument("--warmup", type=int, default=2)
    r = sub.add_parser("report")
    r.add_argument("results")
    r.add_argument("--json", required=True)
    r.add_argument("--config")
    args = ap.parse_args()
    {"export": export, "torch": run_torch, "report": report}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
