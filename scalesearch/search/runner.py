"""Run the φ=1 search (§3.3 step 1) on Ray Tune: OptunaSearch (grid or TPE) proposes
candidates, an optional ASHA scheduler (successive halving, Li et al. 2020) stops weak ones at
rungs ``min_epochs``·η^k, and :mod:`scalesearch.search.trainable` trains each candidate's seeds.

``trials.csv`` — written by the driver as trials finish — is the source of truth: ``--resume``
re-plans only the (candidate, seed) pairs it does not hold (a candidate stopped by ASHA is
finished), so a run killed at any point loses at most the trials in flight and never duplicates
a row; ASHA's rungs are warm-started from the stored per-epoch scores.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from scalesearch.errors import ScalesearchError
from scalesearch.hardware import parallel_device
from scalesearch.latency import LatencySpec
from scalesearch.proxy import ProxySetup
from scalesearch.search.objective import Objective
from scalesearch.search.precheck import check_request
from scalesearch.search.space import (
    Ranges,
    Space,
    alpha_bounds,
    beta_fraction,
    build_space,
    tpe_point,
)
from scalesearch.search.stats import TIE_BREAKS
from scalesearch.search.trainable import EVAL_IMAGES, RUNNING, base_row, candidate_of, trial
from scalesearch.search.trials import TrialStore, trial_key
from scalesearch.status import Status

SAMPLERS = ("grid", "tpe")
SCHEDULERS = ("none", "asha")
MAX_REJECTIONS = 10  # TPE: at most this many samples per trained candidate


@dataclass(frozen=True)
class SearchConfig:
    """Everything that defines a search; stored in ``search.json`` so a resume can check it."""

    baseline: str
    ranges: Ranges = Ranges()
    tolerance: float = 0.05  # relative: |α·β²·γ²/2 − 1| ≤ tolerance
    flops_tolerance: float = 0.25  # without match_flops: |measured ratio − 2| ≤ this
    match_flops: bool = False  # solve each candidate's resolution to a measured ratio 2 ± 3%
    sampler: str = "grid"
    trials: int | None = None  # TPE budget (candidates); grid: all candidates
    seeds: int = 2
    sampler_seed: int = 0
    scheduler: str = "none"  # "asha": stop weak candidates at rungs min_epochs·η^k
    min_epochs: int = 1  # ASHA's first rung (grace period)
    reduction_factor: float = 3.0  # ASHA's η: a third of the candidates go on at each rung
    tie_break: str = "balanced"  # how to choose within the tied set (reporting only)
    objective: Objective = field(default_factory=Objective)  # ranks by (reporting only)
    latency: LatencySpec | None = None  # measure each candidate's latency on the driver
    cpus_per_trial: int = 1
    gpus_per_trial: float = 0.0  # Ray GPU resource per trial; 0.25 lets 4 trials share a GPU
    address: str | None = None
    setup: ProxySetup = field(default_factory=ProxySetup)

    def __post_init__(self) -> None:
        for name, value, choices in (("sampler", self.sampler, SAMPLERS),
                                     ("scheduler", self.scheduler, SCHEDULERS),
                                     ("tie-break", self.tie_break, TIE_BREAKS)):
            if value not in choices:
                raise ScalesearchError(f"unknown {name} {value!r}; one of {', '.join(choices)}")
        for name, tol in (("tolerance", self.tolerance), ("FLOPs tolerance",
                                                           self.flops_tolerance)):
            if not 0 < tol < 1:
                raise ScalesearchError(f"{name} must be in (0, 1), got {tol}")
        if self.seeds < 1:
            raise ScalesearchError(f"--seeds must be ≥ 1, got {self.seeds}")
        if self.latency is None and (self.objective.needs_latency
                                     or self.tie_break == "latency"):
            object.__setattr__(self, "latency", LatencySpec())  # asked for implicitly
        if self.sampler == "tpe" and not self.trials:
            raise ScalesearchError("--sampler tpe needs a budget: --trials N")
        if self.scheduler == "asha":
            if not 1 <= self.min_epochs < self.epochs:
                raise ScalesearchError(f"--min-epochs must be ≥ 1 and below --epochs "
                                       f"({self.epochs}), got {self.min_epochs}")
            if self.reduction_factor <= 1:
                raise ScalesearchError(f"--reduction-factor must be > 1, got "
                                       f"{self.reduction_factor:g}")
        g = self.gpus_per_trial
        if g < 0 or (g > 1 and g != int(g)):
            raise ScalesearchError(f"--gpus-per-trial must be ≥ 0, and whole above 1; got {g:g}")

    @property
    def epochs(self) -> int:
        """Reports per candidate: ceil(epochs) (a fractional last epoch is a short one)."""
        return math.ceil(self.setup.train.epochs - 1e-9)

    def milestones(self) -> list[int]:
        """ASHA's rungs in epochs, below the last epoch: min_epochs · η^k (empty without ASHA)."""
        if self.scheduler != "asha":
            return []
        out, k = [], 0
        while self.min_epochs * self.reduction_factor**k < self.epochs:
            m = round(self.min_epochs * self.reduction_factor**k, 6)
            out.append(int(m) if m == int(m) else m)
            k += 1
        return out

    def rung(self, epochs_trained: int) -> int | None:
        """Index of the highest rung reached; len(milestones) = trained to the end."""
        if self.scheduler != "asha":
            return None
        if epochs_trained >= self.epochs:
            return len(self.milestones())
        return sum(m <= epochs_trained for m in self.milestones()) - 1

    @classmethod
    def from_dict(cls, d: dict) -> SearchConfig:
        """Inverse of :meth:`to_dict` (as stored in search.json)."""
        return cls(**{**d, "ranges": Ranges.from_dict(d["ranges"]),
                      "setup": ProxySetup.from_dict(d["setup"]),
                      "objective": Objective(**d["objective"]) if d.get("objective")
                      else Objective(),
                      "latency": LatencySpec(**d["latency"]) if d.get("latency") else None})

    def to_dict(self) -> dict:
        d = asdict(self)
        for reporting_only in ("address", "tie_break", "gpus_per_trial", "objective", "latency"):
            d.pop(reporting_only)
        for key in ("device", "compile", "workers", "max_memory_gb"):  # hardware, not maths
            d["setup"]["train"].pop(key)
        d["ranges"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["ranges"].items()}
        return d


def _connect(address: str | None):
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    import logging

    import ray

    logging.getLogger("ray").setLevel(logging.ERROR)  # progress is ours; errors still show
    if ray.is_initialized():
        return ray, False
    # Workers' own stdout/stderr (repeated library warnings) are not the user's progress:
    # trial outcomes and errors reach the driver through Tune's results instead.
    kwargs = dict(include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:  # "local": a new runtime even when another run's Ray is up on this machine
            ray.init(address="local", num_cpus=os.cpu_count(), **kwargs)
    except (ConnectionError, ValueError, RuntimeError) as err:
        raise ScalesearchError(f"cannot start or join Ray ({address or 'local'}): "
                               f"{str(err).splitlines()[0]}") from None
    return ray, True


def _coef(d: dict) -> str:
    return f"α={d['alpha']:g} β={d['beta']:g} γ={d['gamma']:g}"


class _Progress:
    """Ray Tune callback: a line per epoch report, rows of finished trials to trials.csv."""

    def __init__(self, cfg: SearchConfig, store: TrialStore, total: int, context: dict,
                 log: Callable[[str], None]):
        from ray import tune

        outer = self

        class Callback(tune.Callback):
            def on_trial_result(self, iteration, trials, trial, result, **info):
                outer.report(result)

            def on_trial_complete(self, iteration, trials, trial, **info):
                outer.finish(trial.last_result or {})

            def on_trial_error(self, iteration, trials, trial, **info):
                outer.crashed(trial)

        self.cfg, self.store, self.total, self.context, self.log = cfg, store, total, context, log
        self.count, self.callback, self.start = 0, Callback(), time.perf_counter()

    def _elapsed(self) -> str:
        return f"{time.perf_counter() - self.start:.0f} s"

    def report(self, result: dict) -> None:
        rows = result.get("rows") or []
        if not rows or result.get("final") or not result.get("epoch"):
            return
        score = result.get("score")
        top1 = (f"val top-1 {score:.1f}% (mean of {len(rows)} seed(s), {EVAL_IMAGES}-image "
                "val subset)" if score is not None and score == score else "trained")
        self.log(f"  {_coef(rows[0])}: epoch {result['epoch']}/{result.get('epochs')}  {top1}"
                 f"  ({self._elapsed()})")

    def finish(self, result: dict) -> None:
        rows = [dict(r) for r in result.get("rows") or []]
        for r in rows:
            if r["status"] == RUNNING:  # ended by the scheduler before its last epoch
                r["status"] = Status.STOPPED
            r["rung"] = self.cfg.rung(r.get("epochs") or 0) if r["status"] != Status.REJECTED \
                else None
        self.store.append(rows)
        if not rows:
            return
        r = rows[0]
        if r["status"] == Status.REJECTED:
            self.log(f"[rejected] {_coef(r)}: {r['error']}")
            return
        self.count += 1
        scores = [x["top1"] for x in rows if x.get("top1") is not None]
        text = (f"top-1 {statistics.fmean(scores):.1f}%" if scores else "failed: "
                f"{r.get('error')}")
        if len(scores) > 1:
            text += f" ± {statistics.stdev(scores):.1f} ({len(scores)} seeds)"
        if r["status"] == Status.STOPPED:
            text += f", stopped by ASHA after {r['epochs']} epoch(s) (rung {r['rung']})"
        self.log(f"[{self.count}/{self.total}] {_coef(r)}: {text}  ({self._elapsed()})")

    def crashed(self, trial) -> None:
        """A trial Ray itself lost (worker died): its pending seeds are recorded as failed."""
        from scalesearch.registry import resolve

        rows = (trial.last_result or {}).get("rows")
        if not rows:
            baseline = resolve(self.context["baseline"])
            cand, _ = candidate_of(trial.config, self.context, baseline)
            rows = [base_row(baseline, cand, s) for s in self.context["seeds"]]
        self.finish({"rows": [dict(r, status=Status.FAILED, error=f"Ray trial error: "
                                   f"{trial.error_file}") for r in rows]})


def plan(cfg: SearchConfig, store: TrialStore, space: Space) -> tuple[list, int]:
    """(pending grid indices or [], number of Ray trials to run) given what is stored."""
    done = store.done()
    seeds = range(cfg.seeds)
    if cfg.sampler == "grid":
        pending = [i for i, c in enumerate(space.candidates)
                   if any(trial_key(dict(c.to_dict(), seed=s)) not in done for s in seeds)]
        return pending, len(pending)
    return [], max(0, cfg.trials - len(trained_candidates(store)))


def trained_candidates(store: TrialStore) -> set[tuple[float, float, float]]:
    """Candidates that were trained (rejected ones cost nothing and do not use the budget)."""
    return {trial_key(r)[:3] for r in store.rows if r["status"] != Status.REJECTED}


def _mean_by_candidate(store: TrialStore, value: Callable[[dict], float | None]) -> dict:
    out: dict[tuple, list[float]] = {}
    for r in store.rows:
        v = value(r)
        if v is not None:
            out.setdefault(trial_key(r)[:3], []).append(v)
    return {k: statistics.fmean(v) for k, v in out.items()}


def _search_alg(cfg: SearchConfig, pending: list, store: TrialStore):
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", message=".*Study.stop.*")  # GridSampler's end-of-grid
    if cfg.sampler == "grid":
        return OptunaSearch(space={"index": CategoricalDistribution(pending)},
                            sampler=optuna.samplers.GridSampler({"index": pending},
                                                                seed=cfg.sampler_seed),
                            metric="score", mode="max")
    r = cfg.ranges
    space = {"alpha": FloatDistribution(*alpha_bounds(r)), "beta_frac": FloatDistribution(0, 1)}
    # warm start TPE from the stored rows of an interrupted run (failed candidates score 0)
    means = _mean_by_candidate(store, lambda x: x["top1"] or 0.0)
    points = [{"alpha": a, "beta_frac": beta_fraction(a, b, r)} for a, b, _ in means]
    return OptunaSearch(space=space, sampler=optuna.samplers.TPESampler(seed=cfg.sampler_seed),
                        metric="score", mode="max", points_to_evaluate=points or None,
                        evaluated_rewards=list(means.values()) or None)


def _scheduler(cfg: SearchConfig, store: TrialStore):
    """ASHA (Ray Tune's AsyncHyperBandScheduler), its rungs warm-started from trials.csv."""
    if cfg.scheduler != "asha":
        return None
    from ray.tune.schedulers import ASHAScheduler

    sched = ASHAScheduler(time_attr="epoch", metric="score", mode="max", max_t=cfg.epochs,
                          grace_period=cfg.min_epochs, reduction_factor=cfg.reduction_factor)
    for milestone, recorded in sched._brackets[0]._rungs:  # no public API to preload rungs
        m = int(milestone)
        means = _mean_by_candidate(store, lambda x, m=m: _history_at(x, m))
        recorded.update({f"stored-{k}": v for k, v in means.items()})
    return sched


def _history_at(row: dict, epoch: int) -> float | None:
    parts = (row.get("history") or "").split(";")
    return float(parts[epoch - 1]) if len(parts) >= epoch and parts[epoch - 1] else None


def trial_context(cfg: SearchConfig, space: Space, store: TrialStore) -> dict:
    """What every trial needs, as plain data (Ray ships it to the workers once)."""
    train = asdict(cfg.setup.train)
    setup = ProxySetup.from_dict({**cfg.setup.to_dict(), "train": {
        **train, "threads": train["threads"] or cfg.cpus_per_trial,
        "device": parallel_device(train["device"], bool(cfg.gpus_per_trial))}})
    return dict(baseline=cfg.baseline, setup=setup.to_dict(), ranges=cfg.to_dict()["ranges"],
                candidates=[{k: v for k, v in c.to_dict().items() if k != "product"}
                            for c in space.candidates],
                flops_tolerance=cfg.flops_tolerance, match_flops=cfg.match_flops,
                seeds=list(range(cfg.seeds)), done=[list(k) for k in store.done()],
                evaluate_every_epoch=cfg.scheduler == "asha")


def run_trials(cfg: SearchConfig, space: Space, store: TrialStore,
               log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> int:
    """Run every pending trial through Ray Tune; returns how many candidates were trained."""
    pending, n = plan(cfg, store, space)
    if n == 0:
        log("nothing left to train: every planned trial is in trials.csv")
        return 0
    log(f"starting Ray ({cfg.address or 'local'}) …")
    ray, owned = _connect(cfg.address)
    from ray import tune

    try:
        resources = ray.cluster_resources()
        cpus, gpus = int(resources.get("CPU", 1)), float(resources.get("GPU", 0))
        check_request(cfg.cpus_per_trial, cfg.gpus_per_trial, cpus, gpus)
        context = trial_context(cfg, space, store)
        progress = _Progress(cfg, store, n, context, log)
        budget = None
        if cfg.sampler == "tpe":  # stop once the budget of trained candidates is spent
            class Budget(tune.stopper.Stopper):
                def __call__(self, trial_id, result):
                    return False

                def stop_all(self):
                    return len(trained_candidates(store)) >= cfg.trials

            budget, n = Budget(), n * MAX_REJECTIONS
        concurrent = max(1, cpus // cfg.cpus_per_trial)
        if cfg.gpus_per_trial:
            concurrent = min(concurrent, max(1, int(gpus / cfg.gpus_per_trial + 1e-9)))
        per_trial = f"{cfg.cpus_per_trial} per trial" + (
            f", {cfg.gpus_per_trial:g} GPU per trial" if cfg.gpus_per_trial else "")
        rungs = f", ASHA rungs at epoch(s) {cfg.milestones()} of {cfg.epochs}" \
            if cfg.scheduler == "asha" else ""
        log(f"training {n} candidate(s) × {cfg.seeds} seed(s) on Ray ({cpus} CPUs, "
            f"{per_trial}, up to {concurrent} at once{rungs})")
        request = {"cpu": cfg.cpus_per_trial, "gpu": cfg.gpus_per_trial}
        with tempfile.TemporaryDirectory(prefix="scalesearch-ray-") as storage:
            tuner = tune.Tuner(
                tune.with_resources(tune.with_parameters(trial, context=context), request),
                tune_config=tune.TuneConfig(search_alg=_search_alg(cfg, pending, store),
                                            scheduler=_scheduler(cfg, store),
                                            num_samples=n, max_concurrent_trials=concurrent,
                                            reuse_actors=True),  # keep data/counter caches
                run_config=tune.RunConfig(name="search", storage_path=storage, verbose=0,
                                          callbacks=[progress.callback], stop=budget))
            tuner.fit()
        return progress.count
    finally:
        if owned:
            ray.shutdown()


__all__ = ["SCHEDULERS", "SAMPLERS", "SearchConfig", "build_space", "plan", "run_trials",
           "tpe_point"]
