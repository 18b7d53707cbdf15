"""Search overheads and training efficiency, from one run on this machine.

(a) The same φ=1 trials (B0, default proxy data and size, fewer epochs) run through Ray Tune +
    OptunaSearch — including `ray.init` and shutdown — and through a plain Python loop calling
    the same trainable, one trial at a time with the same threads. Prints the overhead ratio
    (target ≤ 10%).
(b) Proxy-training throughput of B0 at the default proxy size (images/s) and the achieved
    GFLOP/s = 3 × forward multiply-adds × 2 FLOPs per image × images/s (forward + ~2× backward),
    as a fraction of this machine's fp32 matmul peak measured in the same run.

    python benchmarks/bench_search.py [--trials 4] [--epochs 2] [--threads 2] [--quick]

``--quick`` (2 trials of a quarter epoch on 64 images, from a 0.1-step grid, 5 throughput steps)
only checks that the benchmark runs; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace

import torch

from scalesearch.coefsearch.runner import run_trials
from scalesearch.coefsearch.space import build_space
from scalesearch.coefsearch.trials import TrialStore
from scalesearch.data import load_data
from scalesearch.scaling.counter import measure
from scalesearch.scaling.registry import resolve
from scalesearch.settings.placement import Placement
from scalesearch.settings.recipe import ProxySetup, TrainConfig
from scalesearch.settings.search import Ranges, SearchConfig
from scalesearch.training.proxy import run_proxy
from scalesearch.training.trainer import train_proxy


def matmul_peak(threads: int, n: int = 1024, repeats: int = 20) -> float:
    """Best fp32 GFLOP/s of an n×n matmul (2n³ FLOPs) with ``threads`` threads."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def ray_vs_loop(trials: int, epochs: float, threads: int, num_train: int | None,
                step: float = 0.05) -> None:
    setup = ProxySetup(proxy_size=64, num_train=num_train, num_val=num_train,
                       train=TrainConfig(epochs=epochs, threads=threads))
    cfg = SearchConfig("efficientnet-b0", ranges=Ranges(step=step), flops_tolerance=0.25,
                       match_flops=False,
                       seeds=1, placement=Placement(cpus_per_trial=threads), setup=setup)
    b0 = resolve(cfg.baseline)
    space = build_space(b0, cfg.ranges, cfg.tolerance, cfg.flops_tolerance, cfg.match_flops)
    space = replace(space, candidates=space.candidates[:trials])
    t = time.perf_counter()  # the trainable's work, one candidate after the other
    loop_rows = [dict(c.to_dict(), **run_proxy(b0, c.mult, cfg.setup))  # the search's recipe
                 for c in space.candidates]
    loop = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        store = TrialStore(os.path.join(tmp, "trials.csv"))
        t = time.perf_counter()
        run_trials(cfg, space, store, log=lambda m: None)
        ray_s = time.perf_counter() - t
    kept = "top1" if cfg.setup.ranks_top1 else "own_score"  # val top-1 beside the loss
    same = sorted((r["alpha"], r["top1"]) for r in loop_rows) == \
        sorted((r["alpha"], r[kept]) for r in store.rows)
    print(f"(a) {len(space.candidates)} trials, one at a time, {threads} thread(s) each")
    print(f"    plain loop {loop:7.1f} s")
    print(f"    Ray Tune   {ray_s:7.1f} s  (incl. ray.init/shutdown)")
    print(f"    overhead   {ray_s / loop - 1:+7.1%}  (target ≤ +10%); same metrics: {same}")


def throughput(threads: int, steps: int, size: int = 64, batch: int = 32) -> None:
    b0 = resolve("efficientnet-b0")
    train, val = load_data("synthetic", size, num_train=steps * batch, num_val=64)
    model = b0.build(num_classes=8, dropout=0.0, drop_path=0.0)
    cfg = TrainConfig(epochs=1, batch_size=batch, threads=threads)
    result = train_proxy(model, train, val, cfg)
    macs = measure(b0, 1.0, 1.0, size, 8).flops
    achieved = 3 * macs * 2 * result.images_per_sec / 1e9
    peak = matmul_peak(threads)
    print(f"(b) B0 proxy training at {size} px, batch {batch}, {threads} thread(s)")
    print(f"    throughput {result.images_per_sec:7.1f} images/s")
    print(f"    achieved   {achieved:7.2f} GFLOP/s (3 × {macs / 1e6:.1f} M MACs × 2 per image)")
    print(f"    fp32 matmul peak {peak:7.1f} GFLOP/s → {achieved / peak:.1%} of peak")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--quick", action="store_true", help="a smoke run (seconds of training)")
    args = p.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}")
    if args.quick:
        ray_vs_loop(2, 0.25, args.threads, 64, step=0.1)  # 6 candidates to count, not 15
        throughput(args.threads, steps=5)
    else:
        ray_vs_loop(args.trials, args.epochs, args.threads, None)
        throughput(args.threads, steps=40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
