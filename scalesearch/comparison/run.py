"""Run a comparison: solve every strategy at every FLOPs ratio, train each network × seed
with the same proxy budget as Ray Tune trials, and write ``compare.csv`` (one row per network
× seed) and ``compare.md`` (Table-3 layout). The pieces:
:class:`~scalesearch.settings.CompareConfig`, :mod:`~scalesearch.comparison.trainable`,
:mod:`~scalesearch.comparison.rows`, :mod:`~scalesearch.comparison.summary`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import cast

import pandas as pd

from scalesearch.comparison.rows import CompareRows, compare_folder, sorted_rows
from scalesearch.comparison.strategies import solve_strategies
from scalesearch.comparison.summary import markdown, summarize
from scalesearch.comparison.trainable import CompareContext, trial
from scalesearch.errors import ScalesearchError
from scalesearch.scaling.registry import portable_spec, resolve
from scalesearch.settings.compare import CompareConfig
from scalesearch.settings.trackers import callbacks as tracker_callbacks
from scalesearch.training.cluster import check_placement, run_jobs
from scalesearch.training.rundir import check_folder_path, check_only
from scalesearch.util.io import write_frame, write_text
from scalesearch.util.logs import Log, stderr
from scalesearch.util.status import Status

UNTRAINED = ("compare.csv", "compare.md")  # what --no-train writes into --out

__all__ = ["CompareConfig", "CompareRows", "compare_folder", "markdown", "run_compare",
           "summarize", "train_points"]


def _describe(jobs: list[dict], config: dict) -> tuple[str, dict]:
    """A training job's tracker run: named by strategy, FLOPs ratio and seed, with its d, w,
    px (:mod:`scalesearch.settings.trackers`)."""
    job = jobs[config["index"]]
    p = job["point"]
    return (f"{p['strategy']}_x{p['target_ratio']:g}_seed{job['seed']}",
            dict(strategy=p["strategy"], target_ratio=p["target_ratio"], depth=p["depth"],
                 width=p["width"], image_size=p["image_size"], seed=job["seed"]))


def train_points(cfg: CompareConfig, points: list[dict], store: CompareRows,
                 log: Callable[[str], None]) -> list[dict]:
    """Train each point for every seed that ``store`` (compare.csv) does not hold, as Ray
    Tune trials; rows land in compare.csv as they finish."""
    start, finished = time.perf_counter(), len(store.rows)
    jobs = [dict(point=p, seed=j["seed"])
            for p in points for j in store.left(dict(p, seed=s) for s in range(cfg.seeds))]
    if not jobs:
        log("nothing left to train: every network × seed is in compare.csv")
        return store.rows

    def arrived(new: list[dict]) -> None:
        for row in new:
            store.append([row])
            top1 = f"{row['top1']:.1f}%" if row.get("top1") is not None else row["status"]
            log(f"[{len(store.rows)}/{len(jobs) + finished}] {row['strategy']} "
                f"×{row['target_ratio']:g} "
                f"(d={row['depth']:g} w={row['width']:g} {row['image_size']} px) seed "
                f"{row['seed']}: top-1 {top1}  ({time.perf_counter() - start:.0f} s)")

    def lost(index: int, error: str) -> None:
        job = jobs[index]
        arrived([dict(job["point"], seed=job["seed"], status=Status.FAILED, error=error)])

    setup = cfg.placement.trial_setup(cfg.setup)
    context = CompareContext(portable_spec(cfg.baseline), tuple(jobs),
                             replace(setup, trainer=portable_spec(setup.trainer)))
    what = "network × seed trainings" + (f" ({finished} already done)" if finished else "")
    run_jobs(trial, context, len(jobs), cfg.placement, on_rows=arrived, on_lost=lost, log=log,
             what=what, callbacks=tracker_callbacks(cfg.tracking, store.path.parent, partial(
                 _describe, jobs), "compare"))
    return store.rows


def _check_training(cfg: CompareConfig, out: Path | None, resume: bool,
                    log: Callable[[str], None]) -> dict:
    """Refuse what would stop a training run, before the strategies are solved; returns the
    settings compare.json stores."""
    from scalesearch.data.scan import report_data
    from scalesearch.training.contract import resolve_trainer

    if out is None:
        raise ScalesearchError("training needs an output folder (out=…, or train=False)")
    resolve_trainer(cfg.setup.trainer)  # one line before anything trains
    report_data(cfg.setup, log)
    check_placement(cfg.placement)  # refuse what the cluster cannot place, before writing
    settings = cfg.recipe()
    compare_folder(out).check(settings, resume)
    return settings


def run_compare(cfg: CompareConfig, out: Path | None, *, train: bool = True, resume: bool = False,
                log: Log = stderr) -> pd.DataFrame:
    """Solve every strategy at every ratio, optionally train; returns the per-network summary.
    ``compare.csv`` is the resume state: ``resume`` keeps its rows and trains the rest (the
    settings must equal those stored in compare.json)."""
    baseline = resolve(cfg.baseline)
    if out is not None:
        check_folder_path(out)  # before the strategies are solved (and warned about)
        if not train:  # never over a trained comparison's compare.csv, nor someone else's
            check_only(out, UNTRAINED, "untrained comparison")
    settings = _check_training(cfg, out, resume, log) if train else None
    points = [dict(p.to_dict(), baseline=baseline.name)
              for p in solve_strategies(baseline, list(cfg.ratios),
                                        cast("tuple[str, ...]", cfg.strategies),  # post-init
                                        cfg)]
    if cfg.latency is not None:  # points[0] is the baseline
        for p in points:
            p["latency_ratio"] = p["latency_ms"] / points[0]["latency_ms"]
    if not train:
        summary = sorted_rows(points)
        if out:
            write_frame(out / "compare.csv", summary)
            write_text(out / "compare.md", markdown(summary, baseline.name))
        return summary
    from scalesearch.training.proxy import check_proxy_size

    check_proxy_size(baseline, [(p["resolution"], None) for p in points], cfg.setup.proxy_size)
    assert out is not None and settings is not None  # _check_training refused out=None
    folder = compare_folder(out)
    store = cast(CompareRows, folder.start(settings))  # compare_folder's rows are CompareRows
    try:
        rows = train_points(cfg, points, store, log)
        left = len(store.left(dict(p, seed=s) for p in points for s in range(cfg.seeds)))
        if not rows:  # Ray Tune took the Ctrl-C (or SIGTERM) before a training finished
            raise KeyboardInterrupt
        summary = summarize(pd.read_csv(store.path))
        write_text(out / "compare.md", markdown(summary, baseline.name))
    finally:
        folder.release()  # another thread may start a run in it now
    if left:  # Ray Tune took the Ctrl-C (or SIGTERM): what finished is written
        log(f"comparison incomplete: {left} training(s) left; continue with --resume")
    else:
        log(f"{len(rows)} trainings done")
    summary.attrs["remaining"] = left
    return summary
