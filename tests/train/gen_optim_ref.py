#!/usr/bin/python3
"""PyTorch oracle for hone's optimizers and schedules (tests/train/test_optim.cpp).

Writes OUTDIR/optim_ref.json, computed with Debian's python3-torch (1.13) at test time:

  params        three parameters w1 (3, 4), b1 (4), w2 (2, 3): shape and initial values
  grad_scale    per parameter a tensor a; the gradient at step k is
                  grad = a * p + noise[k]        (elementwise, p the current parameter)
                i.e. the gradient of sum(a p^2 / 2 + noise[k] p): it depends on the
                trajectory, so an error in one step shows in all later ones
  noise         per step, per parameter the noise tensor, or null: then the parameter has no
                gradient at that step (PyTorch: .grad is None), and both sides skip it
  runs          optimizer runs: kind (sgd, adam, adamw), options, two parameter groups with
                their own lr and weight decay, dtype (float64 or float32), an optional
                OneCycleLR schedule, and the parameters after each of the 20 steps
  schedules     scheduler runs: the lr of every group (and momentum or beta1) that each
                optimizer.step() uses, for every step
  clip          torch.nn.utils.clip_grad_norm_ cases: gradients in, norm and gradients out

Floats are written with repr(), which round-trips exactly, so float64 values arrive
bit-identical. Usage: gen_optim_ref.py OUTDIR
"""
import json
import os
import sys
import warnings

import torch

STEPS = 20
SHAPES = {"w1": [3, 4], "b1": [4], "w2": [2, 3]}
GROUPS = [  # the two parameter groups of every optimizer run: lr and weight decay differ
    {"params": ["w1", "w2"], "lr": 0.1},
    {"params": ["b1"], "lr": 0.03},
]
NO_GRAD = {("b1", 3), ("b1", 7)}  # (parameter, step) pairs without a gradient

warnings.filterwarnings("ignore")  # SequentialLR's step(0) deprecation warning


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def make_problem():
    g = torch.Generator().manual_seed(1234)
    init = {n: torch.randn(s, generator=g, dtype=torch.float64) for n, s in SHAPES.items()}
    scale = {n: 0.5 + 1.5 * torch.rand(s, generator=g, dtype=torch.float64) for n, s in SHAPES.items()}
    noise = []
    for k in range(STEPS):
        step = {}
        for n, s in SHAPES.items():
            v = 0.3 * torch.randn(s, generator=g, dtype=torch.float64)
            step[n] = None if (n, k) in NO_GRAD else v
        noise.append(step)
    return init, scale, noise


def make_optimizer(kind, params, groups, options):
    pg = [{"params": [params[n] for n in g["params"]], "lr": g["lr"],
           "weight_decay": g["weight_decay"]} for g in groups]
    if kind == "sgd":
        return torch.optim.SGD(pg, lr=0.1, momentum=options.get("momentum", 0.0),
                               dampening=options.get("dampening", 0.0),
                               nesterov=options.get("nesterov", False), foreach=False)
    cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    return cls(pg, lr=0.1, betas=(options.get("beta1", 0.9), options.get("beta2", 0.999)),
               eps=options.get("eps", 1e-8), amsgrad=options.get("amsgrad", False), foreach=False)


def onecycle(opt, s):
    return torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=s["total_steps"],
        pct_start=s["pct_start"], anneal_strategy=s["anneal"], cycle_momentum=s["cycle_momentum"],
        base_momentum=s["base_momentum"], max_momentum=s["max_momentum"],
        div_factor=s["div_factor"], final_div_factor=s["final_div_factor"],
        three_phase=s["three_phase"])


def run_optimizer(name, kind, options, weight_decays, dtype, init, scale, noise, schedule=None):
    dt = torch.float64 if dtype == "float64" else torch.float32
    params = {n: init[n].to(dt).clone().requires_grad_(True) for n in SHAPES}
    groups = [dict(g, weight_decay=wd) for g, wd in zip(GROUPS, weight_decays)]
    opt = make_optimizer(kind, params, groups, options)
    sched = onecycle(opt, schedule) if schedule else None
    trajectory = []
    for k in range(STEPS):
        for n, p in params.items():
            nk = noise[k][n]
            p.grad = None if nk is None else (scale[n].to(dt) * p.detach() + nk.to(dt))
        opt.step()
        if sched:
            sched.step()
        trajectory.append({n: flat(p) for n, p in params.items()})
    return {"name": name, "kind": kind, "options": options, "dtype": dtype, "groups": groups,
            "schedule": schedule, "trajectory": trajectory}


def onecycle_args(**kw):
    args = {"kind": "onecycle", "total_steps": 100, "pct_start": 0.3, "anneal": "cos",
            "cycle_momentum": True, "base_momentum": 0.85, "max_momentum": 0.95,
            "div_factor": 25.0, "final_div_factor": 1e4, "three_phase": False}
    args.update(kw)
    return args


def run_schedule(name, kind, args, steps, lrs=(0.1, 0.03)):
    """Records the lr (and momentum/beta1) of each group that each optimizer.step() uses."""
    params = [torch.zeros(2, requires_grad=True) for _ in lrs]
    pg = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs)]
    opt = (torch.optim.SGD(pg, lr=0.1, momentum=0.9) if kind == "sgd"
           else torch.optim.Adam(pg, lr=0.1, betas=(0.9, 0.99)))
    S = torch.optim.lr_scheduler
    t = args["kind"]
    if t == "onecycle":
        sched = onecycle(opt, args)
    elif t == "step":
        sched = S.StepLR(opt, step_size=args["step_size"], gamma=args["gamma"])
    elif t == "multistep":
        sched = S.MultiStepLR(opt, milestones=args["milestones"], gamma=args["gamma"])
    elif t == "constant":
        sched = S.ConstantLR(opt, factor=args["factor"], total_iters=args["total_iters"])
    elif t == "cosine_warmup":
        w, n = args["warmup_steps"], args["total_steps"]
        assert len(lrs) == 1 or args["min_lr_factor"] == 0  # eta_min is one number in torch
        sched = S.SequentialLR(opt, [
            S.LinearLR(opt, start_factor=args["warmup_start_factor"], end_factor=1.0, total_iters=w),
            S.CosineAnnealingLR(opt, T_max=n - w, eta_min=args["min_lr_factor"] * lrs[0])],
            milestones=[w])
    else:
        raise ValueError(t)
    lr_trace, mom_trace = [], []
    for _ in range(steps):
        lr_trace.append([g["lr"] for g in opt.param_groups])
        mom_trace.append([g["momentum"] if kind == "sgd" else g["betas"][0] for g in opt.param_groups])
        opt.step()
        sched.step()
    return {"name": name, "optimizer": kind, "args": args, "initial_lrs": list(lrs),
            "lr": lr_trace, "momentum": mom_trace}


def clip_case(name, shapes, max_norm, norm_type, dtype, seed, scale):
    g = torch.Generator().manual_seed(seed)
    dt = torch.float64 if dtype == "float64" else torch.float32
    ps = [torch.zeros(s, dtype=dt, requires_grad=True) for s in shapes]
    for p in ps:
        p.grad = (scale * torch.randn(p.shape, generator=g, dtype=torch.float64)).to(dt)
    before = [flat(p.grad) for p in ps]
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    return {"name": name, "dtype": dtype, "shapes": shapes, "max_norm": max_norm,
            "norm_type": "inf" if norm_type == float("inf") else norm_type,
            "grads": before, "total_norm": float(total), "clipped": [flat(p.grad) for p in ps]}


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    init, scale, noise = make_problem()

    runs = []
    for dtype in ("float64", "float32"):
        def add(name, kind, options, wds, schedule=None):
            runs.append(run_optimizer(name, kind, options, wds, dtype, init, scale, noise, schedule))
        add("sgd_plain", "sgd", {}, (0.0, 0.0))
        add("sgd_momentum", "sgd", {"momentum": 0.9}, (0.0, 0.0))
        add("sgd_dampening", "sgd", {"momentum": 0.9, "dampening": 0.3}, (0.0, 0.0))
        add("sgd_nesterov", "sgd", {"momentum": 0.9, "nesterov": True}, (0.0, 0.0))
        add("sgd_weight_decay", "sgd", {"momentum": 0.8}, (0.05, 0.01))
        add("adam", "adam", {}, (0.0, 0.0))
        add("adam_weight_decay", "adam", {"beta1": 0.8, "beta2": 0.95}, (0.02, 0.005))
        add("adam_amsgrad", "adam", {"amsgrad": True, "eps": 1e-6}, (0.01, 0.0))
        add("adamw", "adamw", {}, (0.1, 0.01))
        add("adamw_amsgrad", "adamw", {"amsgrad": True}, (0.05, 0.0))
        add("sgd_onecycle", "sgd", {"momentum": 0.9, "nesterov": True}, (0.01, 0.0),
            onecycle_args(total_steps=STEPS))
        add("adamw_onecycle", "adamw", {"beta2": 0.99}, (0.05, 0.0),
            onecycle_args(total_steps=STEPS, pct_start=0.25, three_phase=True))

    schedules = [
        run_schedule("constant", "sgd", {"kind": "constant", "factor": 0.25, "total_iters": 6}, 15),
        run_schedule("step", "sgd", {"kind": "step", "step_size": 7, "gamma": 0.5}, 40),
        run_schedule("multistep", "adam", {"kind": "multistep", "milestones": [5, 12, 12, 20],
                                           "gamma": 0.3}, 30),
        run_schedule("cosine_warmup", "sgd", {"kind": "cosine_warmup", "warmup_steps": 10,
                                              "total_steps": 100, "warmup_start_factor": 0.1,
                                              "min_lr_factor": 0.0}, 100),
        run_schedule("cosine_warmup_floor", "adam", {"kind": "cosine_warmup", "warmup_steps": 5,
                                                     "total_steps": 60, "warmup_start_factor": 0.01,
                                                     "min_lr_factor": 0.05}, 60, lrs=(0.002,)),
        run_schedule("onecycle_sgd", "sgd", onecycle_args(), 100),
        run_schedule("onecycle_adam", "adam", onecycle_args(total_steps=77), 77),
        run_schedule("onecycle_adam_linear_three_phase", "adam",
                     onecycle_args(total_steps=50, pct_start=0.25, anneal="linear", three_phase=True,
                                   div_factor=10.0, final_div_factor=100.0,
                                   base_momentum=0.8, max_momentum=0.9), 50),
        run_schedule("onecycle_fastai", "sgd", onecycle_args(total_steps=64, pct_start=0.25,
                                                             final_div_factor=1e5), 64),
    ]

    clip = [
        clip_case("clipped", [[3, 4], [5], [2, 2, 2]], 1.0, 2.0, "float64", 1, 1.0),
        clip_case("not_clipped", [[3, 4], [5]], 100.0, 2.0, "float64", 2, 1.0),
        clip_case("inf_norm", [[6], [2, 3]], 0.5, float("inf"), "float64", 3, 2.0),
        clip_case("l1_norm", [[4, 4], [3]], 2.0, 1.0, "float64", 4, 1.0),
        clip_case("clipped_float32", [[8, 8], [8]], 0.25, 2.0, "float32", 5, 3.0),
    ]

    doc = {
        "steps": STEPS,
        "params": {n: {"shape": SHAPES[n], "init": flat(init[n])} for n in SHAPES},
        "grad_scale": {n: flat(scale[n]) for n in SHAPES},
        "noise": [{n: (None if v is None else flat(v)) for n, v in step.items()} for step in noise],
        "runs": runs,
        "schedules": schedules,
        "clip": clip,
    }
    path = os.path.join(out_dir, "optim_ref.json")
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f)
    os.replace(path + ".tmp", path)
    print("wrote", path, "with", len(runs), "optimizer runs,", len(schedules), "schedules,",
          len(clip), "clipping cases")


if __name__ == "__main__":
    main()
