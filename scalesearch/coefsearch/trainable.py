"""The Ray Tune trainable of the φ=1 search: one candidate (α, β, γ), all its pending seeds
trained in lockstep, one report after every epoch.

The unit of early stopping is the candidate: every report carries the mean val top-1 over its
seeds (``score``), so a scheduler keeps or stops a candidate as a whole and a candidate that
reaches the top rung has all ``--seeds`` seeds. Intermediate epochs are evaluated on a fixed,
evenly strided subset of the validation set (``EVAL_IMAGES``) after BatchNorm recalibration —
every epoch under ``asha`` and ``--curves``, only the rungs' epochs under ``sha`` (the cuts read
nothing else; an evaluation costs about a sixth of a training epoch); the last epoch is always
evaluated on the whole validation set. An epoch not evaluated leaves its history slot empty.

Synchronous successive halving (``sha``) trains a candidate up to the rung's epoch (``target``)
and reports a Ray Tune checkpoint after every epoch (every seed's trainer state and row); the
next rung's trial restores it (``restore``) and continues, so survivors are never retrained.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scalesearch.coefsearch.space import Candidate, tpe_point, with_ratio
from scalesearch.settings.recipe import ProxySetup
from scalesearch.settings.search import Ranges, evaluates
from scalesearch.training.proxy import build_trainer
from scalesearch.util.status import Status

if TYPE_CHECKING:
    from scalesearch.training.trainer import ProxyTrainer

EVAL_IMAGES = 200  # val images of an intermediate (rung) evaluation
RUNNING = "running"  # a row whose trial has not finished (stored as stopped or paused)
STATE_FILE = "state.pt"  # in each Ray Tune checkpoint: {seed: (trainer state, row)}


@dataclass(frozen=True)
class TrialContext:
    """What every trial of one search needs; Ray ships it to the workers once. A rung of
    synchronous halving is the same context with ``target``, ``checkpoint`` and ``restore``."""

    baseline: str  # a registry name or a plug-in spec (resolved in the worker)
    setup: ProxySetup  # the proxy every candidate trains with
    ranges: Ranges  # where TPE samples α, β
    candidates: tuple[Candidate, ...]  # the grid; a config's "index" names one
    flops_tolerance: float  # --no-match-flops: |measured ratio − 2| allowed
    match_flops: bool
    seeds: tuple[int, ...]  # the training seeds of every candidate
    evaluate_at: tuple[int, ...] | None  # epochs evaluated on the val subset (None: every one)
    done: frozenset[tuple] = frozenset()  # (α, β, γ, seed) already in trials.csv
    target: int | None = None  # train up to this epoch (a rung), not to the end
    checkpoint: bool = False  # report a checkpoint after every epoch (sha)
    restore: Mapping[int, str] = field(default_factory=dict)  # grid index → checkpoint folder


def candidate_of(config: dict, context: TrialContext, baseline) -> tuple[Candidate, str | None]:
    """The candidate a Ray config names (grid index, or a TPE point) and why it is rejected."""
    if "index" in config:
        return context.candidates[config["index"]], None
    cand = with_ratio(baseline, *tpe_point(config["alpha"], config["beta_frac"], context.ranges),
                      match=context.match_flops)
    if context.match_flops:
        if cand.matched_resolution is None:
            return cand, "cannot be matched to 2× ± 3% FLOPs by image size"
        return cand, None
    tol = context.flops_tolerance
    if abs(cand.nominal_ratio - 2) > tol:
        return cand, f"measured FLOPs ratio {cand.nominal_ratio:.3f} outside 2 ± {tol}"
    return cand, None


def base_row(baseline, cand: Candidate, seed: int) -> dict:
    """What a row knows before training: the candidate, and its φ=1 network at full size."""
    from scalesearch.scaling.counter import baseline_counts, measure

    m = cand.mult
    full = measure(baseline, m.depth, m.width, baseline.scaled_image_size(m.resolution))
    return dict(cand.to_dict(), flops=full.flops, params=full.params, seed=seed,
                depth=m.depth, width=m.width, resolution=m.resolution,
                flops_ratio=cand.trained_ratio,
                activations=full.activations,
                activations_ratio=full.activations / baseline_counts(baseline).activations)


class _SeedRun:
    """One seed of the candidate: its trainer and the row it reports."""

    def __init__(self, baseline, cand: Candidate, setup: ProxySetup, seed: int, divisor):
        self.row = dict(base_row(baseline, cand, seed), status=RUNNING, epochs=0)
        self.history: list[float | None] = []
        self.trainer: ProxyTrainer | None = None
        try:
            self.trainer, record = build_trainer(baseline, cand.mult, setup, seed, divisor)
            self.row.update(image_size=record["image_size"], proxy_flops=record["flops"])
        except Exception as err:  # a broken candidate is a failed trial, not a failed search
            self.fail(f"{type(err).__name__}: {err}")

    def state(self) -> dict:
        """The trainer's state, the row and the top-1 history (see :meth:`restore`)."""
        return dict(trainer=self._trainer.state_dict(), row=dict(self.row),
                    history=list(self.history))

    def restore(self, state: dict) -> None:
        """Continue from :meth:`state` (a checkpoint of an earlier rung or epoch)."""
        self._trainer.load_state_dict(state["trainer"])
        self.row, self.history = dict(state["row"]), list(state["history"])

    @property
    def _trainer(self) -> ProxyTrainer:
        """The trainer of a seed that has one (a failed build has none, and is not live)."""
        assert self.trainer is not None, "a candidate that failed to build has no trainer"
        return self.trainer

    def fail(self, error: str | None) -> None:
        """Mark the row failed with ``error``."""
        self.row.update(status=Status.FAILED, error=error, top1=None, loss=None)

    @property
    def live(self) -> bool:
        """Whether this seed is still training (its row is running)."""
        return self.row["status"] == RUNNING

    def epoch(self, last: bool, intermediate: bool) -> None:
        """Train one epoch; evaluate on the val subset (intermediate) or all of it (last);
        otherwise the history's slot for this epoch stays empty."""
        t = self._trainer
        try:
            if not t.train_epoch():
                self.fail(t.error)
            elif last:
                res = t.result()
                self.row.update(status=res.status, top1=res.top1, loss=res.loss, error=res.error)
                if res.top1 is not None:
                    self.history.append(round(res.top1, 4))
            elif intermediate:
                top1, loss = t.evaluate(EVAL_IMAGES)
                self.row.update(top1=top1, loss=loss)
                self.history.append(round(top1, 4))
            else:
                self.row.update(top1=None, loss=None)
                self.history.append(None)
        except Exception as err:
            self.fail(f"{type(err).__name__}: {err}")
        rate = t.seen / t.seconds if t.seconds else 0.0
        self.row.update(epochs=t.epoch, images=t.seen, seconds=round(t.seconds, 3),
                        images_per_sec=rate,
                        history=";".join("" if h is None else f"{h:g}" for h in self.history))


def trial(config: dict, context: TrialContext) -> None:
    """Ray Tune trainable: train one candidate for every pending seed, reporting after every
    epoch ``{"epoch", "score", "rows", "key"}`` (score = mean val top-1 of the seeds)."""
    from ray import tune

    from scalesearch.scaling.registry import resolve

    baseline = resolve(context.baseline)
    cand, reject = candidate_of(config, context, baseline)
    seeds = [s for s in context.seeds if (*cand.key, s) not in context.done]
    key = list(cand.key)
    if reject:
        rows = [dict(base_row(baseline, cand, s), status=Status.REJECTED, error=reject)
                for s in seeds]
        tune.report({"epoch": 0, "score": 0.0, "rows": rows, "key": key, "final": True})
        return
    divisor = 1 if cand.matched_resolution is not None else None  # keep the matched size
    runs = [_SeedRun(baseline, cand, context.setup, s, divisor) for s in seeds]
    start = _restore(runs, context.restore.get(config.get("index", -1)))
    epochs = max((r.trainer.epochs for r in runs if r.trainer), default=0)
    stop = min(epochs, context.target or epochs)
    for epoch in range(start + 1, stop + 1):
        for run in runs:
            if run.live:
                run.epoch(last=epoch == epochs,
                          intermediate=evaluates(epoch, context.evaluate_at))
        scores = [r.row["top1"] for r in runs if r.row.get("top1") is not None
                  and r.row["status"] in (RUNNING, Status.OK)]
        score = statistics.fmean(scores) if scores else (0.0 if epoch == epochs else math.nan)
        metrics = {"epoch": epoch, "score": score, "epochs": epochs, "key": key,
                   "rows": [dict(r.row) for r in runs], "final": epoch == epochs}
        if context.checkpoint and epoch < epochs and any(r.live for r in runs):
            _report_checkpoint(metrics, runs)
        else:
            tune.report(metrics)
    if not epochs:  # every seed failed before training
        tune.report({"epoch": 0, "score": 0.0, "rows": [r.row for r in runs], "key": key,
                     "final": True})


def _report_checkpoint(metrics: dict, runs: list[_SeedRun]) -> None:
    """``tune.report`` with a Ray Tune checkpoint of every live seed (persisted by Ray into the
    run's storage; the driver records its path in trials.csv)."""
    import torch
    from ray import tune

    with tempfile.TemporaryDirectory(prefix="scalesearch-ckpt-") as folder:
        torch.save({str(r.row["seed"]): r.state() for r in runs if r.live},
                   Path(folder) / STATE_FILE)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def _restore(runs: list[_SeedRun], path: str | None) -> int:
    """Load the seeds' states from a checkpoint folder; returns the epoch to continue from."""
    if not path:
        return 0
    import torch

    states = torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=True)
    live = [r for r in runs if r.live]
    if any(str(r.row["seed"]) not in states for r in live):
        return 0  # not this set of seeds' checkpoint: train from the start (lockstep)
    for run in live:
        run.restore(states[str(run.row["seed"])])
    return min((r._trainer.epoch for r in live), default=0)
