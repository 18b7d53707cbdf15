"""compare on Ray Tune against the process pool it replaced, from one run on this machine.

The same comparison (MobileNetV2 at 2× FLOPs: baseline, depth, width, resolution, compound;
``--seeds`` seeds each) is trained twice with one thread per training and one training per core:
(a) the reference, a spawn-context ``ProcessPoolExecutor`` calling compare's own training
function (what ``compare`` ran before 0.2.0); (b) ``compare``'s Ray Tune executor
(``train_points``), including ``ray.init`` and shutdown. Prints both wall times and their ratio
(target: ≤ 1.10, i.e. compare on one machine no slower than before), and whether the two runs
computed the same top-1 for every network × seed (training is deterministic per seed).

    python benchmarks/bench_compare.py [--seeds 2] [--epochs 2] [--num-train 200] [--quick]

``--quick`` (one seed, 32 images, a quarter epoch) only checks that the benchmark runs; its
figures mean nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from scalesearch.comparison.rows import CompareRows
from scalesearch.comparison.run import train_points
from scalesearch.comparison.strategies import solve_strategies
from scalesearch.comparison.trainable import train_job
from scalesearch.scaling.registry import resolve
from scalesearch.settings.compare import PAPER_STRATEGIES, CompareConfig
from scalesearch.settings.recipe import ProxySetup, TrainConfig


def _points(cfg: CompareConfig) -> list[dict]:
    net = resolve(cfg.baseline)
    return [dict(p.to_dict(), baseline=net.name)
            for p in solve_strategies(net, list(cfg.ratios), cfg.strategies,
                                      cfg)]


def process_pool(cfg: CompareConfig, points: list[dict]) -> tuple[float, dict]:
    """The reference: one spawned process per core, each training one thread at a time."""
    setup = cfg.placement.trial_setup(cfg.setup)
    jobs = [(p, s) for p in points for s in range(cfg.seeds)]
    start = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count(), mp_context=multiprocessing.get_context("spawn")) \
            as pool:
        rows = list(pool.map(train_job, [cfg.baseline] * len(jobs), [p for p, _ in jobs],
                             [setup] * len(jobs), [s for _, s in jobs]))
    return time.perf_counter() - start, {(r["strategy"], r["seed"]): r["top1"] for r in rows}


def ray_tune(cfg: CompareConfig, points: list[dict]) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        rows = train_points(cfg, points, CompareRows(Path(out) / "compare.csv"), log=lambda m: None)
        seconds = time.perf_counter() - start
    return seconds, {(r["strategy"], r["seed"]): r["top1"] for r in rows}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--num-train", type=int, default=200)
    ap.add_argument("--proxy-size", type=int, default=48)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.num_train, args.proxy_size = 1, 0.25, 32, 32
    setup = ProxySetup(proxy_size=args.proxy_size, num_train=args.num_train,
                       num_val=args.num_train // 2,
                       train=TrainConfig(epochs=args.epochs, batch_size=16))
    cfg = CompareConfig("mobilenet-v2", (2.0,), PAPER_STRATEGIES, seeds=args.seeds, setup=setup)
    points = _points(cfg)
    print(f"machine: {os.cpu_count()} CPUs, torch threads 1 per training; "
          f"{len(points)} networks × {args.seeds} seed(s), {args.epochs:g} epoch(s) on "
          f"{args.num_train} images at {args.proxy_size} px")
    pool_s, pool_top1 = process_pool(cfg, points)
    ray_s, ray_top1 = ray_tune(cfg, points)
    print(f"(a) process pool (reference)  {pool_s:7.1f} s")
    print(f"(b) Ray Tune (compare)        {ray_s:7.1f} s  (incl. ray.init/shutdown)")
    print(f"ratio Ray / process pool: {ray_s / pool_s:.2f}  (target ≤ 1.10)")
    print(f"same top-1 for every network × seed: {pool_top1 == ray_top1}")


if __name__ == "__main__":
    sys.exit(main())
