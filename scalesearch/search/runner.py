"""Run the φ=1 search (§3.3 step 1) on Ray Tune with Optuna as the search algorithm.

Each Ray trial trains one candidate (α, β, γ) for every requested seed with the proxy
trainer. ``trials.csv`` — written by the driver as trials finish — is the source of truth:
``--resume`` re-plans only the (candidate, seed) pairs it does not hold, so a run killed at
any point loses at most the trials in flight and never duplicates a row.
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
from scalesearch.proxy import ProxySetup
from scalesearch.search.space import Candidate, Ranges, Space, build_space, solve_gamma, with_ratio
from scalesearch.search.trials import TrialStore, trial_key

SAMPLERS = ("grid", "tpe")
MAX_REJECTIONS = 10  # TPE: at most this many samples per trained candidate


@dataclass(frozen=True)
class SearchConfig:
    """Everything that defines a search; stored in ``search.json`` so a resume can check it."""

    baseline: str
    ranges: Ranges = Ranges()
    tolerance: float = 0.05
    flops_tolerance: float = 0.25
    sampler: str = "grid"
    trials: int | None = None  # TPE budget (candidates); grid: all candidates
    seeds: int = 1
    sampler_seed: int = 0
    cpus_per_trial: int = 1
    gpus_per_trial: float = 0.0  # Ray GPU resource per trial; 0.25 lets 4 trials share a GPU
    address: str | None = None
    setup: ProxySetup = field(default_factory=ProxySetup)

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ScalesearchError(f"unknown sampler {self.sampler!r}; one of {SAMPLERS}")
        if self.sampler == "tpe" and not self.trials:
            raise ScalesearchError("--sampler tpe needs a budget: --trials N")
        g = self.gpus_per_trial
        if g < 0 or (g > 1 and g != int(g)):
            raise ScalesearchError(f"--gpus-per-trial must be ≥ 0, and whole above 1; got {g:g}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("address")  # where it runs is not what it computes
        d.pop("gpus_per_trial")
        for key in ("device", "compile", "workers", "max_memory_gb"):
            d["setup"]["train"].pop(key)
        d["ranges"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["ranges"].items()}
        return d


def _beta_bounds(alpha: float, r: Ranges) -> tuple[float, float]:
    """β interval that keeps the solved γ inside its range for this α."""
    lo = max(r.beta[0], math.sqrt(2 / (alpha * r.gamma[1] ** 2)))
    hi = min(r.beta[1], math.sqrt(2 / (alpha * r.gamma[0] ** 2)))
    return lo, hi


def _alpha_bounds(r: Ranges) -> tuple[float, float]:
    lo = max(r.alpha[0], 2 / (r.beta[1] ** 2 * r.gamma[1] ** 2))
    hi = min(r.alpha[1], 2 / (r.beta[0] ** 2 * r.gamma[0] ** 2))
    if lo > hi:
        raise ScalesearchError("no α, β, γ in the given ranges satisfies α·β²·γ² = 2")
    return lo, hi


def tpe_point(alpha: float, beta_frac: float, r: Ranges) -> tuple[float, float, float]:
    """TPE samples (α, position of β in its feasible interval); γ is solved exactly."""
    lo, hi = _beta_bounds(alpha, r)
    beta = round(lo + beta_frac * (hi - lo), 4)
    return round(alpha, 4), beta, round(min(max(solve_gamma(alpha, beta), r.gamma[0]),
                                            r.gamma[1]), 4)


def _row(baseline, cand: Candidate, setup: ProxySetup, seed: int, **extra) -> dict:
    from scalesearch.api import measure
    from scalesearch.proxy import run_proxy

    full = measure(baseline, cand.mult.depth, cand.mult.width,
                   baseline.scaled_image_size(cand.mult.resolution))
    base = dict(cand.to_dict(), flops=full.flops, params=full.params, seed=seed,
                depth=cand.mult.depth, width=cand.mult.width)
    if extra:
        return {**base, **extra}
    try:
        rec = run_proxy(baseline, cand.mult, setup, seed=seed)
    except Exception as err:  # a broken candidate is a failed trial, not a failed search
        return {**base, "status": "failed", "error": f"{type(err).__name__}: {err}"}
    rec["proxy_flops"] = rec.pop("flops")
    rec.pop("params")
    return {**base, **rec}


def trial(config: dict, context: dict) -> dict:
    """Ray Tune trainable: train one candidate for every pending seed; score = mean top-1."""
    from scalesearch.registry import resolve

    baseline = resolve(context["baseline"])
    setup = ProxySetup.from_dict(context["setup"])
    ranges = Ranges(**{k: tuple(v) if isinstance(v, list) else v
                       for k, v in context["ranges"].items()})
    if "index" in config:
        cand = Candidate(*context["candidates"][config["index"]])
        reject = None
    else:
        cand = with_ratio(baseline, *tpe_point(config["alpha"], config["beta_frac"], ranges))
        reject = (None if abs(cand.flops_ratio - 2) <= context["flops_tolerance"] else
                  f"measured FLOPs ratio {cand.flops_ratio:.3f} outside 2 ± "
                  f"{context['flops_tolerance']}")
    done = {tuple(k) for k in context["done"]}
    rows = [_row(baseline, cand, setup, s, **({"status": "rejected", "error": reject}
                                              if reject else {}))
            for s in context["seeds"] if trial_key(dict(cand.to_dict(), seed=s)) not in done]
    ok = [r["top1"] for r in rows if r.get("status") == "ok"]
    return {"score": statistics.fmean(ok) if ok else 0.0, "rows": rows}


def _connect(address: str | None):
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
    import logging

    import ray

    logging.getLogger("ray").setLevel(logging.ERROR)  # progress is ours; errors still show
    if ray.is_initialized():
        return ray, False
    kwargs = dict(include_dashboard=False, configure_logging=False)
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=os.cpu_count(), **kwargs)
    except (ConnectionError, ValueError, RuntimeError) as err:
        raise ScalesearchError(f"cannot start or join Ray ({address or 'local'}): "
                               f"{str(err).splitlines()[0]}") from None
    return ray, True


class _Progress:
    """Ray Tune callback: append each finished trial's rows to trials.csv, print progress."""

    def __init__(self, store: TrialStore, total: int, log: Callable[[str], None]):
        from ray import tune

        class Callback(tune.Callback):
            def on_trial_complete(cb, iteration, trials, trial, **info):  # noqa: N805
                self.finish(trial.last_result or {})

            def on_trial_error(cb, iteration, trials, trial, **info):  # noqa: N805
                self.log(f"trial {trial.trial_id} crashed in Ray: {trial.error_file}")

        self.store, self.total, self.log, self.count = store, total, log, 0
        self.callback, self.start = Callback(), time.perf_counter()

    def finish(self, result: dict) -> None:
        rows = result.get("rows") or []
        self.store.append(rows)
        if not rows:
            return
        r = rows[0]
        if r["status"] == "rejected":
            self.log(f"[rejected] α={r['alpha']:g} β={r['beta']:g} γ={r['gamma']:g}: {r['error']}")
            return
        self.count += 1
        ok = [x for x in self.store.rows if x["status"] == "ok"]
        best = max(ok, key=lambda x: x["top1"], default=None)
        top1 = ", ".join(f"{x['top1']:.1f}%" if x.get("top1") is not None else x["status"]
                         for x in rows)
        best_text = (f"best so far {best['top1']:.1f}% (α={best['alpha']:g} β={best['beta']:g} "
                     f"γ={best['gamma']:g})" if best else "no successful trial yet")
        self.log(f"[{self.count}/{self.total}] α={r['alpha']:g} β={r['beta']:g} "
                 f"γ={r['gamma']:g}: top-1 {top1}  ({time.perf_counter() - self.start:.0f} s)  "
                 f"{best_text}")


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
    return {trial_key(r)[:3] for r in store.rows if r["status"] != "rejected"}


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
    space = {"alpha": FloatDistribution(*_alpha_bounds(r)), "beta_frac": FloatDistribution(0, 1)}
    points, rewards = [], []  # warm start TPE from the rows of an interrupted run
    for key in dict.fromkeys(trial_key(x)[:3] for x in store.rows):
        lo, hi = _beta_bounds(key[0], r)
        scores = [x["top1"] for x in store.rows
                  if trial_key(x)[:3] == key and x["top1"] is not None]
        points.append({"alpha": key[0],
                       "beta_frac": min(1.0, max(0.0, (key[1] - lo) / (hi - lo or 1)))})
        rewards.append(statistics.fmean(scores) if scores else 0.0)
    return OptunaSearch(space=space, sampler=optuna.samplers.TPESampler(seed=cfg.sampler_seed),
                        metric="score", mode="max", points_to_evaluate=points or None,
                        evaluated_rewards=rewards or None)


def run_trials(cfg: SearchConfig, space: Space, store: TrialStore,
               log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> int:
    """Run every pending trial through Ray Tune; returns how many Ray trials ran."""
    pending, n = plan(cfg, store, space)
    if n == 0:
        log("nothing left to train: every planned trial is in trials.csv")
        return 0
    ray, owned = _connect(cfg.address)
    from ray import tune

    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if cfg.cpus_per_trial > cpus:
            raise ScalesearchError(f"--cpus-per-trial {cfg.cpus_per_trial} exceeds the "
                                   f"cluster's {cpus} CPUs")
        gpus = ray.cluster_resources().get("GPU", 0)
        if cfg.gpus_per_trial > gpus:
            raise ScalesearchError(f"--gpus-per-trial {cfg.gpus_per_trial:g} exceeds the "
                                   f"cluster's {gpus:g} GPU(s)")
        train = asdict(cfg.setup.train)  # a trial without a Ray GPU stays off the GPUs
        device = "cpu" if not cfg.gpus_per_trial and train["device"] == "auto" else \
            train["device"]
        setup = ProxySetup.from_dict({**cfg.setup.to_dict(), "train": {
            **train, "threads": train["threads"] or cfg.cpus_per_trial, "device": device}})
        context = dict(baseline=cfg.baseline, setup=setup.to_dict(), ranges=cfg.to_dict()["ranges"],
                       candidates=[(c.alpha, c.beta, c.gamma, c.flops_ratio)
                                   for c in space.candidates],
                       flops_tolerance=cfg.flops_tolerance, seeds=list(range(cfg.seeds)),
                       done=[list(k) for k in store.done()])
        progress = _Progress(store, n, log)
        budget = None
        if cfg.sampler == "tpe":  # stop once the budget of trained candidates is spent
            class Budget(tune.stopper.Stopper):
                def __call__(self, trial_id, result):
                    return False

                def stop_all(self):
                    return len(trained_candidates(store)) >= cfg.trials

            budget, n = Budget(), n * MAX_REJECTIONS
        gpu_text = f"; {gpus:g} GPUs, {cfg.gpus_per_trial:g} per trial" if gpus else ""
        log(f"running {n} trial(s) on Ray ({cpus} CPUs, {cfg.cpus_per_trial} per trial"
            f"{gpu_text})")
        concurrent = max(1, cpus // cfg.cpus_per_trial)
        with tempfile.TemporaryDirectory(prefix="scalesearch-ray-") as storage:
            tuner = tune.Tuner(
                tune.with_resources(tune.with_parameters(trial, context=context),
                                    {"cpu": cfg.cpus_per_trial, "gpu": cfg.gpus_per_trial}),
                tune_config=tune.TuneConfig(search_alg=_search_alg(cfg, pending, store),
                                            num_samples=n,
                                            max_concurrent_trials=concurrent,
                                            reuse_actors=True),  # keep data/counter caches
                run_config=tune.RunConfig(name="search", storage_path=storage, verbose=0,
                                          callbacks=[progress.callback], stop=budget))
            tuner.fit()
        return progress.count
    finally:
        if owned:
            ray.shutdown()


__all__ = ["SearchConfig", "build_space", "run_trials", "plan", "trial", "SAMPLERS"]
