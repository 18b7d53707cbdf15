"""How much ranking signal each way of spending a proxy budget buys (docs/search.md,
"Reliability" and "Where the budget goes").

Each variant is one full-budget φ=1 grid search (no scheduler: every candidate trains every
seed to the end) that differs from ``base`` — the README main job's proxy — in one choice:
validation size, images against epochs, batch size (optimizer steps), proxy image size, the
training recipe, or seeds against candidates. For each it prints the seed-split Kendall τ with
its 95% interval, ICC and the ANOVA's p (:mod:`scalesearch.coefsearch.reliability`), the best mean
top-1 above chance, the training CPU-seconds (the trials' own seconds, one CPU each) and the
wall time (Ray is started once, before the first variant, so no wall holds it), and the noise
budget: the pooled seed-to-seed variance of a score split into its
validation-sampling part — the binomial p(1 − p)/n_val that scoring on n_val images adds — and
the training part, the rest. All variants run in one process, one after the other, so their
costs are comparable within the run.

    python benchmarks/bench_signal.py [--data synthetic|path/to/photos] [--variants a,b,…]
                                      [--baseline efficientnet-b0] [--quick] [--out DIR]

Variants compose with ``+``: ``val2000+sgd_nesterov`` applies both changes (the later one wins
where they set the same field).

``--quick`` (2 variants of 4 tiny candidates, 2 seeds, 24 px, one epoch of 32 images) only
checks that the benchmark runs; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from scalesearch.coefsearch.results import ranking
from scalesearch.coefsearch.session import run_search
from scalesearch.coefsearch.trials import TrialStore
from scalesearch.data.loader import DEFAULT_SYNTHETIC_SIZES, SYNTHETIC, chance_top1
from scalesearch.settings.recipe import ProxySetup, TrainConfig
from scalesearch.settings.search import Ranges, SearchConfig
from scalesearch.training.cluster import runtime

# one change each from base (SearchConfig fields, or "train." for TrainConfig, "setup." for
# ProxySetup); costs in the comment are relative to base's training images × epochs
VARIANTS = {
    "base": {},
    "val2000": {"setup.num_val": 2000},  # 5× the validation images (scoring is cheap)
    "batch16": {"train.batch_size": 16},  # 2× the optimizer steps, same images
    "images2x_epochs_half": {"setup.num_train": 480, "train.epochs": 2},  # same image-epochs
    "images_half_epochs2x": {"setup.num_train": 120, "train.epochs": 8},  # same image-epochs
    "size48": {"setup.proxy_size": 48},  # ≈ 1.4× the FLOPs per image
    "sgd_nesterov": {"train.optimizer": "sgd", "train.lr": 0.1},
    "no_label_smoothing": {"train.label_smoothing": 0.0},  # the default since this bench
    "label_smoothing0.1": {"train.label_smoothing": 0.1},  # the default before it
    "grid0.1_seeds4": {"ranges.step": 0.1, "seeds": 4},  # fewer candidates, more seeds
}
QUICK = ("base", "val2000")


def base_config(baseline: str, data: str, quick: bool) -> SearchConfig:
    """The README main job's proxy at full budget (quick: a tiny one)."""
    if quick:
        setup = ProxySetup(data=data, proxy_size=24, num_train=32, num_val=32,
                           train=TrainConfig(epochs=1, batch_size=16, threads=1))
        return SearchConfig(baseline, ranges=Ranges(beta=(1.0, 1.1), step=0.1),
                            match_flops=False, family_phi=1, setup=setup)
    setup = ProxySetup(data=data, proxy_size=40, num_train=240,
                       train=TrainConfig(epochs=4, threads=1))
    return SearchConfig(baseline, family_phi=1, setup=setup)


def changes_of(name: str) -> dict:
    """The changes of a variant name, ``+`` joining several of :data:`VARIANTS`."""
    changes: dict = {}
    for part in name.split("+"):
        changes.update(VARIANTS[part])
    return changes


def variant(cfg: SearchConfig, changes: dict) -> SearchConfig:
    """``cfg`` with the ``changes`` of one variant applied."""
    train, setup, ranges, top = {}, {}, {}, {}
    for name, value in changes.items():
        part, _, field = name.rpartition(".")
        {"train": train, "setup": setup, "ranges": ranges, "": top}[part][field] = value
    new_setup = replace(cfg.setup, **setup, train=replace(cfg.setup.train, **train))
    return replace(cfg, **top, ranges=replace(cfg.ranges, **ranges), setup=new_setup)


def noise_budget(rows: list[dict], n_val: int) -> tuple[float, float, float]:
    """(total, validation-sampling, training) seed-to-seed variance of final top-1 (%²): the
    pooled within-candidate variance, the mean binomial p(1 − p)/n_val, and the difference."""
    finals: dict[tuple, list[float]] = {}
    for r in rows:
        if r["status"] == "ok" and r["top1"] is not None:
            finals.setdefault((r["alpha"], r["beta"], r["gamma"]), []).append(r["top1"])
    groups = [v for v in finals.values() if len(v) > 1]
    df = sum(len(g) - 1 for g in groups)
    if not df:
        return math.nan, math.nan, math.nan
    total = sum(sum((x - sum(g) / len(g)) ** 2 for x in g) for g in groups) / df
    sampling = sum(p / 100 * (1 - p / 100) * 1e4 / n_val
                   for g in groups for p in g) / sum(map(len, groups))
    return total, sampling, total - sampling


def measure(name: str, cfg: SearchConfig, out: Path, chance: float) -> dict:
    """Run one variant's search into ``out``; its row of the table."""
    start = time.perf_counter()
    run_search(cfg, out, log=lambda message: None)
    wall = time.perf_counter() - start
    rows = TrialStore(out / "trials.csv").rows
    rank = ranking(rows, chance=chance)
    r = rank.attrs["reliability"]["final"]
    n_val = cfg.setup.num_val or (DEFAULT_SYNTHETIC_SIZES[1] if cfg.setup.data == SYNTHETIC
                                  else None)
    total, sampling, training = noise_budget(rows, n_val) if n_val else (math.nan,) * 3
    return dict(variant=name, candidates=r["candidates"], seeds=r["seeds"], tau=r["tau"],
                lo=r["tau_ci95"][0], hi=r["tau_ci95"][1], icc=r["icc"], p=r["anova_p"],
                above_chance=rank["top1_mean"].max() - chance, verdict=r["verdict"],
                cpu_s=sum(x["seconds"] or 0 for x in rows), wall_s=wall, total_var=total,
                sampling_var=sampling, training_var=training)


def _line(r: dict) -> str:
    return (f"{r['variant']:22s} {r['candidates']:3d}×{r['seeds']:<2d} {r['tau']:5.2f} "
            f"[{r['lo']:5.2f}, {r['hi']:5.2f}] {r['icc']:5.2f} {r['p']:7.2g} "
            f"{r['above_chance']:+6.1f} {r['cpu_s']:7.0f} {r['wall_s']:6.0f}  "
            f"{math.sqrt(max(r['total_var'], 0)):4.1f} = √({r['sampling_var']:5.1f} + "
            f"{r['training_var']:5.1f})  {r['verdict']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=SYNTHETIC)
    p.add_argument("--baseline", default="efficientnet-b0")
    p.add_argument("--variants", help="comma-separated, each one or several of "
                   f"{', '.join(VARIANTS)} joined by + (default: all, one at a time)")
    p.add_argument("--out", help="keep the run folders here (default: a temporary folder)")
    p.add_argument("--quick", action="store_true", help="a tiny run: checks it works")
    args = p.parse_args(argv)
    names = args.variants.split(",") if args.variants else list(QUICK if args.quick
                                                                 else VARIANTS)
    unknown = [part for n in names for part in n.split("+") if part not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; of: {', '.join(VARIANTS)}")
    chance = chance_top1(args.data)
    base = base_config(args.baseline, args.data, args.quick)
    print(f"data: {args.data} (chance {chance:.1f}%), baseline {args.baseline}; base proxy: "
          f"{base.setup.num_train} images at {base.setup.proxy_size} px, "
          f"{base.setup.train.epochs:g} epochs, batch {base.setup.train.batch_size}, "
          f"{base.seeds} seeds, no scheduler")
    print(f"{'variant':22s} cand×s   τ   [95% interval]  ICC  ANOVA p  best−chance  cpu-s "
          f"wall-s  seed sd = √(val-sampling + training var, %²)  verdict")
    # one Ray runtime for every variant, started before any is timed: each wall-s leaves out
    # Ray's start alike (it was the first variant's alone), and a run starts Ray once
    with tempfile.TemporaryDirectory(prefix="bench-signal-") as tmp, runtime(base.placement):
        root = Path(args.out or tmp)
        for name in names:
            row = measure(name, variant(base, changes_of(name)), root / name, chance)
            print(_line(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
