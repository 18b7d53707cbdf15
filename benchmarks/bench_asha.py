"""Multi-fidelity benchmark: the full budget, synchronous SH and asynchronous ASHA on the same
candidates and seeds, each scheduler with two start orders, in one run.

For every run it prints the images trained, the time, the winner, whether that winner is in the
full run's tied set and Kendall τ between its ranking and the full run's; then whether the two
start orders gave identical results, the image ratio against the full budget (targets for sha:
identical, in the tied set, ≥ 3× fewer images), and — from the full run's learning curves —
how well each epoch's ranking predicts the final one (τ per epoch, the table behind the default
``--min-epochs``).

Because training is deterministic and a synchronous rung's continuation is exact, synchronous
SH is a function of the full run's learning curves: ``replay`` recomputes its decisions from
them, and the benchmark checks the replay against the real runs. ``--from RUN_DIR`` replays a
finished ``scalesearch search --curves`` run (the tables only, no training).

    python benchmarks/bench_asha.py [--data synthetic] [--epochs 9] [--seeds 2]
                                    [--min-epochs 1 2] [--keep DIR] [--quick]
    python benchmarks/bench_asha.py --from RUN_DIR --min-epochs 1 2 3
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from scipy.stats import kendalltau

from scalesearch.coefsearch.halving import survivors
from scalesearch.coefsearch.results import best_record, ranking
from scalesearch.coefsearch.session import run_search
from scalesearch.coefsearch.trials import TrialStore, history_at, scores_at
from scalesearch.settings.recipe import ProxySetup, TrainConfig
from scalesearch.settings.search import Ranges, SearchConfig, evaluates
from scalesearch.training.cluster import connect

KEY = ("alpha", "beta", "gamma")


def run(cfg: SearchConfig, folder: Path) -> dict:
    start = time.perf_counter()
    summary = run_search(cfg, folder, log=lambda m: None)
    rows = TrialStore(folder / "trials.csv").rows
    return dict(summary=summary, rows=rows, seconds=time.perf_counter() - start,
                images=sum(r["images"] or 0 for r in rows))


def decisions(rows: list[dict]) -> list[tuple]:
    """What a run decided, independent of timing: every row's status, epochs and scores."""
    return sorted((r["alpha"], r["beta"], r["gamma"], r["seed"], r["status"], r["epochs"],
                   None if r["top1"] is None else round(r["top1"], 3), r["history"])
                  for r in rows)


def tau_vs(full_means: dict, order: list[tuple]) -> float:
    """Kendall τ between a ranking (best first) and the full run's mean top-1."""
    common = [k for k in order if k in full_means]
    if len(common) < 2:
        return math.nan
    return float(kendalltau([-i for i in range(len(common))],
                            [full_means[k] for k in common]).statistic)


def replay(rows: list[dict], rungs: list[int], eta: float, every_epoch: bool = False
           ) -> list[dict]:
    """The rows synchronous SH with these rungs would have written, from full-budget curves;
    ``every_epoch``: the ranked value comes with every epoch (the built-in's training loss,
    the search's default), not only where sha evaluates."""
    rows = [dict(r) for r in rows]
    for k, epoch in enumerate(rungs):
        live = [r for r in rows if r["status"] == "ok"]
        keep = survivors(scores_at(live, epoch), eta)
        for r in live:
            if (r["alpha"], r["beta"], r["gamma"]) not in keep:
                share = epoch / r["epochs"]
                r.update(status="stopped", rung=k, epochs=epoch, top1=history_at(r, epoch),
                         history=";".join(r["history"].split(";")[:epoch]),
                         images=round(r["images"] * share))
    for r in rows:  # sha evaluates only at its rungs (its evaluate_at) and at the end
        r["history"] = ";".join(h if every_epoch or evaluates(i + 1, rungs)
                                or i + 1 == r["epochs"] else ""
                                for i, h in enumerate((r["history"] or "").split(";")))
    return rows


def replay_line(name: str, rows: list[dict], full: dict, tied: set) -> str:
    b = best_record(ranking(rows), {})
    win = tuple(b[k] for k in KEY)
    images = sum(r["images"] or 0 for r in rows)
    pb = "–" if b["p_best"] is None else f"{100 * b['p_best']:.0f}%"
    return (f"{name:14s} {images:9,d} {full['images'] / images:6.2f}×  {str(win):18s} "
            f"{b['top1_mean']:5.1f} ± {b['top1_std']:4.1f} {pb:>6s} "
            f"{'yes' if win in tied else 'NO':>7s}  separated {b['separated']}, "
            f"{len(b['not_ruled_out'])} not ruled out")


def epoch_table(rows: list[dict], epochs: int, eta: float) -> list[dict]:
    """Per epoch of the full run: τ of that epoch's ranking against the final one, the mean and
    spread of the candidates' val top-1 there, and the final best's place (kept by a cut of
    ⌈n/η⌉ at that epoch?)."""
    final = {k: statistics.fmean(v) for k, v in scores_at(rows, epochs).items()}
    best = max(final, key=final.get)
    out = []
    for e in range(1, epochs + 1):
        at = {k: statistics.fmean(v) for k, v in scores_at(rows, e).items()}
        keys = [k for k in final if k in at]
        place = 1 + sum(at[k] > at[best] for k in keys)
        out.append(dict(epoch=e, tau=kendalltau([at[k] for k in keys],
                                                [final[k] for k in keys]).statistic,
                        mean=statistics.fmean(at.values()), spread=max(at.values())
                        - min(at.values()), best_place=place,
                        kept=place <= math.ceil(len(keys) / eta)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", default="efficientnet-b0")
    p.add_argument("--data", default="synthetic")
    p.add_argument("--epochs", type=float, default=9.0)
    p.add_argument("--min-epochs", type=int, nargs="+", default=[2])
    p.add_argument("--reduction-factor", type=float, default=3.0)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--proxy-size", type=int, default=40)
    p.add_argument("--num-train", type=int, default=300)
    p.add_argument("--num-val", type=int, default=200)
    p.add_argument("--grid-step", type=float, default=0.05)
    p.add_argument("--keep", type=Path, help="keep the run folders here (default: temporary)")
    p.add_argument("--quick", action="store_true", help="a coarse grid, 3 epochs, 48 images")
    p.add_argument("--from", dest="run_dir", type=Path, help="replay a finished search run with "
                   "--curves (no training)")
    args = p.parse_args(argv)
    if args.run_dir:
        return from_run(args)
    if args.quick:
        args.grid_step, args.epochs, args.num_train, args.num_val = 0.1, 3.0, 48, 24
        args.proxy_size = 32
    setup = ProxySetup(data=args.data, proxy_size=args.proxy_size, num_train=args.num_train,
                       num_val=args.num_val, train=TrainConfig(epochs=args.epochs, threads=1))
    full = SearchConfig(args.baseline, ranges=Ranges(step=args.grid_step), match_flops=True,
                        seeds=args.seeds, setup=setup, curves=True)
    runs = {"full": full}
    for i, m in enumerate(args.min_epochs):  # two start orders for the first placement
        sha = replace(full, scheduler="sha", min_epochs=m, curves=False,
                      reduction_factor=args.reduction_factor)
        runs |= {f"sha{m}-order0": sha} | ({} if i else {f"sha{m}-order1": replace(
            sha, sampler_seed=1)})
    asha = replace(full, scheduler="asha", min_epochs=args.min_epochs[0], curves=False,
                   reduction_factor=args.reduction_factor)
    runs |= {"asha-order0": asha, "asha-order1": replace(asha, sampler_seed=1)}
    print(f"machine: {os.cpu_count()} cores; {args.baseline} on {args.data}, {args.seeds} seeds, "
          f"{args.epochs:g} epochs of {args.num_train} images at {args.proxy_size} px base, "
          f"η = {args.reduction_factor:g}", flush=True)
    ray, _ = connect(None)  # one local Ray runtime for every run
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = args.keep or Path(tmp)
            results = {}
            for name, cfg in runs.items():
                results[name] = run(cfg, root / name)
                print(f"  {name}: {results[name]['seconds']:.0f} s", flush=True)
    finally:
        ray.shutdown()
    report(results, runs, args)
    return 0


def from_run(args: argparse.Namespace) -> int:
    import json

    cfg = SearchConfig.from_dict(json.loads((args.run_dir / "search.json").read_text())["config"])
    rows = TrialStore(args.run_dir / "trials.csv").rows
    summary = ranking(rows)
    full = dict(images=sum(r["images"] or 0 for r in rows))
    best = best_record(summary, {})
    tied = {tuple(t[k] for k in KEY) for t in best["tied"]}
    print(f"{args.run_dir}: {len(summary)} candidates × {cfg.seeds} seeds, {cfg.epochs} epochs; "
          f"full budget {full['images']:,d} images, tied set {sorted(tied)}")
    for m in args.min_epochs:
        sha = replace(cfg, scheduler="sha", min_epochs=m, reduction_factor=args.reduction_factor)
        print(replay_line(f"sha{m} {sha.milestones()}",
                          replay(rows, sha.milestones(), args.reduction_factor,
                                 cfg.setup.ranks_unevaluated), full, tied))
    print_epochs(rows, cfg.epochs, args.reduction_factor)
    return 0


def print_epochs(rows: list[dict], epochs: int, eta: float) -> None:
    print(f"\nper epoch of the full run (η = {eta:g}): does that epoch's ranking predict the "
          "final one?")
    print(f"{'epoch':>5s} {'τ vs final':>10s} {'mean top-1':>10s} {'spread':>7s} "
          f"{'final best':>10s}")
    for e in epoch_table(rows, epochs, eta):
        print(f"{e['epoch']:5d} {e['tau']:10.2f} {e['mean']:10.1f} {e['spread']:7.1f} "
              f"{'#' + str(e['best_place']) + (' kept' if e['kept'] else ' CUT'):>10s}")


def report(results: dict, runs: dict, args: argparse.Namespace) -> None:
    full = results["full"]
    fb = full["summary"]["best"]
    tied = {tuple(t[k] for k in KEY) for t in fb["tied"]}
    full_means = {tuple(r[k] for k in KEY): r["top1_mean"] for r in full["summary"]["ranking"]}
    print(f"\n{'run':14s} {'rungs':>8s} {'images':>9s} {'×fewer':>7s} {'seconds':>8s}  "
          f"{'winner':18s} {'top-1':>12s} {'p_best':>6s} {'in tied':>7s} {'τ vs full':>9s}")
    for name, res in results.items():
        b, cfg = res["summary"]["best"], runs[name]
        win = tuple(b[k] for k in KEY)
        order = [tuple(r[k] for k in KEY) for r in res["summary"]["ranking"]]
        pb = "–" if b["p_best"] is None else f"{100 * b['p_best']:.0f}%"
        print(f"{name:14s} {str(cfg.milestones() or '–'):>8s} {res['images']:9,d} "
              f"{full['images'] / res['images']:6.2f}× {res['seconds']:8.0f}  "
              f"{str(win):18s} {b['top1_mean']:5.1f} ± {b['top1_std']:4.1f} {pb:>6s} "
              f"{'yes' if win in tied else 'NO':>7s} {tau_vs(full_means, order):9.2f}")
    print(f"\nfull run's tied set: {sorted(tied)}")
    for name in [n for n in results if n.replace("order0", "order1") in results]:
        twin = name.replace("order0", "order1")
        same = decisions(results[name]["rows"]) == decisions(results[twin]["rows"])
        print(f"{name[:-7]}: the two start orders gave {'identical' if same else 'DIFFERENT'} "
              "results")
    for name in [n for n in results if n.startswith("sha")]:
        replayed = replay(full["rows"], runs[name].milestones(), args.reduction_factor,
                          runs[name].setup.ranks_unevaluated)
        same = decisions(replayed) == decisions(results[name]["rows"])
        print(f"{name}: replayed from the full run's curves: {'identical' if same else 'DIFFERENT'}"
              " decisions and scores")
    print_epochs(full["rows"], runs["full"].epochs, args.reduction_factor)


if __name__ == "__main__":
    sys.exit(main())
