"""A training function run one epoch at a time: ``train(trial)`` is a plain function, so it
runs in a thread of its own that pauses in every ``trial.report`` until the caller asks for
the next epoch (:meth:`Stepped.advance`). The threads of one candidate's seeds take turns —
never two at once — so the seeds train in lockstep (every seed trains epoch e before any
trains e + 1, one Ray report per epoch) and in the same order, drawing from torch's global
random state, as a single loop over them would; only the caller's thread talks to Ray.

:func:`build_trial` builds what a function is handed (the seeded, scaled network on its
device), :func:`run_to_end` trains one network through (a comparison's job).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from scalesearch.scaling.scalable import Scalable
from scalesearch.scaling.scaler import Multipliers
from scalesearch.settings.recipe import ProxySetup
from scalesearch.training.contract import TrainFn, TrainingFailed, Trial, first_line


class _Stop(BaseException):
    """Raised in a paused function's thread to unwind it (not an Exception: a function's own
    ``except Exception`` does not swallow it)."""


@dataclass
class Event:
    """What a function did since the last :meth:`Stepped.advance`."""

    kind: str  # "report", "end" (returned) or "failed"
    epoch: int = 0
    value: float | None = None  # the ranked value (score or --metric)
    metrics: dict = field(default_factory=dict)
    seconds: float = 0.0  # wall time since the function started (or was restored)
    error: str | None = None
    crashed: bool = False  # failed by raising (a bug), not by a TrainingFailed or a bad report


class Stepped:
    """``fn(trial)`` in its own thread, run up to its next report by :meth:`advance`; reports
    are checked to come in order, from ``start`` + 1 up to ``trial.epochs``."""

    def __init__(self, fn: TrainFn, trial: Trial, start: int = 0):
        self.trial, self.epoch = trial, start
        self._call: Callable[[Trial], object] = fn  # a user's may return something: refused
        self._go, self._back = threading.Semaphore(0), threading.Semaphore(0)
        self._stopping = False
        self._event = Event("end")
        self._clock = 0.0
        trial._sink = self._on_report
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"train-seed{trial.seed}")
        self._thread.start()

    def _run(self) -> None:
        self._go.acquire()
        self._clock = time.perf_counter()
        try:
            returned: object = self._call(self.trial)
            if returned is not None:
                raise TrainingFailed(f"the training function returned {returned!r:.40} instead "
                                     "of reporting: call trial.report(epoch, score) after "
                                     "every epoch")
            if self.epoch < self.trial.epochs:
                raise TrainingFailed(
                    "the training function reported nothing" if self.epoch == 0 else
                    f"the training function returned after epoch {self.epoch} of "
                    f"{self.trial.epochs} (trial.epochs)")
            self._event = Event("end", self.epoch)
        except _Stop:
            self._event = Event("end", self.epoch)
        except BaseException as err:  # a user's function: anything it raises fails this seed
            self._event = Event("failed", self.epoch, error=first_line(err),
                                crashed=not isinstance(err, TrainingFailed))
        self._back.release()

    def _on_report(self, epoch: int, value: float | None, metrics: dict) -> None:
        """In the function's thread: check the epoch, hand the report over, wait for the
        next :meth:`advance` (or unwind when the caller stops)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            raise TrainingFailed(f"trial.report's epoch must be a whole number, got {epoch!r:.40}")
        if epoch != self.epoch + 1:
            raise TrainingFailed(f"epoch {epoch} reported after epoch {self.epoch}: report "
                                 "every epoch, in order, from 1")
        if epoch > self.trial.epochs:
            raise TrainingFailed(f"epoch {epoch} reported beyond trial.epochs "
                                 f"({self.trial.epochs}): train up to trial.epochs")
        self.epoch = epoch
        self._event = Event("report", epoch, value, metrics,
                            time.perf_counter() - self._clock)
        self._back.release()
        self._go.acquire()
        if self._stopping:
            raise _Stop

    def advance(self) -> Event:
        """Let the function run to its next report or its end; what it did."""
        if not self._thread.is_alive():
            return self._event
        self._go.release()
        self._back.acquire()
        return self._event

    def close(self) -> Event:
        """After the last epoch wanted: let the function return (a report past
        ``trial.epochs`` fails it); a function still paused is unwound."""
        if self._thread.is_alive() and self.epoch < self.trial.epochs:
            self._stopping = True
        event = self.advance()
        self._thread.join()
        return event


def build_trial(baseline: Scalable, mult: Multipliers, setup: ProxySetup, seed: int,
                divisor: int | None, **fields) -> tuple[Trial, int]:
    """The trial a function is handed — ``baseline`` at (d, w) built with the data's classes
    from the seed (its initial weights), on the device, at its proxy image size; ``fields``:
    the schedule's (epochs, last_epoch, scored_epochs, checkpointing) — and the network's
    FLOPs at that size."""
    import torch

    from scalesearch.data import load_data
    from scalesearch.scaling.counter import measure
    from scalesearch.training.proxy import proxy_image_size
    from scalesearch.util.hardware import resolve_device

    setup = setup.plain  # a command settled it; built directly, the plain defaults
    assert setup.metric is not None  # settled
    image_size = proxy_image_size(baseline, mult, setup.proxy_size, divisor)
    train, _ = load_data(setup.data, image_size, num_train=setup.num_train,
                         num_val=setup.num_val, seed=setup.data_seed,
                         max_memory_gb=setup.train.max_memory_gb)
    flops = measure(baseline, mult.depth, mult.width, image_size, len(train.classes)).flops
    torch.manual_seed(seed)  # the initial weights are part of the seeded trial
    model = baseline.build(mult.depth, mult.width, num_classes=len(train.classes),
                           dropout=setup.dropout, drop_path=setup.drop_path)
    device = resolve_device(setup.train.device)
    return Trial(model=model.to(device), image_size=image_size, multipliers=mult, seed=seed,
                 device=device, data=setup.data, settings=setup, metric=setup.metric,
                 resources=_resources(), **fields), flops


def _resources() -> dict:
    """The CPUs and GPUs Ray gave this trial (empty outside Ray)."""
    try:
        import ray

        if not ray.is_initialized():
            return {}
        return dict(gpu_ids=list(ray.get_gpu_ids()),
                    resources=dict(ray.get_runtime_context().get_assigned_resources()))
    except Exception:  # outside a Ray worker there is nothing assigned
        return {}


def run_to_end(fn: TrainFn, trial: Trial) -> tuple[Event, list[Event]]:
    """Train ``trial`` through (every epoch up to ``trial.epochs``): the last event (a
    report, or a failure) and every report."""
    stepped, reports = Stepped(fn, trial), list[Event]()
    while True:
        event = stepped.advance()
        if event.kind != "report":
            return event if event.kind == "failed" or not reports else reports[-1], reports
        reports.append(event)
        if event.epoch == trial.epochs:
            end = stepped.close()
            return (end if end.kind == "failed" else event), reports




def train_through(fn: TrainFn, baseline: Scalable, mult: Multipliers, setup: ProxySetup,
                  seed: int) -> dict:
    """One network × seed trained to the end by ``fn`` (no scheduler reads an intermediate
    epoch): its record — image_size, top1 (the ranked value), loss, seconds, status, error."""
    import math

    epochs = math.ceil(setup.train.epochs - 1e-9)
    trial, _ = build_trial(baseline, mult, setup, seed, None, epochs=epochs, last_epoch=epochs,
                           scored_epochs=())
    event, _ = run_to_end(fn, trial)
    failed = event.kind == "failed"
    return dict(image_size=trial.image_size, top1=None if failed else event.value,
                loss=None if failed else event.metrics.get("loss"),
                seconds=round(event.metrics.get("seconds", event.seconds), 3),
                status="failed" if failed else "ok", error=event.error)


__all__ = ["Event", "Stepped", "build_trial", "run_to_end", "train_through"]
