"""Search overheads and training efficiency, from one run on this machine.

(a) The same φ=1 trials (B0, default proxy data and size, fewer epochs) run through Ray Tune +
    OptunaSearch — including `ray.init` and shutdown — and through a plain Python loop calling
    the same trainable, one trial at a time with the same threads. Prints the overhead ratio
    (target ≤ 10%).
(b) Proxy-training throughput of B0 at the default proxy size (images/s) and the achieved
    GFLOP/s = 3 × forward multiply-adds × 2 FLOPs per image × images/s (forward + ~2× backward),
    as a fraction of this machine's fp32 matmul peak measured in the same run.

    python benchmarks/bench_search.py [--trials 4] [--epochs 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch

from scalesearch.counter import measure
from scalesearch.data import load_data
from scalesearch.proxy import ProxySetup
from scalesearch.registry import resolve
from scalesearch.search.runner import SearchConfig, run_trials, trial
from scalesearch.search.space import Ranges, build_space
from scalesearch.search.trials import TrialStore
from scalesearch.train import TrainConfig, train_proxy


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


def ray_vs_loop(trials: int, epochs: float, threads: int) -> None:
    setup = ProxySetup(proxy_size=64, train=TrainConfig(epochs=epochs, threads=threads))
    cfg = SearchConfig("efficientnet-b0", ranges=Ranges(step=0.05), flops_tolerance=0.25,
                       cpus_per_trial=threads, setup=setup)
    space = build_space(resolve(cfg.baseline), cfg.ranges, cfg.tolerance, cfg.flops_tolerance)
    space = space.__class__(space.candidates[:trials], space.total, space.removed_formula,
                            space.removed_measured)
    context = dict(baseline=cfg.baseline, setup=setup.to_dict(), ranges=cfg.to_dict()["ranges"],
                   candidates=[(c.alpha, c.beta, c.gamma, c.flops_ratio)
                               for c in space.candidates],
                   flops_tolerance=cfg.flops_tolerance, seeds=[0], done=[])
    t = time.perf_counter()
    loop_rows = [trial({"index": i}, context)["rows"][0] for i in range(len(space.candidates))]
    loop = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        store = TrialStore(os.path.join(tmp, "trials.csv"))
        t = time.perf_counter()
        run_trials(cfg, space, store, log=lambda m: None)
        ray_s = time.perf_counter() - t
    same = sorted((r["alpha"], r["top1"]) for r in loop_rows) == \
        sorted((r["alpha"], r["top1"]) for r in store.rows)
    print(f"(a) {len(space.candidates)} trials, one at a time, {threads} thread(s) each")
    print(f"    plain loop {loop:7.1f} s")
    print(f"    Ray Tune   {ray_s:7.1f} s  (incl. ray.init/shutdown)")
    print(f"    overhead   {ray_s / loop - 1:+7.1%}  (target ≤ +10%); same metrics: {same}")


def throughput(threads: int, size: int = 64, steps: int = 40, batch: int = 32) -> None:
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
    args = p.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}")
    ray_vs_loop(args.trials, args.epochs, args.threads)
    throughput(args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
