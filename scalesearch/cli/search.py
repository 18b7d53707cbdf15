"""``scalesearch search``: the φ=1 grid search of §3.3 step 1 (docs/search.md)."""

from __future__ import annotations

import argparse
import sys

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
from scalesearch.search.runner import SAMPLERS, SCHEDULERS
from scalesearch.search.stats import TIE_BREAKS
from scalesearch.status import Status

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
                   help="keep |α·β²·γ²/2 − 1| ≤ this, relative (0.05: the paper's 1.2, 1.1, "
                   "1.15 with product 1.92 is in)")
    g.add_argument("--match-flops", action=argparse.BooleanOptionalAction, default=True,
                   help="solve each candidate's training resolution so its measured FLOPs "
                   "ratio is 2 ± 3%% (fair candidates: none wins by having more FLOPs); "
                   "--no-match-flops trains at γ and filters by --flops-tolerance (default: on)")
    g.add_argument("--flops-tolerance", type=finite_float, default=0.25, help="with "
                   "--no-match-flops: keep |measured FLOPs ratio − 2| ≤ this, at the baseline's "
                   "image size (0.25)")
    for name, default in (("alpha", "1:2"), ("beta", "1:1.5"), ("gamma", "1:1.5")):
        g.add_argument(f"--{name}-range", type=_range, default=_range(default), metavar="LO:HI",
                       help=f"{name} range ({default})")
    g.add_argument("--sampler", choices=SAMPLERS, default=SAMPLERS[0], help="grid: every "
                   "filtered candidate; tpe: --trials candidates, γ solved from α, β (grid)")
    g.add_argument("--trials", type=positive_int, help="TPE budget (trained candidates)")
    g.add_argument("--seed", type=int, default=0, help="sampler seed (0)")
    e = p.add_argument_group("evidence and budget")
    e.add_argument("--seeds", type=positive_int, default=2, help="trainings per candidate; the "
                   "ranking uses the mean, the 95%% t-interval and the bootstrap p_best over "
                   "seeds (2; 1 cannot measure seed noise)")
    e.add_argument("--scheduler", choices=SCHEDULERS, default="none", help="asha: successive "
                   "halving on Ray Tune, weak candidates stop at rungs --min-epochs·η^k "
                   "(default: none, every candidate trains --epochs)")
    e.add_argument("--min-epochs", type=positive_int, default=1, help="ASHA's first rung (1)")
    e.add_argument("--reduction-factor", type=finite_float, default=3.0, help="ASHA's η: "
                   "about 1/η of the candidates go on at each rung (3)")
    e.add_argument("--tie-break", choices=TIE_BREAKS, default="balanced", help="choose within "
                   "the tied set (p_best ≥ 0.05): balanced = most even log α, 2·log β, 2·log γ "
                   "(the paper's case for compound scaling), score, params, latency "
                   "(default: balanced)")
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
    return SearchConfig(args.baseline, ranges=ranges, tolerance=args.tolerance,
                        flops_tolerance=args.flops_tolerance, match_flops=args.match_flops,
                        sampler=args.sampler, trials=args.trials, seeds=args.seeds,
                        sampler_seed=args.seed, scheduler=args.scheduler,
                        min_epochs=args.min_epochs, reduction_factor=args.reduction_factor,
                        tie_break=args.tie_break, cpus_per_trial=args.cpus_per_trial,
                        gpus_per_trial=args.gpus_per_trial,
                        address=args.address, setup=setup_from_args(args))


def _percent(p) -> str:
    return "" if p is None or p != p else f"{100 * p:.1f}%"


def _mean_std(r: dict) -> str:
    mean = r["top1_mean"]
    if mean is None or mean != mean:  # NaN: every seed failed
        return Status.FAILED
    return f"{mean:.1f} ± {r['top1_std']:.1f}"


def _ci(r: dict) -> str:
    lo, hi = r.get("ci_lo"), r.get("ci_hi")
    return "" if lo is None or lo != lo else f"[{lo:.1f}, {hi:.1f}]"


def ranking_table(rank: list[dict]) -> str:
    return render_table([dict(alpha=r["alpha"], beta=r["beta"], gamma=r["gamma"],
                              ratio=round(r["flops_ratio"], 3), px=r["image_size"],
                              params=human(r["params"]), epochs=r["epochs"], status=r["status"],
                              top1=_mean_std(r), ci95=_ci(r), p_best=_percent(r["p_best"]),
                              seeds=r["seeds"], failed=r["failed"] or "")
                         for r in rank])


def tied_lines(best: dict) -> list[str]:
    """The tied-set table and the one line that says whether the winner is separated."""
    if not best["tied"]:
        return ["one seed per candidate: seed noise is not measured, so the tied set and "
                "p_best are unknown (search with --seeds 2 or more)"]
    lines = ["", "tied set (p_best ≥ 5%: bootstrap probability of being the best over seeds):",
             render_table([dict(alpha=t["alpha"], beta=t["beta"], gamma=t["gamma"],
                                top1=f"{t['top1_mean']:.1f} ± {t['top1_std']:.1f}",
                                p_best=f"{100 * t['p_best']:.1f}%", seeds=t["seeds"])
                           for t in best["tied"]])]
    if best["separated"]:
        lines.append("the winner is separated: no other candidate has p_best ≥ 5%")
    else:
        lines.append(f"{len(best['tied'])} candidates are statistically tied; chosen by "
                     f"--tie-break {best['tie_break']}")
    return lines


def run(args: argparse.Namespace) -> int:
    from scalesearch.search.session import run_search

    summary = run_search(config_from_args(args), args.out, resume=args.resume)
    status = 1 if summary["remaining"] else 0  # interrupted: results so far, then --resume
    best = summary["best"]
    if args.format == "json":
        print_json(summary)
        return status if best else 1
    rank = summary["ranking"]
    print(f"φ=1 search: {summary['space']}; {len(rank)} trained; {summary['seconds']:.0f} s")
    print(ranking_table(rank))
    if best is None:
        failures = summary["failures"]
        if failures:
            print("\nfailed trainings:")
            print(render_table(failures))
        reason = failures[0]["error"] if failures else "no trial finished"
        print(f"\nno candidate trained successfully ({reason}); no best.json written",
              file=sys.stderr)
        return 1
    print("\nfamily (φ = 1…7), found vs paper coefficients:")
    print(render_table([dict(phi=f["phi"], source=f["source"], d=f["depth"], w=f["width"],
                             px=f["image_size"], params=human(f["params"]),
                             flops=human(f["flops"], "FLOPs"), ratio=f["flops_ratio"])
                        for f in sorted(summary["family"], key=lambda f: (f["phi"], f["source"]))]))
    print(f"\nwrote {args.out}/: trials.csv best.json family.csv search.png family.png")
    print("\n".join(tied_lines(best)))
    print(f"best: α={best['alpha']:g} β={best['beta']:g} γ={best['gamma']:g} (top-1 "
          f"{best['top1_mean']:.1f} ± {best['top1_std']:.1f}%, {best['seeds']} seed(s)) → "
          f"{args.out}/best.json")
    return status
