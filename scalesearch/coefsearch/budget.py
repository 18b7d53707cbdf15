"""``--budget``: plan the proxy from a time budget (docs/search.md, "Planning from a budget").

Users think in hours of their machines, not in epochs × images. A short **pilot** times a few
training steps and an evaluation of the cheapest and the most expensive candidate (by proxy
FLOPs) on the driver, with the threads a trial gets; the cost of every other candidate is
interpolated linearly in its proxy FLOPs. The **plan** then chooses the number of training
images per epoch — the one quantity left open: epochs, batch, proxy size and seeds stay as
given — as the most that fits what is left of the budget after the grid and the pilot, when
every candidate trains every seed to the end (a rung that cuts only makes the search shorter;
the best-arm scheduler's cuts are planned: its share of the full trainings),
``concurrent`` trainings at once, plus Ray's start-up and per-trial overhead and the outputs.
On the embedded data an unset validation size becomes :data:`PLANNED_SYNTHETIC_VAL`
(``benchmarks/bench_signal.py``: the cheapest lever on reliability). These are estimates;
the search reports the planned and the actual time.
"""

from __future__ import annotations

import itertools
import math
import os
import statistics
import time
import warnings
from dataclasses import dataclass, replace

from scalesearch.coefsearch.space import Candidate, Space
from scalesearch.errors import ScalesearchError
from scalesearch.scaling.scalable import Scalable
from scalesearch.settings.search import SearchConfig
from scalesearch.training.proxy import build_trainer, proxy_image_size
from scalesearch.util.fmt import format_duration

PILOT_BATCHES, PILOT_VAL = 3, 64  # per pilot candidate: training steps timed, images scored
# Ray's start and stop (2.8–4.2 s and ≈ 1.4 s on the idle 2-core machine, 2026-12-08) and its
# per-trial overhead; the outputs (best.json, family, plots, optuna.db: 4.0 s with the family
# cached, ≈ 10 s counted) — bench_overhead.py, docs/search.md "Where the main job's wall goes"
RAY_START_S, RAY_PER_TRIAL_S, OUTPUTS_S = 5.0, 0.5, 5.0
# trainings sharing a machine could run slower than the pilot alone (memory bandwidth,
# clocks). It was 1.25, from two runs whose workers ran at nice 15 (1.1–1.35×); with them at
# the driver's priority every idle-machine run ended under its plan (took/planned 0.74–0.95,
# 2026-12-06…08), and on 2026-12-08 the trials took 0.87–1.02× the pilot's unshared estimate
# (three runs; 0.93 with the steady-step pilot): none measured, so 1.0 (docs/search.md)
SHARED_SLOWDOWN = 1.0
MIN_BATCHES = 2  # a minimal training: two optimizer steps per epoch
# the smallest plan still runs, with a warning, when it needs at most this × the budget: the
# same 2-core machine planned the README main job's floor at 3m25s, 4m23s and 5m04s within
# 20 minutes (host load), so a budget chosen on one day must not be refused on the next
OVERRUN = 1.5
RUNG_SUBSET = 200  # a rung scores this many validation images (trainable)
RECAL_IMAGES = 512  # BatchNorm recalibration before each evaluation (train.RECAL_IMAGES)
# docs/search.md, "Where the budget goes": 2,000 generated validation images instead of 400 cut
# the validation-sampling variance from 3.7 to 0.8 %² for 11% more search time, and moved the
# seed-split τ's interval above 0 (13 candidates × 2 seeds)
PLANNED_SYNTHETIC_VAL = 2000
# ranked by the training loss (the default), the validation set ranks nothing: it scores the
# val top-1 kept beside the ranking (own_score) and the chance guard, and the trainings are the
# same at any size, so it is kept small (docs/search.md, "Where the main job's wall goes")
PLANNED_LOSS_VAL = 250


def with_rules(cfg: SearchConfig) -> SearchConfig:
    """``cfg`` with the measured rules of a plan applied to what the user left unset: on the
    embedded data, :data:`PLANNED_SYNTHETIC_VAL` validation images where the ranking reads
    them, :data:`PLANNED_LOSS_VAL` where it ranks by the training loss (an image folder scores
    on its whole validation split already)."""
    from scalesearch.data.loader import SYNTHETIC

    if cfg.setup.data != SYNTHETIC or cfg.setup.num_val is not None:
        return cfg
    num_val = PLANNED_LOSS_VAL if cfg.setup.ranks_unevaluated else PLANNED_SYNTHETIC_VAL
    return replace(cfg, setup=replace(cfg.setup, num_val=num_val))


@dataclass(frozen=True)
class Pilot:
    """Seconds per training image and per scored image, as linear functions of proxy FLOPs
    through the cheapest (``lo``) and the most expensive (``hi``) candidate."""

    flops: tuple[int, int]
    train_s: tuple[float, float]  # seconds per training image at the steady pace (fwd + bwd)
    eval_s: tuple[float, float]  # seconds per image scored (forward only)
    val_images: int  # the validation set's size
    train_images: int | None  # training images available (None: generated, no limit)
    first_s: tuple[float, float] = (0.0, 0.0)  # a training's first step beyond a steady one

    def at(self, flops: int) -> tuple[float, float, float]:
        """(train, eval) seconds per image of a network of ``flops`` at its proxy size, and
        the seconds its first training step takes beyond a steady one (once per training)."""
        lo, hi = self.flops
        u = 0.0 if hi == lo else (flops - lo) / (hi - lo)

        def line(ends: tuple[float, float]) -> float:
            return ends[0] + u * (ends[1] - ends[0])

        return line(self.train_s), line(self.eval_s), line(self.first_s)


def _proxy_flops(baseline: Scalable, c: Candidate, cfg: SearchConfig) -> int:
    from scalesearch.scaling.counter import measure

    size = proxy_image_size(baseline, c.mult, cfg.setup.proxy_size,
                            1 if c.matched_resolution is not None else None)
    return measure(baseline, c.mult.depth, c.mult.width, size).flops


def _time_function(baseline: Scalable, c: Candidate, setup) -> float:
    """Seconds one epoch of the training function takes (trial.num_train images: a function
    that ignores it is not planned by --budget); a failing function: one line."""
    from scalesearch.training.contract import resolve_trainer
    from scalesearch.training.stepper import train_through

    t = time.perf_counter()
    rec = train_through(resolve_trainer(setup.trainer), baseline, c.mult, setup, 0)
    if rec["status"] != "ok":
        raise ScalesearchError(f"--budget: the pilot's training function failed: {rec['error']}")
    return time.perf_counter() - t


def _step_times(trainer) -> tuple[float, float]:
    """(the first step's seconds, a steady step's: the median of the others, so one step
    slowed by something else on the machine does not set the pace) over one epoch of
    ``trainer``; an epoch of one step is its own steady pace."""
    marks = [time.perf_counter()]
    trainer.train_epoch(lambda step, total: marks.append(time.perf_counter()))
    steps = [b - a for a, b in itertools.pairwise(marks)] or [0.0]
    return steps[0], statistics.median(steps[1:] or steps)


def run_pilot(baseline: Scalable, cfg: SearchConfig, space: Space) -> tuple[Pilot, dict]:
    """(the pilot, each candidate's proxy FLOPs by key): one epoch of :data:`PILOT_BATCHES` + 1
    training steps and an evaluation of :data:`PILOT_VAL` images, timed, for the cheapest and
    the most expensive candidate. The pace is the steady steps' (a training of a few epochs
    pays its first, slower step once, not once in four: with it the pace was 12–18% below a
    training's, docs/search.md); the first step's excess is counted once per training, at the
    ratio the second candidate measured (the first also pays the process's one-time imports)."""
    flops = {c.key: _proxy_flops(baseline, c, cfg) for c in space.candidates}
    ends = [min(space.candidates, key=lambda c: flops[c.key]),
            max(space.candidates, key=lambda c: flops[c.key])]
    batch = cfg.setup.train.batch_size
    setup = cfg.placement.trial_setup(replace(
        cfg.setup, num_train=(PILOT_BATCHES + 1) * batch, num_val=PILOT_VAL,
        train=replace(cfg.setup.train, epochs=1.0)))
    train_s, eval_s, steps = [], [], []  # steps: (first step, a steady one) in seconds
    for c in ends:
        if not setup.builtin:  # a function of your own: its whole epoch, evaluation included
            train_s.append(_time_function(baseline, c, setup) / ((PILOT_BATCHES + 1) * batch))
            eval_s.append(0.0)
            continue
        trainer, _ = build_trainer(baseline, c.mult, setup, 0,
                                   1 if c.matched_resolution is not None else None)
        steps.append(_step_times(trainer))
        train_s.append(steps[-1][1] / batch)
        t = time.perf_counter()
        trainer.evaluate()
        eval_s.append((time.perf_counter() - t) / (len(trainer.val_set) + len(trainer.train_set)))
    from scalesearch.data.loader import split_sizes

    n_train, n_val = split_sizes(cfg.setup.data, cfg.setup.num_val)
    first = (0.0, 0.0)
    if steps:  # the second candidate's first step, as a ratio to its steady one
        excess = max(0.0, steps[-1][0] / steps[-1][1] - 1) if steps[-1][1] > 0 else 0.0
        first = (excess * steps[0][1], excess * steps[-1][1])
    return Pilot((flops[ends[0].key], flops[ends[1].key]), (train_s[0], train_s[1]),
                 (eval_s[0], eval_s[1]), n_val, n_train, first), flops


def estimate(cfg: SearchConfig, flops: dict, pilot: Pilot, num_train: int,
             concurrent: int) -> float:
    """Estimated seconds of the search with ``num_train`` images per epoch: every candidate
    trains every seed to the end (module docstring)."""
    evaluate_at = cfg.evaluate_at()
    rungs = cfg.epochs - 1 if evaluate_at is None else len(evaluate_at)
    if cfg.setup.ranks_unevaluated:
        rungs = 0  # the ranked value comes with every epoch: only the last is evaluated
    scored = pilot.val_images + rungs * min(RUNG_SUBSET, pilot.val_images)
    recal = (1 + rungs) * min(RECAL_IMAGES, num_train)
    share = cfg.schedule.trained_share(len(flops))  # best-arm: the halving's allocation
    work = 0.0
    for f in flops.values():
        train_s, eval_s, first_s = pilot.at(f)
        work += cfg.seeds * (share * cfg.setup.train.epochs * num_train * train_s + first_s
                             + (scored + recal) * eval_s)
    shared = SHARED_SLOWDOWN if concurrent > 1 else 1.0
    return (RAY_START_S + RAY_PER_TRIAL_S * len(flops) + OUTPUTS_S
            + work * shared / max(1, concurrent))


def plan(cfg: SearchConfig, flops: dict, pilot: Pilot, budget_s: float,
         concurrent: int, spent: float = 0.0) -> tuple[int, float]:
    """(images per epoch, estimated seconds of the whole search): the most images, in half
    batches (an epoch's last batch may be a half: a whole batch of ≈ 200 images is ≈ 15% of
    the training, which the plan would leave unspent), whose search fits ``budget_s`` after
    the ``spent`` seconds (the grid, the pilot).
    When not even :data:`MIN_BATCHES` batches fit, that smallest plan runs with a warning if
    it needs at most :data:`OVERRUN` × the budget (a machine slower than the one the budget
    was chosen on), and is refused beyond, naming the smallest budget that fits."""
    batch = cfg.setup.train.batch_size
    smallest = MIN_BATCHES * batch
    need = spent + estimate(cfg, flops, pilot, smallest, concurrent)
    what = (f"{len(flops)} candidates × {cfg.seeds} seeds × {cfg.setup.train.epochs:g} epochs "
            f"of {MIN_BATCHES} batches of {batch}")
    if need > budget_s * OVERRUN:
        raise ScalesearchError(
            f"--budget {format_duration(budget_s)} is too small for {what} on this machine "
            f"(estimated {format_duration(need)}); the smallest budget that gives each a "
            f"minimal training is {format_duration(math.ceil(need))}")
    if need > budget_s:
        warnings.warn(f"--budget {format_duration(budget_s)}: even the smallest plan ({what}) "
                      f"is estimated at {format_duration(need)} on this machine now; running "
                      f"it (a plan beyond {OVERRUN:g}× the budget is refused)", stacklevel=2)
        return smallest, need
    left = budget_s - spent
    lo, hi = smallest, pilot.train_images or 10**7
    step = max(1, batch // 2)
    hi = max(lo, hi - hi % step)
    while hi - lo > step:  # the estimate grows with the images: bisect on half batches
        mid = (lo + hi) // 2 // step * step
        lo, hi = (mid, hi) if estimate(cfg, flops, pilot, mid, concurrent) <= left \
            else (lo, mid)
    n = hi if estimate(cfg, flops, pilot, hi, concurrent) <= left else lo
    return n, spent + estimate(cfg, flops, pilot, n, concurrent)


# the README's "within ±15% on an idle machine": a projection beyond this is said in the log
KEPT = 0.15
JUDGE_AFTER = 1 / 3  # the share of the trials that must have finished before the pace is judged


class Pace:
    """Keeps the plan honest as the trials finish (issue 36 §6): once a third of them have, it
    projects the search's end at the pace measured so far and, when that passes the budget by
    more than :data:`KEPT` (other load on the machine: two 2-core runs of the README main job
    took 3 and 6 minutes for one ``--budget 3m``), says so once, with by how much. Nothing of
    a full training is cut: fewer images for the trials not yet started would make the
    candidates unequal, and skipping candidates or seeds would leave the ranking without them;
    a halving's cut by rank can keep fewer instead (:meth:`replan`)."""

    def __init__(self, budget_s: float, estimated_s: float, start: float,
                 clock=time.perf_counter):
        self.budget_s, self.estimated_s, self.start, self.clock = budget_s, estimated_s, start, \
            clock
        self.trials_start: float | None = None  # when the first trial was planned to begin
        self.projected_s: float | None = None  # the overrun said (None: on plan)
        self.replans: list[dict] = []  # rungs that kept fewer than planned (search.json)

    def trials_begin(self) -> None:
        """The trials start now (after the grid, the pilot and Ray's start)."""
        self.trials_start = self.clock()

    def finished(self, done: int, total: int, log) -> None:
        """``done`` of ``total`` trials have finished: judge the pace (once)."""
        if self.projected_s is not None or self.trials_start is None or not total \
                or done < max(1, total * JUDGE_AFTER) or done >= total:
            return
        now = self.clock()
        projected = (self.trials_start - self.start) + (now - self.trials_start) * total / done
        if projected <= self.budget_s * (1 + KEPT):
            return
        self.projected_s = projected
        over = projected - self.budget_s
        log(f"budget {format_duration(self.budget_s)}: {done} of {total} trials took "
            f"{format_duration(now - self.trials_start)}, slower than planned (other load on "
            f"this machine?); at this pace the search ends after about "
            f"{format_duration(projected)} (planned {format_duration(self.estimated_s)}), "
            f"{format_duration(over)} "
            f"({over / self.budget_s:.0%}) over the budget. Every candidate still trains "
            "on the planned images: fewer for some would make them unequal")

    def replan(self, rung: int, planned: int, rungs: list[int], eta: float, trained: float,
               concurrent: int, log) -> int:
        """How many of a rung's candidates go on (``planned``: ⌈n/η⌉) so that the halving ends
        within the budget at the pace measured so far (issue 36 §6). ``rungs``: the epochs
        from this rung's to the last; ``trained``: candidate-epochs trained so far by this
        run. Where ``planned`` would end more than :data:`KEPT` over the budget, the most
        that end within it go on (at least two, so the last rung still compares), and the log
        says so; a cut by rank keeps the candidates equal, unlike fewer images for some."""
        if self.trials_start is None or trained <= 0 or planned <= 2:
            return planned
        now = self.clock()
        slot_s = (now - self.trials_start) * concurrent / trained  # one candidate-epoch, one slot

        def end(keep: int) -> float:
            """When the search's trainings end if ``keep`` go on (the planned halving after)."""
            t, n = now - self.start, keep
            for a, b in zip(rungs, rungs[1:], strict=False):
                t += math.ceil(n / concurrent) * (b - a) * slot_s
                n = math.ceil(n / eta)
            return t

        projected = end(planned)
        if projected <= self.budget_s * (1 + KEPT):
            return planned
        keep = max((m for m in range(2, planned) if end(m) <= self.budget_s), default=2)
        replanned = end(keep)
        self.replans.append(dict(rung=rung, planned=planned, keep=keep,
                                 at_s=round(now - self.start, 1),
                                 projected_s=round(projected, 1),
                                 replanned_s=round(replanned, 1)))
        log(f"budget {format_duration(self.budget_s)}: behind the plan (other load on this "
            f"machine?): with {planned} going on after rung {rung} the trainings would end "
            f"after about {format_duration(projected)}; {keep} go on instead, ending after "
            f"about {format_duration(replanned)}"
            + ("" if replanned <= self.budget_s else
               " — still over the budget: the last rung needs two to compare"))
        return keep


def concurrency(cfg: SearchConfig) -> int:
    """Trainings at once: this machine's CPUs (or, with --address, the cluster's, as Ray
    reports them) over a trial's, capped by --workers."""
    if cfg.placement.address:
        from scalesearch.training.cluster import runtime

        with runtime(cfg.placement) as (_, _cpus, concurrent):
            return concurrent
    n = max(1, (os.cpu_count() or 1) // cfg.placement.cpus_per_trial)
    return min(n, cfg.placement.max_concurrent or n)
