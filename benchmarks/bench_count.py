"""Counting speed: scalesearch's shape-only counter vs fvcore FlopCountAnalysis on real tensors.

Prints, from one run on this machine, the time to count B0, B4, B7 (presets) and ResNet-50 at
φ=3 both ways and their ratio (target ≥ 20× at B7), and the wall time of
`scalesearch scale --preset b7 --format json` beyond `python -c "import torch"` (target < 1 s).
Ours is timed including building the network (on the meta device); fvcore is timed on an
already-built model, excluding its build — the comparison is conservative for us.

    python benchmarks/bench_count.py [--repeats 3] [--quick]

``--quick`` counts B0 and ResNet-50 φ=3 once each: a check that the benchmark runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import scalesearch
from scalesearch.scaling.counter import NetworkCounter, count_fvcore

CASES = [  # (label, baseline, scale kwargs)
    ("B0", "efficientnet-b0", dict(preset="b0")),
    ("B4", "efficientnet-b0", dict(preset="b4")),
    ("B7", "efficientnet-b0", dict(preset="b7")),
    ("ResNet-50 φ=3", "resnet50", dict(phi=3)),
]


def best_of(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def wall(cmd: list[str], repeats: int) -> float:
    return best_of(lambda: subprocess.run(cmd, check=True, capture_output=True), repeats)[0]


def bench_case(label: str, name: str, kwargs: dict, repeats: int) -> None:
    net = scalesearch.scale(name, **kwargs)

    def build():
        return net.baseline.build(net.mult.depth, net.mult.width, dropout=net.dropout)

    ours_s, ours = best_of(lambda: NetworkCounter(build)(net.image_size), repeats)
    model = build()
    ref_s, ref = best_of(lambda: count_fvcore(model, net.image_size), 1)
    same = (ours.flops, ours.params, ours.activations) == (ref.flops, ref.params, ref.activations)
    print(f"{label:<16}{net.image_size:>5}{ours.flops / 1e9:>9.3f}{ours_s:>9.3f}"
          f"{ref_s:>10.2f}{ref_s / ours_s:>7.0f}×  {same}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="B0 and ResNet-50 φ=3, once")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    print(f"{'network':<16}{'px':>5}{'GFLOPs':>9}{'ours s':>9}{'fvcore s':>10}{'ratio':>8}  equal")
    for label, name, kwargs in CASES:
        if not args.quick or label in ("B0", "ResNet-50 φ=3"):
            bench_case(label, name, kwargs, repeats)
    torch_s = wall([sys.executable, "-c", "import torch"], repeats)
    cli_s = wall([sys.executable, "-m", "scalesearch.cli.main", "scale", "--baseline",
                  "efficientnet-b0", "--preset", "b7", "--format", "json"], repeats)
    print(f"\n`scalesearch scale --preset b7 --format json`: {cli_s:.2f} s wall; "
          f"`import torch`: {torch_s:.2f} s; beyond import torch: {cli_s - torch_s:.2f} s "
          f"(target < 1 s)")


if __name__ == "__main__":
    main()
