"""Training throughput of the project's loop against a minimal reference loop, one process.

(a) CPU options (B0, 96 px, batch 32): the reference train step with contiguous vs
    channels_last tensors, bf16 autocast, and torch.compile — the figures behind the
    TrainConfig defaults (docs/performance.md).
(b) ``train_proxy`` with its defaults vs the reference loop on the same model (channels_last,
    no per-step host sync, bf16 on a GPU) at batch 32 / 64 px, 64 / 128 px, 128 / 224 px:
    images/s, their ratio (target ≥ 0.9×) and achieved GFLOP/s = 3 × forward multiply-adds × 2
    × images/s against a matmul peak measured in the same run.
(c) GPU only: train_proxy at batch 256 / 224 px vs the compiled bf16 reference (target ≥ 0.8×);
    skipped with a note when CUDA is absent.
(d) GPU only: train_proxy at batch 128 / 128 px with --amp off, bf16 and fp16 (GradScaler):
    images/s and the ratio to off, measured alternately in the same run.

    python benchmarks/bench_train.py [--quick] [--threads N] [--sections abcd]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from scalesearch.data import load_data
from scalesearch.scaling.registry import resolve
from scalesearch.scaling.scaled import measure
from scalesearch.settings.recipe import TrainConfig
from scalesearch.training.trainer import ProxyTrainer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_search import matmul_peak  # noqa: E402

CONFIGS = ((32, 64), (64, 128), (128, 224))  # (batch, px) of (b)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _b0(seed: int = 0):
    torch.manual_seed(seed)
    return resolve("efficientnet-b0").build(num_classes=8, dropout=0.0, drop_path=0.0)


def reference_step(size: int, batch: int, device: torch.device, *, channels_last: bool = True,
                   amp: torch.dtype | None = None, compile: bool = False) -> Callable[[], None]:
    """One step of a bare loop: a fixed batch on the device, AdamW, no host sync."""
    model = _b0().to(device)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 8, (batch,), device=device)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(
            memory_format=torch.channels_last)
    net = torch.compile(model) if compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> None:
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def timed(step: Callable[[], None], steps: int, device: torch.device) -> float:
    """Seconds per step over ``steps`` steps."""
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - start) / steps


def reference_rate(size: int, batch: int, steps: int, device: torch.device, warmup: int = 2,
                   **options) -> float:
    """images/s of the bare loop after ``warmup`` untimed steps."""
    step = reference_step(size, batch, device, **options)
    timed(step, warmup, device)
    return batch / timed(step, steps, device)


def project_rate(size: int, batch: int, steps: int, device: torch.device, warmup: int = 1,
                 **train) -> float:
    """images/s of ProxyTrainer (what train_proxy runs) with its defaults, timed from the end
    of ``warmup`` steps (one-time kernel selection is not training speed) to the end of the
    epoch, including the loop's end-of-epoch non-finite check."""
    data, _ = load_data("synthetic", size, num_train=batch * (warmup + steps), num_val=8)
    cfg = TrainConfig(epochs=1, batch_size=batch, **train)
    trainer = ProxyTrainer(_b0(), data, data, cfg)
    start = []

    def progress(step: int, total: int) -> None:
        if step == warmup:
            _sync(trainer.device)
            start.append(time.perf_counter())

    trainer.train_epoch(progress)
    _sync(trainer.device)
    return batch * steps / (time.perf_counter() - start[0])


def cpu_options(steps: int, threads: int, rounds: int = 3, quick: bool = False,
                size: int = 96) -> None:
    """Each variant warmed up, then timed in ``rounds`` interleaved rounds (the machine is
    shared: interleaving spreads load changes over all variants); the median round counts."""
    cpu = torch.device("cpu")
    print(f"(a) B0 train step on the CPU, {size} px, batch 32, {threads} thread(s), "
          f"{rounds} interleaved rounds × {steps} steps, median")
    variants = {"contiguous fp32": dict(channels_last=False),
                "channels_last fp32": dict(channels_last=True),
                "contiguous bf16 autocast": dict(channels_last=False, amp=torch.bfloat16),
                "channels_last bf16 autocast": dict(channels_last=True, amp=torch.bfloat16),
                "channels_last + torch.compile": dict(channels_last=True, compile=True)}
    if quick:  # compiling takes minutes on 2 cores, CPU bf16 kernels tens of minutes
        variants = {k: v for k, v in variants.items() if k.endswith("fp32")}
    steps_of, warm = {}, {}
    for name, kw in variants.items():
        start = time.perf_counter()
        steps_of[name] = reference_step(size, 32, cpu, **kw)
        timed(steps_of[name], 3, cpu)
        warm[name] = time.perf_counter() - start
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, step in steps_of.items():
            times[name].append(timed(step, steps, cpu))
    base = statistics.median(times["contiguous fp32"])
    for name in variants:
        t = statistics.median(times[name])
        print(f"    {name:32s} {32 / t:7.1f} img/s  {base / t:5.2f}×  "
              f"(first 3 steps incl. compile {warm[name]:.0f} s)")


def loops(steps: int, rounds: int, device: torch.device, peak: float,
          configs: list[tuple[int, int]]) -> None:
    """Reference and project loop alternately, ``rounds`` times; medians and their ratio."""
    amp = torch.bfloat16 if device.type == "cuda" else None
    print(f"(b) train_proxy defaults vs reference loop on {device}: {rounds} alternating rounds "
          f"× {steps} timed steps, median")
    print("    batch   px  project img/s  reference img/s  ratio  project GFLOP/s  of peak")
    for batch, size in configs:
        ref_step, ref, ours = reference_step(size, batch, device, amp=amp), [], []
        timed(ref_step, 1, device)
        for _ in range(rounds):
            ref.append(batch / timed(ref_step, steps, device))
            ours.append(project_rate(size, batch, steps, device))
        ref_rate, our_rate = statistics.median(ref), statistics.median(ours)
        macs = measure(resolve("efficientnet-b0"), 1.0, 1.0, size, 8).flops
        gflops = 3 * macs * 2 * our_rate / 1e9
        print(f"    {batch:5d} {size:4d} {our_rate:14.1f} {ref_rate:16.1f} "
              f"{our_rate / ref_rate:6.2f}× {gflops:15.1f} {gflops / peak:8.1%}", flush=True)


def gpu_section(steps: int) -> None:
    if not torch.cuda.is_available():
        print("(c) skipped: no CUDA device in this process (GPU-only: batch 256 / 224 px vs "
              "the compiled bf16 reference)")
        return
    dev = torch.device("cuda")
    ref = reference_rate(224, 256, steps, dev, warmup=5, amp=torch.bfloat16, compile=True)
    ours = project_rate(224, 256, steps, dev)
    ours_c = project_rate(224, 256, steps, dev, compile=True)
    print(f"(c) {torch.cuda.get_device_name(dev)}, batch 256, 224 px: compiled bf16 reference "
          f"{ref:.0f} img/s; train_proxy defaults {ours:.0f} img/s ({ours / ref:.2f}×), "
          f"with compile=True {ours_c:.0f} img/s ({ours_c / ref:.2f}×); target ≥ 0.8×")


def amp_section(steps: int, rounds: int) -> None:
    if not torch.cuda.is_available():
        print("(d) skipped: no CUDA device in this process (GPU-only: --amp off / bf16 / fp16)")
        return
    dev, modes = torch.device("cuda"), ("off", "bf16", "fp16")
    rates = {amp: [] for amp in modes}
    for _ in range(rounds):
        for amp in modes:
            rates[amp].append(project_rate(128, 128, steps, dev, amp=amp))
    off = statistics.median(rates["off"])
    print(f"(d) {torch.cuda.get_device_name(dev)}, train_proxy at batch 128 / 128 px, "
          f"{rounds} alternating rounds × {steps} steps, median: " + ", ".join(
              f"{amp} {statistics.median(r):.0f} img/s ({statistics.median(r) / off:.2f}×)"
              for amp, r in rates.items()))


def gpu_peak(n: int = 8192, repeats: int = 10) -> float:
    """Best bf16 TFLOP-scale matmul rate on the GPU in GFLOP/s."""
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ a
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ a
    torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer steps and rounds (2 × 2 instead "
                   "of 3 × 5); (a) fp32 only at 32 px, (b) at 32x64 only")
    p.add_argument("--steps", type=int, help="timed steps per round (overrides --quick)")
    p.add_argument("--rounds", type=int, help="alternating rounds (overrides --quick)")
    p.add_argument("--configs", default=None,
                   help="(b)'s BATCHxPX list (default: 32x64,64x128,128x224)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="torch CPU threads (default: all cores)")
    p.add_argument("--sections", default="abcd", help="which sections to run (default: abcd)")
    args = p.parse_args(argv)
    steps, rounds = (2, 2) if args.quick else (5, 3)
    steps, rounds = args.steps or steps, args.rounds or rounds
    configs = args.configs or ("32x64" if args.quick else "32x64,64x128,128x224")
    configs = [tuple(int(v) for v in c.split("x")) for c in configs.split(",")]
    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.cuda.get_device_name() if cuda else 'no CUDA'}")
    if "a" in args.sections:
        cpu_options(steps, args.threads, rounds + 1, args.quick, size=32 if args.quick else 96)
        torch.set_num_threads(args.threads)
    if "b" in args.sections:
        peak = gpu_peak() if cuda else matmul_peak(args.threads)
        print(f"    matmul peak {peak:.1f} GFLOP/s ({'bf16' if cuda else 'fp32'}, same run)")
        loops(steps, rounds, device, peak, configs)
    if "c" in args.sections:
        gpu_section(steps)
    if "d" in args.sections:
        amp_section(steps, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
