"""The Ray Tune trainable of the φ=1 search: one candidate (α, β, γ), all its pending seeds
trained in lockstep by the training function (``--train``, :mod:`scalesearch.training.contract`:
the search reaches training only through ``train(trial)``), one report after every epoch.

The unit of early stopping is the candidate: every report carries the mean over its seeds of
the ranked value (``score``: val top-1 for the built-in ``proxy``), so a scheduler keeps or
stops a candidate as a whole and a candidate that reaches the top rung has all ``--seeds``
seeds. Each seed's function runs in its own thread, paused in ``trial.report`` until the next
epoch's turn (:mod:`scalesearch.training.stepper`). A trial tells the function which epochs a
scheduler reads (``trial.scored``): the built-in evaluates those on a fixed val subset
(``EVAL_IMAGES``) — every epoch under ``asha`` and ``--curves``, only the rungs' under ``sha``;
none of them where the ranking reads its training loss (the default), which comes with every
epoch — and the last one on the whole validation set; an epoch reported without a score
leaves its history slot empty.

Synchronous successive halving (``sha``) trains a candidate up to the rung's epoch (``target``)
and reports a Ray Tune checkpoint after every epoch (the state each seed's function saved with
``trial.save``, and its row); the next rung's trial restores it (``restore``, ``trial.load()``)
and continues, so survivors are never retrained — unless the function saves nothing: then it
retrains from epoch 0, and the driver says so once.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scalesearch.coefsearch.space import Candidate, tpe_point, with_ratio
from scalesearch.settings.recipe import ProxySetup
from scalesearch.settings.search import Ranges
from scalesearch.training.contract import OWN_SCORE, TrainFn, Trial, resolve_trainer
from scalesearch.training.stepper import Stepped, build_trial
from scalesearch.util.status import Status

RUNNING = "running"  # a row whose trial has not finished (stored as stopped or paused)
STATE_FILE = "state.pt"  # in each Ray Tune checkpoint: {seed: (trainer state, row)}


@dataclass(frozen=True)
class TrialContext:
    """What every trial of one search needs; Ray ships it to the workers once. Synchronous
    halving sets ``checkpoint``; each of its trials' configs names the epoch to reach
    (``target``), the checkpoint to continue from (``restore``) and the ``seeds`` to train."""

    baseline: str  # a registry name or a plug-in spec (resolved in the worker)
    setup: ProxySetup  # the proxy every candidate trains with
    ranges: Ranges  # where TPE samples α, β
    candidates: tuple[Candidate, ...]  # the grid; a config's "index" names one
    flops_tolerance: float  # --no-match-flops: |measured ratio − 2| allowed
    match_flops: bool
    seeds: tuple[int, ...]  # the training seeds of every candidate
    evaluate_at: tuple[int, ...] | None  # epochs evaluated on the val subset (None: every one)
    last_epoch: int  # the run's final epoch (SearchConfig.epochs)
    done: frozenset[tuple] = frozenset()  # (α, β, γ, seed) already in trials.csv
    checkpoint: bool = False  # report a checkpoint after every epoch (sha)


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


def packed(saved: bytes | None):
    """A seed's saved state (``Trial.save``'s bytes) as a uint8 tensor for the checkpoint
    file: ``torch.save`` writes a tensor ~10× faster than the same bytes, and reads it back
    as fast (a checkpoint is written after every epoch of ``sha``)."""
    if not isinstance(saved, bytes):
        return saved
    import torch

    return torch.frombuffer(bytearray(saved), dtype=torch.uint8)


def unpacked(saved) -> bytes | None:
    """:func:`packed` undone; bytes (a checkpoint written before 0.4 packed them) pass."""
    return saved if saved is None or isinstance(saved, bytes) else saved.numpy().tobytes()


def _joined(values: list[float | None], digits: int) -> str:
    """Per-epoch values as trials.csv stores them: ';'-separated, an empty slot for None."""
    return ";".join("" if v is None else f"{round(v, digits):g}" for v in values)


class _SeedRun:
    """One seed of the candidate: its trial (the training function's view), the function
    run a report at a time, and the row it reports."""

    def __init__(self, baseline, cand: Candidate, context: TrialContext, seed: int, divisor,
                 stop: int):
        self.row = dict(base_row(baseline, cand, seed), status=RUNNING, epochs=0)
        self.history: list[float | None] = []
        self.train_losses: list[float | None] = []  # each epoch's, as reported
        self.trial: Trial | None = None
        self.stepped: Stepped | None = None
        self.function_failed = False  # it raised (a bug; not a failed build, a NaN loss)
        setup = context.setup
        try:
            self.trial, flops = build_trial(
                baseline, cand.mult, setup, seed, divisor, epochs=stop,
                last_epoch=context.last_epoch, scored_epochs=context.evaluate_at,
                checkpointing=context.checkpoint)
            self.row.update(image_size=self.trial.image_size, proxy_flops=flops)
        except Exception as err:  # a broken candidate is a failed trial, not a failed search
            self.fail(f"{type(err).__name__}: {err}")

    def state(self) -> dict:
        """What :meth:`restore` continues from: the state the function saved (None: it saves
        none), the row, the score history and the training losses."""
        assert self.trial is not None, "a live seed has a trial"
        return dict(trainer=packed(self.trial._saved), row=dict(self.row),
                    history=list(self.history), train_losses=list(self.train_losses))

    def restore(self, state: dict) -> None:
        """Continue from :meth:`state` (a checkpoint of an earlier rung or epoch)."""
        assert self.trial is not None, "a live seed has a trial"
        self.trial._saved = unpacked(state["trainer"])
        self.row, self.history = dict(state["row"]), list(state["history"])
        self.train_losses = list(state.get("train_losses", []))  # none before 0.4

    def fail(self, error: str | None) -> None:
        """Mark the row failed with ``error``."""
        self.row.update(status=Status.FAILED, error=error, top1=None, loss=None)

    @property
    def live(self) -> bool:
        """Whether this seed is still training (its row is running)."""
        return self.row["status"] == RUNNING

    def start(self, fn: TrainFn, epoch: int) -> None:
        """Start the function (paused until the first :meth:`epoch`), continuing after
        ``epoch``."""
        assert self.trial is not None, "a live seed has a trial"
        self.stepped = Stepped(fn, self.trial, epoch)

    def epoch(self, last: bool, close: bool) -> None:
        """Let the function train its next epoch and take its report (``last``: the run's
        final epoch, the row is done); ``close``: the last epoch this trial trains, after
        which the function must return."""
        assert self.stepped is not None, "started"
        event = self.stepped.advance()
        if event.kind == "report" and close:
            end = self.stepped.close()
            event = end if end.kind == "failed" else event
        if event.kind != "report":
            self.fail(event.error or "the training function ended early")
            self.function_failed = event.crashed
            return
        m, value = event.metrics, event.value
        if value is not None and self.trial is not None:  # --mode min: stored negated
            value *= self.trial.settings.sign
        self.row.update(top1=value, loss=m.get("loss"), own_score=m.get(OWN_SCORE))
        if last:
            self.row.update(status=Status.OK, error=None)
        self.history.append(None if value is None else round(value, 4))
        self.train_losses.append(m.get("train_loss"))
        seconds, images = m.get("seconds", event.seconds), m.get("images")
        self.row.update(epochs=event.epoch, images=None if images is None else int(images),
                        seconds=round(seconds, 3),
                        images_per_sec=images / seconds if images and seconds else 0.0,
                        history=_joined(self.history, 4),
                        train_loss=_joined(self.train_losses, 6) if any(
                            x is not None for x in self.train_losses) else None)


def trial(config: dict, context: TrialContext) -> None:
    """Ray Tune trainable: train one candidate for every pending seed, reporting after every
    epoch ``{"epoch", "score", "rows", "key"}`` (score = mean of the seeds' ranked values).
    ``config``: the candidate (``index``, or a TPE point) and, for a rung of synchronous
    halving, ``target``, ``restore`` and ``seeds`` (:class:`TrialContext`)."""
    from ray import tune

    from scalesearch.scaling.registry import resolve

    baseline = resolve(context.baseline)
    cand, reject = candidate_of(config, context, baseline)
    seeds = config.get("seeds", [s for s in context.seeds if (*cand.key, s) not in context.done])
    key = list(cand.key)
    if reject:
        rows = [dict(base_row(baseline, cand, s), status=Status.REJECTED, error=reject)
                for s in seeds]
        tune.report({"epoch": 0, "score": 0.0, "rows": rows, "key": key, "final": True})
        return
    fn = resolve_trainer(context.setup.trainer)
    divisor = 1 if cand.matched_resolution is not None else None  # keep the matched size
    epochs = context.last_epoch
    stop = min(epochs, config.get("target") or epochs)  # a rung: up to its epoch
    runs = [_SeedRun(baseline, cand, context, s, divisor, stop) for s in seeds]
    if not any(r.live for r in runs):  # every seed failed before training
        tune.report({"epoch": 0, "score": 0.0, "rows": [r.row for r in runs], "key": key,
                     "final": True})
        return
    start, unsaved = _restore(runs, config.get("restore"))
    for run in runs:
        if run.live:
            run.start(fn, start)
    try:
        _lockstep(runs, context, start, stop, key, unsaved)
    finally:
        for run in runs:
            if run.stepped is not None:
                run.stepped.close()  # a seed that failed, or a Ray stop: its thread ends


def _lockstep(runs: list[_SeedRun], context: TrialContext, start: int, stop: int, key: list,
              unsaved: bool) -> None:
    """Epochs ``start`` + 1 … ``stop``: each live seed trains one, then one Ray report."""
    from ray import tune

    epochs = context.last_epoch
    for epoch in range(start + 1, stop + 1):
        for run in runs:
            if run.live:
                run.epoch(last=epoch == epochs, close=epoch == stop)
        scores = [r.row["top1"] for r in runs if r.row.get("top1") is not None
                  and r.row["status"] in (RUNNING, Status.OK)]
        score = statistics.fmean(scores) if scores else (0.0 if epoch == epochs else math.nan)
        metrics = {"epoch": epoch, "score": score, "epochs": epochs, "key": key,
                   "rows": [dict(r.row) for r in runs], "final": epoch == epochs,
                   "unsaved": unsaved, "function_failed": any(r.function_failed for r in runs),
                   "metric": context.setup.plain.metric, "sign": context.setup.sign}
        if context.checkpoint and epoch < epochs and any(r.live for r in runs):
            _report_checkpoint(metrics, runs)
        else:
            tune.report(metrics)


def _report_checkpoint(metrics: dict, runs: list[_SeedRun]) -> None:
    """``tune.report`` with a Ray Tune checkpoint of every live seed (persisted by Ray into the
    run's storage; the driver records its path in trials.csv)."""
    import torch
    from ray import tune

    with tempfile.TemporaryDirectory(prefix="scalesearch-ckpt-") as folder:
        torch.save({str(r.row["seed"]): r.state() for r in runs if r.live},
                   Path(folder) / STATE_FILE)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def _restore(runs: list[_SeedRun], path: str | None) -> tuple[int, bool]:
    """Load the seeds' states from a checkpoint folder: the epoch to continue from, and
    whether a checkpoint was there but the function saved no state (it retrains)."""
    if not path:
        return 0, False
    import torch

    states = torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=True)
    live = [r for r in runs if r.live]
    if any(str(r.row["seed"]) not in states for r in live):
        return 0, False  # not this set of seeds' checkpoint: train from the start (lockstep)
    if any(states[str(r.row["seed"])]["trainer"] is None for r in live):
        return 0, True  # the function saves nothing (trial.save): retrain from the start
    for run in live:
        run.restore(states[str(run.row["seed"])])
    return min((r.row["epochs"] for r in live), default=0), False
