"""ASHA vs the full budget on the same candidates and seeds, in one run.

Runs the φ=1 search twice into temporary folders — every candidate for every epoch
(``--scheduler none``) and successive halving (``--scheduler asha``) — and prints, for each,
the images trained, the wall time and the winner, then the ratio of images and whether ASHA's
winner is in the full run's tied set (target: ≥ 3× fewer images, winner in the tied set).

    python benchmarks/bench_asha.py [--data synthetic] [--epochs 9] [--seeds 2] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace

from scalesearch.proxy import ProxySetup
from scalesearch.search.runner import SearchConfig
from scalesearch.search.session import run_search
from scalesearch.search.trials import TrialStore
from scalesearch.train import TrainConfig


def run(cfg: SearchConfig, folder: str) -> tuple[dict, int, float]:
    start = time.perf_counter()
    summary = run_search(cfg, folder, log=lambda m: None)
    images = sum(r["images"] or 0 for r in TrialStore(os.path.join(folder, "trials.csv")).rows)
    return summary, images, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", default="efficientnet-b0")
    p.add_argument("--data", default="synthetic")
    p.add_argument("--epochs", type=float, default=9.0)
    p.add_argument("--min-epochs", type=int, default=1)
    p.add_argument("--reduction-factor", type=float, default=3.0)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--proxy-size", type=int, default=48)
    p.add_argument("--num-train", type=int, default=400)
    p.add_argument("--num-val", type=int, default=200)
    p.add_argument("--grid-step", type=float, default=0.05)
    p.add_argument("--quick", action="store_true", help="a coarse grid and 3 epochs (minutes)")
    args = p.parse_args(argv)
    if args.quick:
        args.grid_step, args.epochs = 0.1, 3.0
    from scalesearch.search.space import Ranges

    setup = ProxySetup(data=args.data, proxy_size=args.proxy_size, num_train=args.num_train,
                       num_val=args.num_val, train=TrainConfig(epochs=args.epochs))
    full = SearchConfig(args.baseline, ranges=Ranges(step=args.grid_step), match_flops=True,
                        seeds=args.seeds, setup=setup)
    asha = replace(full, scheduler="asha", min_epochs=args.min_epochs,
                   reduction_factor=args.reduction_factor)
    print(f"machine: {os.cpu_count()} cores; {args.baseline} on {args.data}, {args.seeds} seeds, "
          f"{args.epochs:g} epochs of {args.num_train} images at {args.proxy_size} px base; "
          f"ASHA rungs {asha.milestones()} (η = {args.reduction_factor:g})")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in (("full", full), ("asha", asha)):
            summary, images, seconds = run(cfg, os.path.join(tmp, name))
            results[name] = (summary, images, seconds)
            b = summary["best"]
            tied = [(t["alpha"], t["beta"], t["gamma"]) for t in b["tied"]]
            print(f"{name:5s} {images:9,d} images  {seconds:7.1f} s  winner α={b['alpha']:g} "
                  f"β={b['beta']:g} γ={b['gamma']:g} ({b['top1_mean']:.1f} ± "
                  f"{b['top1_std']:.1f}%)  tied set {tied}")
    (fs, fi, ft), (asum, ai, at) = results["full"], results["asha"]
    win = (asum["best"]["alpha"], asum["best"]["beta"], asum["best"]["gamma"])
    tied = {(t["alpha"], t["beta"], t["gamma"]) for t in fs["best"]["tied"]}
    print(f"ASHA trains {fi / ai:.2f}× fewer images ({ai:,d} vs {fi:,d}; target ≥ 3×) in "
          f"{ft / at:.2f}× less time; its winner {win} is "
          f"{'in' if win in tied else 'NOT in'} the full run's tied set "
          f"({len(tied)} candidate(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
