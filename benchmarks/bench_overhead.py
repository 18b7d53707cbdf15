"""Where the README main job's wall goes (issue 36 §6): each phase's seconds and the share
that trains, measured in one run.

Runs ``scalesearch search`` in-process with the README main job's flags (``--baseline
efficientnet-b0 --proxy-size 40 --epochs 4 --budget 3m``) and times its
phases by wrapping the functions that do them: the candidate grid's FLOPs counting, the
budget's pilot, Ray's start, the Ray Tune run(s), the outputs (best.json, family, plots,
optuna.db) and report.html. The training share is the issue's: the trainings' seconds in
trials.csv (optimizer steps) over the slots that ran them, divided by the search's wall;
beside it the seconds spent inside Ray trials (building, training, evaluating). On a loaded
machine every phase stretches: compare ratios, and the driver's CPU seconds per phase.

    python benchmarks/bench_overhead.py [--budget 3m | --num-train 128] [--cache DIR] [--quick]

``--cache DIR`` is the grid cache (``SCALESEARCH_GRID_CACHE``; default: a fresh temporary folder,
so the grid is counted; give the same folder twice to time a cached grid). ``--quick`` (a
0.1-step grid, 2 epochs of 64 images, a family to φ = 2, no budget) only checks that the
benchmark runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PHASES = ("grid", "pilot", "ray start", "tune", "outputs", "report.html")


class Clock:
    """Seconds per phase, added up over every call of the wrapped functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)  # the driver's CPU seconds in it

    def wrap(self, module, name: str, phase: str) -> None:
        inner = getattr(module, name)

        def timed(*args, **kwargs):
            t, c = time.perf_counter(), time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - t
                self.cpu[phase] += time.process_time() - c

        setattr(module, name, timed)

    def wrap_context(self, module, name: str, phase: str) -> None:
        """A context manager whose entry (only) is the phase (Ray's start)."""
        inner = getattr(module, name)

        @contextlib.contextmanager
        def timed(*args, **kwargs):
            t = time.perf_counter()
            with inner(*args, **kwargs) as value:
                self.seconds[phase] += time.perf_counter() - t
                yield value

        setattr(module, name, timed)


def timed_trials(runner, record: Path) -> None:
    """Each Ray trial appends (start, end) to ``record`` (the wrapper is shipped to the
    workers by value): the seconds the slots spent inside trials — building, training,
    evaluating — against the optimizer steps trials.csv records."""
    inner = runner.trial

    def trial(config, context):
        start = time.time()
        try:
            return inner(config, context)
        finally:
            with open(record, "a") as f:
                f.write(f"{start} {time.time()}\n")

    runner.trial = trial


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", default="3m")
    ap.add_argument("--num-train", type=int, help="a fixed plan (images per epoch) instead of "
                    "--budget: a loaded machine's pilot refuses or shrinks the README's budget")
    ap.add_argument("--num-val", type=int, help="validation images (default: the search's "
                    "own: 250 planned under the default training-loss ranking, where they only "
                    "score the kept top-1; the answer replicates used 1000)")
    ap.add_argument("--metric", help="--metric of the search (default: the search's own)")
    ap.add_argument("--cache", help="grid cache folder (default: a fresh one)")
    ap.add_argument("--out", help="keep the run folder here (default: a temporary one)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="bench-overhead-")
    os.environ["SCALESEARCH_GRID_CACHE"] = args.cache or str(Path(scratch.name) / "cache")

    import scalesearch
    from scalesearch import experiments
    from scalesearch.coefsearch import budget, runner, session
    from scalesearch.coefsearch.trials import TrialStore

    clock = Clock()
    clock.wrap(session, "_space", "grid")
    clock.wrap(budget, "run_pilot", "pilot")
    clock.wrap_context(runner, "runtime", "ray start")
    clock.wrap(runner, "fit", "tune")
    clock.wrap(session, "_reports", "outputs")
    clock.wrap(experiments, "_report", "report.html")
    record = Path(scratch.name) / "trials.txt"
    timed_trials(runner, record)
    options: dict = dict(proxy_size=40, epochs=4, num_val=args.num_val, budget=args.budget)
    if args.metric:
        options["metric"] = args.metric
    if args.num_train:  # the README's plan on an idle machine chose 128 (README, main job)
        options = dict(options, budget=None, num_train=args.num_train)
    if args.quick:
        options = dict(proxy_size=40, epochs=2, num_train=64, num_val=64, grid_step=0.1,
                       seeds=1, family_phi=2)  # a family of two φ: every phase, not its size
    out = Path(args.out) if args.out else Path(scratch.name) / "main"
    lines: list[tuple[float, str]] = []
    t0 = time.perf_counter()

    def log(line: str) -> None:
        lines.append((time.perf_counter() - t0, line))
        print(f"[{lines[-1][0]:6.1f} s] {line}", file=sys.stderr, flush=True)

    result = scalesearch.search("efficientnet-b0", out=out, log=log, **options)
    wall = time.perf_counter() - t0
    rows = TrialStore(out / "trials.csv").rows
    plan = result.record.plan or {}
    slots = plan.get("concurrent") or min(2, os.cpu_count() or 1)
    trained = sum(r["seconds"] or 0.0 for r in rows)
    print(f"machine: {os.cpu_count()} CPUs; load average at the end "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in options.items()
                     if v is not None)
    print(f"README main job ({flags}): wall {wall:.1f} s, {len(rows)} trainings on {slots} slots")
    accounted = 0.0
    for phase in PHASES:
        s = clock.seconds.get(phase, 0.0)
        accounted += s if phase != "tune" else 0.0
        print(f"  {phase:<12} {s:7.1f} s  {s / wall:6.1%}   driver CPU {clock.cpu[phase]:6.1f} s")
    print(f"  {'other':<12} {wall - accounted - clock.seconds['tune']:7.1f} s  "
          f"(imports of the search, folders, checks)")
    spans = [tuple(map(float, line.split())) for line in record.read_text().splitlines()]
    inside = sum(end - start for start, end in spans)
    print(f"inside trials (build, train, evaluate; {len(spans)} Ray trials): {inside:.1f} / "
          f"{slots} = {inside / slots:.1f} s = {inside / slots / wall:.1%} of the wall")
    print(f"training (trials.csv seconds / slots): {trained:.1f} / {slots} = "
          f"{trained / slots:.1f} s = {trained / slots / wall:.1%} of the wall")
    if plan:
        print(f"budget {plan['budget_s']:g} s: planned {plan['estimated_s']:g} s, took "
              f"{plan.get('actual_s')} s in the search ({wall:.1f} s with report.html)")


if __name__ == "__main__":
    main()
