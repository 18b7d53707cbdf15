"""Run the φ=1 search (§3.3 step 1) on Ray Tune, and :mod:`scalesearch.coefsearch.trainable`
trains each candidate's seeds. Schedulers: ``sha`` — synchronous successive halving, its rungs
played in one Ray Tune run, each trial restored from the previous rung's checkpoint
(:mod:`.halving`); ``asha`` — OptunaSearch (grid or TPE) with Ray Tune's asynchronous ASHA,
which stops weak candidates at rungs ``min_epochs``·η^k as they arrive; ``none`` — every
candidate trains to the end.

``trials.csv`` — written by the driver as trials report — is the source of truth: ``--resume``
re-plans only the (candidate, seed) pairs it does not hold finished (a candidate stopped by a
scheduler is finished; a paused one continues from its checkpoint), so a run killed at any point
never duplicates a row; ASHA's rungs are warm-started from the stored per-epoch scores.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from scalesearch.coefsearch.budget import Pace
from scalesearch.coefsearch.halving import reached, rung_plan
from scalesearch.coefsearch.progress import Progress
from scalesearch.coefsearch.space import (
    Candidate,
    Space,
    alpha_bounds,
    beta_fraction,
    tpe_point,
)
from scalesearch.coefsearch.trainable import TrialContext, trial
from scalesearch.coefsearch.trials import CHECKPOINTS, TrialStore, checkpoint_path, history_at
from scalesearch.data.loader import chance_top1
from scalesearch.errors import TrainingStopped
from scalesearch.scaling.registry import portable_spec
from scalesearch.settings.search import SearchConfig
from scalesearch.settings.trackers import callbacks as tracker_callbacks
from scalesearch.training.cluster import describe, fit, runtime
from scalesearch.util.logs import Log, stderr
from scalesearch.util.status import Status

MAX_REJECTIONS = 10  # TPE: at most this many samples per trained candidate


def plan(cfg: SearchConfig, store: TrialStore, space: Space) -> tuple[list, int]:
    """(pending grid indices or [], number of Ray trials to run) given what is stored."""
    if cfg.sampler == "grid":
        pending = [i for i, c in enumerate(space.candidates)
                   if store.left(dict(c.to_dict(), seed=s) for s in cfg.training_seeds())]
        return pending, len(pending)
    return [], max(0, (cfg.trials or 0) - len(trained_candidates(store)))


def trained_candidates(store: TrialStore) -> set[tuple[float, float, float]]:
    """Candidates that were trained (rejected ones cost nothing and do not use the budget)."""
    return {Candidate.key_of(r) for r in store.rows if r["status"] != Status.REJECTED}


def _mean_by_candidate(store: TrialStore, value: Callable[[dict], float | None]) -> dict:
    out: dict[tuple, list[float]] = {}
    for r in store.rows:
        v = value(r)
        if v is not None:
            out.setdefault(Candidate.key_of(r), []).append(v)
    return {k: statistics.fmean(v) for k, v in out.items()}


def _search_alg(cfg: SearchConfig, pending: list, store: TrialStore):
    import optuna
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
    )
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", message=".*Study.stop.*")  # GridSampler's end-of-grid
    if cfg.sampler == "grid":
        return OptunaSearch(space={"index": CategoricalDistribution(pending)},
                            sampler=optuna.samplers.GridSampler({"index": pending},
                                                                seed=cfg.sampler_seed),
                            metric="score", mode="max")
    r = cfg.ranges
    space: dict[str, BaseDistribution] = {"alpha": FloatDistribution(*alpha_bounds(r)),
                                          "beta_frac": FloatDistribution(0, 1)}
    # warm start TPE from the stored rows of an interrupted run (failed candidates score 0);
    # the seed moves on with them: the first run's seeded start would be drawn again, and
    # each stored candidate drawn again trains nothing yet spends a sample
    means = _mean_by_candidate(store, lambda x: x["top1"] or 0.0)
    points = [{"alpha": a, "beta_frac": beta_fraction(a, b, r)} for a, b, _ in means]
    sampler = optuna.samplers.TPESampler(seed=cfg.sampler_seed + len(points))
    return OptunaSearch(space=space, sampler=sampler,
                        metric="score", mode="max", points_to_evaluate=points or None,
                        evaluated_rewards=list(means.values()) or None)


def preload_rungs(sched, scores_at: Callable[[int], dict]) -> None:
    """Seed an ASHAScheduler's rungs with a resumed run's stored scores (``scores_at(milestone)``:
    {candidate: mean score}), so new trials are cut against them. Ray Tune has no public API
    for this; the one place that touches its internals (``_brackets``, ``_rungs``, Ray 2.60),
    pinned by tests/test_search.py::test_preloaded_rungs_cut_a_new_trial."""
    (bracket,) = sched._brackets  # one bracket: brackets=1, Ray's default
    for milestone, recorded in bracket._rungs:
        recorded.update({f"stored-{k}": v for k, v in scores_at(int(milestone)).items()})


def trial_context(cfg: SearchConfig, space: Space, store: TrialStore) -> TrialContext:
    """What every trial needs (Ray ships it to the workers once)."""
    evaluate_at = cfg.evaluate_at()
    setup = cfg.placement.trial_setup(cfg.setup)
    return TrialContext(
        baseline=cfg.baseline, ranges=cfg.ranges, last_epoch=cfg.epochs,
        setup=replace(setup, trainer=portable_spec(setup.trainer)),  # workers find the file
        candidates=tuple(space.candidates), flops_tolerance=cfg.flops_tolerance,
        match_flops=cfg.match_flops, seeds=tuple(cfg.training_seeds()),
        evaluate_at=None if evaluate_at is None else tuple(evaluate_at),
        done=frozenset(store.done()))


def describe_trial(context: TrialContext, config: dict) -> tuple[str, dict]:
    """A trial's experiment-tracker run: named by its candidate, with α, β, γ as parameters
    (:mod:`scalesearch.settings.trackers`)."""
    if "index" in config:
        alpha, beta, gamma = context.candidates[config["index"]].key
    else:
        alpha, beta, gamma = tpe_point(config["alpha"], config["beta_frac"], context.ranges)
    return f"alpha{alpha:g}_beta{beta:g}_gamma{gamma:g}", dict(alpha=alpha, beta=beta,
                                                                gamma=gamma)


def _halve(cfg: SearchConfig, space: Space, store: TrialStore, context: TrialContext,
           callbacks: list, concurrent: int, log: Callable[[str], None], stop=None,
           pace: Pace | None = None) -> None:
    """Synchronous successive halving in one Ray Tune run: :func:`.halving.rung_plan` names
    the candidates each rung trains, :class:`.rungsearch.RungSearcher` hands them out as
    trials (each restored from the checkpoint its candidate's paused rows in trials.csv name),
    and the trial actors carry over from rung to rung. ``pace`` (``--budget``): a cut keeps
    fewer where the plan's would end over the budget (:meth:`.budget.Pace.replan`)."""
    from scalesearch.coefsearch.rungsearch import RungSearcher

    out = store.path.parent.resolve()
    keys, seeds = [c.key for c in space.candidates], cfg.training_seeds()
    guard = cfg.schedule.guarded()  # sha: a rung within noise of a guess never cuts (a
    # function of your own has no known chance level); best-arm cuts at every rung
    chance = chance_top1(cfg.setup.data) if guard and cfg.setup.ranks_top1 else None
    epochs, eta = [*cfg.milestones(), cfg.epochs], cfg.reduction_factor
    trained = 0  # candidate-epochs this run has trained (every rung's trials end before a cut)

    def replan(k: int, planned: int) -> int:
        assert pace is not None
        return pace.replan(k, planned, epochs[k:], eta, trained, concurrent, log)

    plan = rung_plan(keys, seeds, epochs, eta, store, cfg.sampler_seed, log, chance, guard,
                     replan if pace else None, cfg.setup.ranked)

    def configs(indices: list[int], epoch: int) -> list[dict]:
        """The rung's trials: candidate, epoch to reach, checkpoint, seeds still to train."""
        nonlocal trained
        paths = {Candidate.key_of(r): checkpoint_path(out, r["checkpoint"]) for r in store.rows
                 if r["status"] == Status.PAUSED and r.get("checkpoint")}
        restore = {i: str(path) for i in indices
                   if (path := paths.get(keys[i])) is not None and path.is_dir()}
        start = {i: reached(store, keys[i]) for i in restore}
        if restore:
            log(f"  {len(restore)} of them continue from their checkpoints (epoch(s) "
                f"{', '.join(map(str, sorted(set(start.values()))))})"
                + (", the others from epoch 0" if len(restore) < len(indices) else ""))
        trained += sum(epoch - start.get(i, 0) for i in indices)
        done = store.done()
        return [dict(index=i, target=epoch, restore=restore.get(i),
                     seeds=[s for s in seeds if (*keys[i], s) not in done]) for i in indices]

    rungs = RungSearcher(plan, configs)
    fit(trial, replace(context, checkpoint=True), cfg.placement, concurrent,
        str(out / CHECKPOINTS), f"halving-{time.strftime('%Y%m%d-%H%M%S')}", callbacks,
        stop=stop, search_alg=rungs, num_samples=-1)
    if rungs.error is not None:
        raise rungs.error
    if rungs.finished:
        import shutil

        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)  # every candidate is finished


def run_trials(cfg: SearchConfig, space: Space, store: TrialStore,
               log: Log = stderr, pace: Pace | None = None) -> int:
    """Run every pending trial through Ray Tune; returns how many candidates were trained
    (``pace``: --budget's plan, judged as they finish)."""
    pending, n = plan(cfg, store, space)
    if n == 0:
        log("nothing left to train: every planned trial is in trials.csv")
        return 0
    with runtime(cfg.placement, log) as (_, cpus, concurrent):
        from ray import tune

        context = trial_context(cfg, space, store)
        progress = Progress(cfg, store, n, context, log, pace, first_round=min(n, concurrent))
        callbacks = [progress.callback, *tracker_callbacks(cfg.tracking,
            store.path.parent, partial(describe_trial, context), "search")]
        log(f"training {n} candidate(s) × {cfg.seeds} seed(s) on Ray "
            f"({describe(cfg.placement, cpus, concurrent)}{cfg.schedule.describe()})")
        class Budget(tune.stopper.Stopper):
            """Stop once TPE's budget of trained candidates is spent, or once the first
            round failed everywhere (the training function cannot train)."""

            def __call__(self, trial_id, result):
                return False

            def stop_all(self):
                return progress.hopeless() is not None or (
                    cfg.sampler == "tpe" and len(trained_candidates(store)) >= cfg.trials)

        budget = Budget()

        class Runs:
            """How a scheduler runs its trials (:class:`~scalesearch.settings.schedulers.Runs`)."""

            def tune(self, scheduler=None) -> None:
                with tempfile.TemporaryDirectory(prefix="scalesearch-ray-") as storage:
                    fit(trial, context, cfg.placement, concurrent, storage, "search",
                        callbacks, stop=budget, search_alg=_search_alg(cfg, pending, store),
                        scheduler=scheduler,
                        num_samples=n * MAX_REJECTIONS if cfg.sampler == "tpe" else n)

            def preload(self, scheduler) -> None:
                """ASHA's rungs warm-started from trials.csv."""
                preload_rungs(scheduler, lambda m: _mean_by_candidate(
                    store, lambda x: history_at(x, m)))

            def halve(self) -> None:
                _halve(cfg, space, store, context, callbacks, concurrent, log, budget, pace)

        cfg.schedule.run(Runs())
        if (error := progress.hopeless()) is not None:
            raise TrainingStopped(
                f"the training function failed on every trial of the first "
                f"{progress.first_round} candidate(s), so the search stopped: {error} "
                f"({store.path} keeps their rows)")
        return progress.count


__all__ = ["plan", "run_trials"]
