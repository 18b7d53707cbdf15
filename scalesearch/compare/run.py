"""Train every network of a comparison with the same proxy budget and K seeds; write
``compare.csv`` (one row per network × seed) and ``compare.md`` (Table-3 layout)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd

from scalesearch.cluster import Placement, check_placement, run_jobs
from scalesearch.compare.nonuniform import parse_repeats, with_repeats
from scalesearch.compare.strategies import (
    FAST_ALPHA,
    PAPER_STRATEGIES,
    STRATEGIES,
    StrategyOptions,
    check_ratio,
    parse_strategies,
    solve_strategies,
)
from scalesearch.errors import MAX_SEEDS, ScalesearchError, check_whole
from scalesearch.fmt import human, mean_spread
from scalesearch.io import write_frame, write_json, write_text
from scalesearch.latency import LatencySpec
from scalesearch.logs import Log, stderr
from scalesearch.proxy import ProxySetup
from scalesearch.registry import portable_spec, resolve
from scalesearch.rundir import RowStore, RunFolder, check_folder_path
from scalesearch.scaler import PAPER_COEFFICIENTS, Multipliers, check_coefficients
from scalesearch.status import Status
from scalesearch.trackers import Tracking

ORDER = {s: i for i, s in enumerate(("baseline", *STRATEGIES))}


@dataclass(frozen=True)
class CompareConfig:
    """One comparison: baseline, target FLOPs ratios, strategies, seeds and the proxy
    training setup."""

    baseline: str
    ratios: tuple[float, ...] = (2.0, 4.0)
    strategies: tuple[str, ...] = PAPER_STRATEGIES
    coefficients: tuple[float, float, float] = PAPER_COEFFICIENTS
    seeds: int = 1
    setup: ProxySetup = field(default_factory=ProxySetup)
    placement: Placement = field(default_factory=Placement)  # where; never what (not resumed)
    fast_alpha: float = FAST_ALPHA  # fast: share of the FLOPs growth given to width
    max_image_size: int | None = None  # image-size cap (full-size px); the rest goes to d, w
    latency: LatencySpec | None = None  # measure latency_ms of every network when given
    tracking: Tracking = field(default_factory=Tracking)  # trackers also logged to (not resumed)

    def __post_init__(self) -> None:
        ratios = (self.ratios,) if isinstance(self.ratios, int | float) else self.ratios
        for r in ratios:
            check_ratio(r)
        object.__setattr__(self, "ratios", tuple(float(r) for r in ratios))
        object.__setattr__(self, "strategies", parse_strategies(self.strategies))
        check_coefficients(*self.coefficients)
        object.__setattr__(self, "coefficients", tuple(float(c) for c in self.coefficients))
        check_whole("--seeds", self.seeds, 1, MAX_SEEDS)
        check_whole("--max-image-size", self.max_image_size, optional=True)

    def strategy_options(self) -> StrategyOptions:
        """The :class:`StrategyOptions` its strategies share."""
        return StrategyOptions(self.coefficients, self.fast_alpha, self.max_image_size,
                               self.latency)


def _train(spec: str, p: dict, setup: dict, seed: int) -> dict:
    """One network × seed, trained with the comparison's proxy budget."""
    from scalesearch.proxy import run_proxy

    try:
        baseline, depth = resolve(spec), p["depth"]
        if isinstance(p.get("stage_repeats"), str):  # nonuniform: the depth is in the repeats
            baseline, depth = with_repeats(baseline, parse_repeats(p["stage_repeats"])), 1.0
        mult = Multipliers(depth, p["width"], p["resolution"])
        rec = run_proxy(baseline, mult, ProxySetup.from_dict(setup), seed=seed)
    except Exception as err:  # one broken network must not sink the comparison
        return dict(p, seed=seed, status=Status.FAILED, error=f"{type(err).__name__}: {err}")
    return dict(p, seed=seed, proxy_image_size=rec["image_size"], top1=rec["top1"],
                loss=rec["loss"], seconds=rec["seconds"], status=rec["status"],
                error=rec["error"])


def trial(config: dict, context: dict) -> None:
    """Ray Tune trainable: the job ``context["jobs"][config["index"]]`` (a network and a seed);
    reports its row."""
    from ray import tune

    job = context["jobs"][config["index"]]
    tune.report({"rows": [_train(context["spec"], job["point"], context["setup"],
                                 job["seed"])]})


def _sorted(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["_o"] = df["strategy"].map(ORDER)
    keys = [k for k in ("target_ratio", "_o", "seed") if k in df]
    return df.sort_values(keys).drop(columns="_o").reset_index(drop=True)


class CompareRows(RowStore):
    """compare.csv: one row per network × seed, keyed by (strategy, target ratio, seed)."""

    def key(self, row: dict) -> tuple:
        """(strategy, target ratio, seed)."""
        return (row["strategy"], round(float(row["target_ratio"]), 6), int(row["seed"]))

    def read(self) -> list[dict]:
        """The stored rows (pandas: an empty cell is NaN)."""
        return pd.read_csv(self.path).to_dict("records")

    def write(self) -> None:
        """Rewrite compare.csv atomically, sorted by target ratio, strategy (baseline first)
        and seed."""
        write_frame(self.path, _sorted(self.rows))


def compare_folder(path: str | Path) -> RunFolder:
    """A comparison's run folder: compare.json and compare.csv."""
    return RunFolder(path, "comparison", "compare.json", "compare.csv", CompareRows)


def _describe(jobs: list[dict], config: dict) -> tuple[str, dict]:
    """A training job's tracker run: named by strategy, FLOPs ratio and seed, with its d, w,
    px (:mod:`scalesearch.trackers`)."""
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

    context = dict(spec=portable_spec(cfg.baseline), jobs=jobs,
                   setup=cfg.placement.trial_setup(cfg.setup).to_dict())
    what = "network × seed trainings" + (f" ({finished} already done)" if finished else "")
    run_jobs(trial, context, len(jobs), cfg.placement, on_rows=arrived, on_lost=lost, log=log,
             what=what, callbacks=cfg.tracking.callbacks(store.path.parent, partial(
                 _describe, jobs), "compare"))
    return store.rows


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One line per network: top-1 mean ± std over seeds (when trained)."""
    keys = ["target_ratio", "strategy"]
    first = df.groupby(keys, sort=False).first().reset_index()
    if "top1" in df:
        stats = df.groupby(keys, sort=False)["top1"].agg(["mean", "std", "count"]).reset_index()
        first = first.merge(stats.rename(columns={"mean": "top1_mean", "std": "top1_std",
                                                  "count": "seeds"}), on=keys)
    return _sorted(first.to_dict("records"))


def _label(r: dict, name: str) -> str:
    """What the strategy chose, in the paper's words (Table 3's first column)."""
    s, mults = r["strategy"], f"d={r['depth']:g}, w={r['width']:g}, r={r['resolution']:g}"
    if s == "baseline":
        return f"{name} (baseline)"
    if r.get("capped") in (True, 1):  # a bool, or numpy's from a CSV; NaN or absent: no
        return f"{s}, image capped at {r['image_size']} px ({mults})"
    if s == "compound":
        return f"compound (φ={r['phi']:g}: {mults})"
    if s == "nonuniform":
        return f"nonuniform (φ={r['phi']:g}: {mults}; repeats {r['stage_repeats']})"
    if s == "fast":
        return f"fast (s={r['fast_s']:g}: {mults})"
    return f"scale by {s} ({s[0]}={r[s]:g})"


def _has(summary: pd.DataFrame, col: str) -> bool:
    return bool(col in summary and summary[col].notna().any())


def markdown(summary: pd.DataFrame, name: str) -> str:
    """Table 3 layout: model | FLOPs (achieved / target) | activations | latency | params | px
    | top-1; the latency and top-1 columns where they were measured."""
    trained, timed = _has(summary, "top1_mean"), _has(summary, "latency_ms")
    head = ["model", "FLOPs", "ratio (target)", "activations (ratio)"] + \
        ["latency ms (ratio)"] * timed + ["params", "image"] + ["top-1 (%)"] * trained
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base_ms = summary.loc[summary["strategy"] == "baseline", "latency_ms"].iloc[0] \
        if timed else None
    for r in summary.to_dict("records"):
        cells = [_label(r, name), human(r["flops"], "FLOPs"),
                 f"{r['flops_ratio']:.2f}× ({r['target_ratio']:g}×)",
                 f"{human(r['activations'])} ({r['activations_ratio']:.2f}×)"]
        if timed:
            cells.append(f"{r['latency_ms']:.1f} ({r['latency_ms'] / base_ms:.2f}×)")
        cells += [human(r["params"]), f"{r['image_size']} px"]
        if trained:
            cells.append(f"{mean_spread(r['top1_mean'], r['top1_std'])} (n={r['seeds']})"
                         if pd.notna(r["top1_mean"]) else Status.FAILED)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _check_training(cfg: CompareConfig, out: Path | None, resume: bool,
                    log: Callable[[str], None]) -> dict:
    """Refuse what would stop a training run, before the strategies are solved; returns the
    settings compare.json stores."""
    from scalesearch.data.scan import report_data

    if out is None:
        raise ScalesearchError("training needs an output folder (out=…, or train=False)")
    report_data(cfg.setup, log)
    check_placement(cfg.placement)  # refuse what the cluster cannot place, before writing
    settings = recipe(cfg)
    compare_folder(out).check(settings, resume)
    return settings


def recipe(cfg: CompareConfig) -> dict:
    """What a comparison computes, as compare.json stores it and a resume compares it: the
    config without its placement and the training's hardware fields."""
    settings = asdict(cfg)
    settings.pop("placement")
    settings.pop("tracking")
    settings["setup"]["train"] = cfg.setup.train.recipe()
    return json.loads(json.dumps(settings))


def run_compare(cfg: CompareConfig, out: Path | None, *, train: bool = True, resume: bool = False,
                log: Log = stderr) -> pd.DataFrame:
    """Solve every strategy at every ratio, optionally train; returns the per-network summary.
    ``compare.csv`` is the resume state: ``resume`` keeps its rows and trains the rest (the
    settings must equal those stored in compare.json)."""
    baseline = resolve(cfg.baseline)
    if out is not None:
        check_folder_path(out)  # before the strategies are solved (and warned about)
    settings = _check_training(cfg, out, resume, log) if train else None
    points = [dict(p.to_dict(), baseline=baseline.name)
              for p in solve_strategies(baseline, list(cfg.ratios), cfg.strategies,
                                        cfg.strategy_options())]
    if cfg.latency is not None:  # points[0] is the baseline
        for p in points:
            p["latency_ratio"] = p["latency_ms"] / points[0]["latency_ms"]
    if not train:
        summary = _sorted(points)
        if out:
            write_frame(out / "compare.csv", summary)
            write_text(out / "compare.md", markdown(summary, baseline.name))
        return summary
    from scalesearch.proxy import check_proxy_size

    check_proxy_size(baseline, [(p["resolution"], None) for p in points], cfg.setup.proxy_size)
    store = compare_folder(out).start(settings)
    rows = train_points(cfg, points, store, log)
    summary = summarize(pd.read_csv(store.path))
    write_text(out / "compare.md", markdown(summary, baseline.name))
    write_json(out / "config.json", asdict(cfg))
    log(f"{len(rows)} trainings done")
    return summary
