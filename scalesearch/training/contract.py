"""The training-function contract: every candidate × seed is trained by ``train(trial)``.

In the spirit of Ray Tune's function trainables and Optuna's trial: the search builds the
scaled network and hands it over in a :class:`Trial`; the function trains it the way its
project does (its data, task, recipe and metric) and reports after every epoch::

    def train(trial: Trial) -> None:
        for epoch in range(1, trial.epochs + 1):
            ...                                   # one epoch of the user's own training
            trial.report(epoch, score, loss=loss)  # the scheduler's rungs read these

The built-in proxy training is one such function (``proxy``: :func:`.proxy.train`). A trainer
is named like a baseline (:func:`resolve_trainer`): ``path/to/file.py:fn``,
``package.module:fn`` or an entry point of the ``scalesearch.trainers`` group. Naming a file
runs it, by design, as ``--baseline file.py:NET`` does; nothing read from a run folder imports
one. What a function reports is checked as it reports (:meth:`Trial.report`): a bad value or
epoch fails that candidate × seed with one line, never the search.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import io
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from scalesearch.errors import ScalesearchError
from scalesearch.scaling.registry import _is_file, load_spec, normalize
from scalesearch.scaling.scaler import Multipliers
from scalesearch.settings.recipe import DEFAULT_TRAINER, ProxySetup

GROUP = "scalesearch.trainers"
BUILTIN = {DEFAULT_TRAINER: "scalesearch.training.proxy:train"}  # also registered in GROUP
# metrics that fill trials.csv's columns of that name (train_loss: the epoch's mean training
# loss, one entry of the row's ';'-separated train_loss)
RESERVED = ("loss", "images", "seconds", "train_loss")
OWN_SCORE = "own_score"  # trials.csv's column for the function's score, where another is ranked


class TrainingFailed(ScalesearchError):
    """Raised by a training function: the candidate × seed failed with exactly this message
    (any other exception is recorded as ``Type: first line``)."""


class TrainFn(Protocol):
    """A training function: trains ``trial.model`` up to ``trial.epochs``, calling
    ``trial.report`` after every epoch; returns nothing."""

    def __call__(self, trial: Trial) -> None: ...


@dataclass
class Trial:
    """One candidate × seed, as a training function sees it. Names may grow, never change."""

    model: Any  # the built, scaled network (torch.nn.Module), on ``device``
    image_size: int  # the training image size, rounded (and FLOPs-matched where the search is)
    multipliers: Multipliers  # depth, width, resolution of the candidate
    seed: int  # the training seed (the model's initial weights are drawn from it already)
    device: Any  # torch.device the model is on
    epochs: int  # train up to this epoch: a scheduler's rung, or the end
    data: str  # the --data value as given
    settings: ProxySetup  # the run's recipe, passed through (batch size, lr, proxy size, …)
    resources: dict = field(default_factory=dict)  # what Ray gave the trial: cpus, gpus
    last_epoch: int = 0  # the run's final epoch (``epochs`` may be a rung before it)
    scored_epochs: tuple[int, ...] | None = None  # epochs whose score a scheduler reads
    metric: str = "top1"  # the name the ranking reads (--metric)
    checkpointing: bool = False  # save() is kept across rungs (synchronous halving)
    _sink: Callable[[int, float | None, dict], None] | None = None
    _saved: Any = None  # bytes (checkpointing) or the object last saved

    @property
    def batch_size(self) -> int:
        """--batch-size."""
        return self.settings.train.batch_size

    @property
    def lr(self) -> float:
        """The learning rate at this batch size (--lr, linearly scaled)."""
        return self.settings.train.peak_lr

    @property
    def proxy_size(self) -> int | None:
        """--proxy-size."""
        return self.settings.proxy_size

    @property
    def num_train(self) -> int | None:
        """--num-train (None: the data's default)."""
        return self.settings.num_train

    @property
    def num_val(self) -> int | None:
        """--num-val (None: the data's default)."""
        return self.settings.num_val

    def scored(self, epoch: int) -> bool:
        """Whether a scheduler reads ``epoch``'s score (the last epoch always): a trainer may
        skip evaluating the others and report ``None`` for them."""
        return (self.scored_epochs is None or epoch in self.scored_epochs
                or epoch == self.last_epoch)

    def report(self, epoch: int, score: float | None = None,
               **metrics: float | None) -> None:
        """Report ``epoch`` (1, 2, … in order, at most :attr:`epochs`): ``score`` (or the
        metric named by --metric) is what the ranking reads; ``loss``, ``images``,
        ``seconds`` and ``train_loss`` (the epoch's mean training loss) fill trials.csv's
        columns of that name. Where --metric names another value, ``score`` is kept beside it
        (trials.csv's ``own_score``: the built-in's val top-1 under ``--metric sotl``)."""
        value = metrics.get(self.metric, score)
        checked = {k: _number(k, v, epoch) for k, v in metrics.items() if v is not None}
        if self.metric in metrics and score is not None:  # ranked by another value
            checked[OWN_SCORE] = _number("score", score, epoch)
        if value is None and self.scored(epoch):
            said = ", ".join(["score"] * (score is not None) + sorted(metrics)) or "nothing"
            raise TrainingFailed(f"epoch {epoch} reported no {self.metric} (it reported "
                                 f"{said}): call trial.report(epoch, score) or "
                                 f"trial.report(epoch, {self.metric}=…)")
        if value is not None:
            value = _number(self.metric, value, epoch)
        if self._sink is not None:
            self._sink(epoch, value, checked)

    def save(self, state: Any) -> None:
        """Keep ``state`` (after an epoch, before its report) so that the next rung of
        synchronous halving continues from it (:meth:`load`) instead of retraining. It is
        stored with ``torch.save`` and read back with ``weights_only=True``: tensors, numbers,
        strings and their dicts, lists and tuples (a state_dict), no objects of your own."""
        if self.checkpointing:
            import torch

            buffer = io.BytesIO()
            torch.save(state, buffer)
            self._saved = buffer.getvalue()
        else:
            self._saved = state

    def load(self) -> Any:
        """The state last saved (an earlier rung's), or None: train from the start."""
        if isinstance(self._saved, bytes):
            import torch

            # weights_only: a checkpoint in a run folder never imports code
            return torch.load(io.BytesIO(self._saved), map_location="cpu", weights_only=True)
        return self._saved


def _number(name: str, value: object, epoch: int) -> float:
    """``value`` as a finite float, or a one-line failure naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TrainingFailed(f"epoch {epoch} reported {name}={value!r:.40}: not a number")
    if not math.isfinite(float(value)):
        raise TrainingFailed(f"epoch {epoch} reported {name}={float(value)}: not finite")
    return float(value)


def resolve_trainer(spec: str | Callable) -> TrainFn:
    """The training function ``spec`` names (a callable passes through), checked to take one
    argument, ``trial``: a one-line error otherwise, before anything trains."""
    if callable(spec):
        return _checked(spec, repr(spec))
    if not isinstance(spec, str) or not spec.strip():
        raise ScalesearchError(f"--train must name a training function, got {spec!r:.80}")
    if normalize(spec) in map(normalize, BUILTIN):
        module, attr = BUILTIN[DEFAULT_TRAINER].split(":")
        return _checked(getattr(importlib.import_module(module), attr), spec)
    eps = {normalize(ep.name): ep for ep in entry_points(group=GROUP)}
    if normalize(spec) in eps:
        try:
            return _checked(eps[normalize(spec)].load(), spec)
        except ScalesearchError:
            raise
        except Exception as err:
            raise ScalesearchError(f"cannot load training function {spec!r}: "
                                   f"{type(err).__name__}: {err}") from None
    if ":" not in spec:
        known = ", ".join(sorted({*BUILTIN, *(ep.name for ep in eps.values())}))
        raise ScalesearchError(f"unknown training function {spec!r}; available: {known}; or "
                               "give path/to/file.py:fn or package.module:fn")
    return _checked(load_spec(spec, "training function"), spec)


def _checked(fn: Any, spec: str) -> TrainFn:
    """``fn`` when it is a callable taking ``trial`` (one positional argument)."""
    if not callable(fn):
        raise ScalesearchError(f"--train {spec}: a {type(fn).__name__} is not callable; name a "
                               "function train(trial)")
    try:
        inspect.signature(fn).bind(object())
    except TypeError:
        raise ScalesearchError(f"--train {spec}: {getattr(fn, '__name__', 'it')}"
                               f"{inspect.signature(fn)} cannot be called as train(trial): it "
                               "must take one argument, the trial") from None
    except ValueError:  # a builtin without a signature: trust it
        pass
    return fn  # checked to be a callable of one argument


def trainer_file(spec: str) -> Path | None:
    """The file a ``path/to/file.py:fn`` spec runs (resolved), else None."""
    target, sep, _ = spec.rpartition(":")
    return Path(target).resolve() if sep and _is_file(target) else None


def trainer_fingerprint(spec: str) -> dict | None:
    """A plug-in trainer's file and its SHA-256 (None for the built-in and installed ones): a
    resume whose trainer file changed is refused, as a changed baseline plug-in is."""
    path = trainer_file(spec)
    if path is None or not path.is_file():
        return None
    return dict(file=str(path), sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def check_same_trainer(before: dict | None, now: dict | None, where: Path) -> None:
    """Refuse a resume whose training function's file is not the one the run began with."""
    if before is not None and before != now:
        raise ScalesearchError(f"--resume: the training function's file {before['file']} "
                               f"changed since {where} began (SHA-256 {before['sha256'][:12]}"
                               f" → {(now or {}).get('sha256', 'missing')[:12]}); resume with "
                               "that file, or choose another --out")


def first_line(err: BaseException) -> str:
    """``Type: first line of the message`` (a TrainingFailed: its message alone)."""
    text = str(err).strip().splitlines()
    if isinstance(err, TrainingFailed):
        return text[0] if text else "training failed"
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


__all__ = ["GROUP", "Trial", "TrainFn", "TrainingFailed", "check_same_trainer", "first_line",
           "resolve_trainer", "trainer_fingerprint"]
