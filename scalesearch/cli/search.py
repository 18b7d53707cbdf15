"""``scalesearch search``: the φ=1 grid search of §3.3 step 1 (docs/search.md)."""

from __future__ import annotations

import argparse

from scalesearch.cli.common import (
    add_format,
    add_hardware_args,
    add_training_args,
    finite_float,
    positive_int,
    print_json,
    setup_from_args,
)
from scalesearch.errors import ScalesearchError
from scalesearch.fmt import human, render_table

EXAMPLES = """examples:
  scalesearch search --baseline efficientnet-b0 --out runs/b0            # embedded data
  scalesearch search --baseline mobilenet-v2 --data path/to/photos --seeds 2
  scalesearch search --baseline resnet50 --sampler tpe --trials 8 --address auto
  scalesearch search --baseline efficientnet-b0 --address auto --gpus-per-trial 0.5 --batch-size 256
  scalesearch search --baseline efficientnet-b0 --out runs/b0 --resume   # after Ctrl-C / kill
  scalesearch scale --baseline efficientnet-b0 --phi 3 --coefficients runs/b0/best.json
"""


def _range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW:HIGH, got {text!r}") from None
    return lo, hi


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search", help="find α, β, γ at φ=1 by proxy-training candidates (Ray Tune + Optuna)",
        description="Step 1 of compound scaling (§3.3): fix φ=1, train every candidate "
        "(α, β, γ) with α·β²·γ² ≈ 2 briefly at a reduced image size, keep the most accurate. "
        "Writes trials.csv, best.json (for `scale --coefficients`), family.csv, search.png and "
        "family.png into --out.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", default="efficientnet-b0",
                   help="network to search on (default: efficientnet-b0)")
    p.add_argument("--out", default="runs/search", help="output folder (default: runs/search)")
    p.add_argument("--resume", action="store_true", help="continue the search in --out "
                   "without retraining finished trials")
    g = p.add_argument_group("candidates")
    g.add_argument("--grid-step", type=finite_float, default=0.05, help="grid step (0.05)")
    g.add_argument("--tolerance", type=finite_float, default=0.05,
                   help="keep |α·β²·γ² − 2| ≤ this (0.05)")
    g.add_argument("--flops-tolerance", type=finite_float, default=0.25, help="keep |measured "
                   "FLOPs ratio − 2| ≤ this, at the baseline's image size (0.25: rounding "
                   "repeats up pushes most B0 candidates above 2, see docs/search.md)")
    for name, default in (("alpha", "1:2"), ("beta", "1:1.5"), ("gamma", "1:1.5")):
        g.add_argument(f"--{name}-range", type=_range, default=_range(default), metavar="LO:HI",
                       help=f"{name} range ({default})")
    g.add_argument("--sampler", choices=("grid", "tpe"), default="grid", help="grid: every "
                   "filtered candidate; tpe: --trials candidates, γ solved from α, β (grid)")
    g.add_argument("--trials", type=positive_int, help="TPE budget (trained candidates)")
    g.add_argument("--seeds", type=positive_int, default=1, help="trainings per candidate; "
                   "ranking uses the mean (1)")
    g.add_argument("--seed", type=int, default=0, help="sampler seed (0)")
    add_training_args(p, epochs=5.0)
    add_hardware_args(p)
    r = p.add_argument_group("Ray")
    r.add_argument("--address", help="join a running Ray cluster (ray://host:10001 or 'auto'); "
                   "default: a local one, dashboard off")
    r.add_argument("--cpus-per-trial", type=positive_int, default=1, help="CPUs (= torch "
                   "threads) per trial; trials run concurrently on the rest (1)")
    add_format(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from scalesearch.search.runner import SearchConfig
    from scalesearch.search.space import Ranges

    if args.sampler == "grid" and args.trials:
        raise ScalesearchError("--trials is the TPE budget; use it with --sampler tpe")
    ranges = Ranges(args.alpha_range, args.beta_range, args.gamma_range, args.grid_step)
    setup = setup_from_args(args)
    return SearchConfig(args.baseline, ranges=ranges, tolerance=args.tolerance,
                        flops_tolerance=args.flops_tolerance, sampler=args.sampler,
                        trials=args.trials, seeds=args.seeds, sampler_seed=args.seed,
                        cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
                        address=args.address, setup=setup)


def _mean_std(r: dict) -> str:
    mean = r["top1_mean"]
    if mean is None or mean != mean:  # NaN: every seed failed
        return "failed"
    return f"{mean:.1f} ± {r['top1_std']:.1f}"


def run(args: argparse.Namespace) -> int:
    from scalesearch.search.session import run_search

    summary = run_search(config_from_args(args), args.out, resume=args.resume)
    status = 1 if summary["remaining"] else 0  # interrupted: results so far, then --resume
    if args.format == "json":
        print_json(summary)
        return status
    rank = summary["ranking"]
    print(f"φ=1 search: {summary['space']}; {len(rank)} trained; {summary['seconds']:.0f} s")
    print(render_table([dict(alpha=r["alpha"], beta=r["beta"], gamma=r["gamma"],
                             product=round(r["product"], 3), ratio=round(r["flops_ratio"], 3),
                             px=r["image_size"], params=human(r["params"]),
                             top1=_mean_std(r),
                             seeds=r["seeds"], failed=r["failed"]) for r in rank]))
    best = summary["best"]
    if best is None:
        print("no candidate trained successfully; see trials.csv for the errors")
        return 1
    print(f"\nbest: α={best['alpha']:g} β={best['beta']:g} γ={best['gamma']:g} "
          f"(top-1 {best['top1_mean']:.1f}%) → {args.out}/best.json")
    print("\nfamily (φ = 1…7), found vs paper coefficients:")
    print(render_table([dict(phi=f["phi"], source=f["source"], d=f["depth"], w=f["width"],
                             px=f["image_size"], params=human(f["params"]),
                             flops=human(f["flops"], "FLOPs"), ratio=f["flops_ratio"])
                        for f in sorted(summary["family"], key=lambda f: (f["phi"], f["source"]))]))
    print(f"\nwrote {args.out}/: trials.csv best.json family.csv search.png family.png")
    return status
