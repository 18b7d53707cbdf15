"""The search's schedulers, one class each in :data:`SCHEDULERS` (name → class, as Ray Tune
keeps its own): where a scheduler's rungs are, which epochs a trial evaluates, how the stored
row of a trial it left running reads, what it refuses, and how it runs — through the runner's
:class:`Runs` (plain Ray Tune trials, or rounds of checkpointed trials). ``--scheduler``
validates against the map. Adding a scheduler: one class here, its entry, its tests.

The map sits with the settings (below the runner) because the settings validate against it; a
scheduler reaches the runner only through the :class:`Runs` it is handed."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from scalesearch.errors import ScalesearchError, check_number
from scalesearch.util.status import Status

if TYPE_CHECKING:
    from scalesearch.settings.search import SearchConfig


class Runs(Protocol):
    """What the runner offers a scheduler: a Ray Tune run of every pending trial (with a Ray
    Tune scheduler, its rungs seeded from trials.csv by ``preload``), or the synchronous rounds
    of :mod:`scalesearch.coefsearch.halving`."""

    def tune(self, scheduler: Any = None) -> None: ...

    def preload(self, scheduler: Any) -> None: ...

    def halve(self) -> None: ...


class Scheduler:
    """No scheduler (``none``): every candidate trains ``--epochs``, evaluated at the end (and
    each epoch with ``--curves``); subclasses add rungs at ``min_epochs``·η^k."""

    name: ClassVar[str] = "none"
    label: ClassVar[str] = ""  # the log's name for its rungs
    running: ClassVar[str] = Status.STOPPED  # a row its trial left running, as stored

    def __init__(self, cfg: SearchConfig):
        self.cfg = cfg

    def check(self) -> None:
        """Refuse settings the scheduler cannot run (none: every setting runs)."""

    def milestones(self) -> list[int]:
        """The rungs in epochs, below the last epoch (none without rungs)."""
        return []

    def evaluate_at(self) -> list[int] | None:
        """Epochs evaluated on the val subset besides the last one; None: every epoch."""
        return None if self.cfg.curves else self.milestones()

    def rung(self, epochs_trained: int) -> int | None:
        """Index of the highest rung reached; len(milestones) = trained to the end."""
        return None

    def describe(self) -> str:
        """Its part of the log's "training N candidate(s)" line."""
        return ""

    def trained_share(self, candidates: int) -> float:
        """The share of every candidate's full training the scheduler is planned to spend
        (``--budget`` sizes the epochs by it): 1 when every candidate may train to the end."""
        return 1.0

    def guarded(self) -> bool:
        """Whether a rung cuts only where the seeds can rank it (sha's rank guard)."""
        return not self.cfg.cut_unrankable

    def run(self, runs: Runs) -> None:
        """Train every pending trial."""
        runs.tune()


class _Rungs(Scheduler):
    """A scheduler with rungs at ``min_epochs``·η^k below ``--epochs``."""

    def check(self) -> None:
        cfg = self.cfg
        if cfg.min_epochs >= cfg.epochs:
            raise ScalesearchError(f"--min-epochs must be ≥ 1 and below --epochs "
                                   f"({cfg.epochs}), got {cfg.min_epochs}")
        check_number("--reduction-factor", cfg.reduction_factor, 1, strict=True)

    def milestones(self) -> list[int]:
        cfg, k = self.cfg, 0
        out: list[int] = []
        while cfg.min_epochs * cfg.reduction_factor**k < cfg.epochs:
            m = round(cfg.min_epochs * cfg.reduction_factor**k, 6)
            # a whole η gives whole rungs; a fractional one (η = 1.5) is kept as it is, which
            # trials.csv's per-epoch history cannot index (sha): not refused today
            out.append(int(m) if m == int(m) else m)  # type: ignore[arg-type]
            k += 1
        return out

    def rung(self, epochs_trained: int) -> int | None:
        if epochs_trained >= self.cfg.epochs:
            return len(self.milestones())
        return sum(m <= epochs_trained for m in self.milestones()) - 1

    def describe(self) -> str:
        return (f", {self.label} rungs at epoch(s) {self.milestones()} of {self.cfg.epochs}, "
                f"η = {self.cfg.reduction_factor:g}")


class SHA(_Rungs):
    """Synchronous successive halving: at each rung, once every candidate has reported, the
    best 1/η go on from their checkpoints (a running trial's row is paused there)."""

    name, label, running = "sha", "synchronous halving", Status.PAUSED

    def check(self) -> None:
        if self.cfg.sampler != "grid":
            raise ScalesearchError("--scheduler sha halves a fixed set of candidates: use the "
                                   "grid sampler, or --scheduler asha with --sampler tpe")
        super().check()

    def run(self, runs: Runs) -> None:
        runs.halve()


class ASHA(_Rungs):
    """Ray Tune's asynchronous ASHA: a trial is cut at a rung as it arrives, so it may stop
    after any epoch (every epoch is evaluated); its rungs start from the stored scores."""

    name, label = "asha", "ASHA"

    def evaluate_at(self) -> list[int] | None:
        return None

    def run(self, runs: Runs) -> None:
        from ray.tune.schedulers import ASHAScheduler

        cfg = self.cfg
        sched = ASHAScheduler(time_attr="epoch", metric="score", mode="max", max_t=cfg.epochs,
                              grace_period=cfg.min_epochs,
                              reduction_factor=cfg.reduction_factor)
        runs.preload(sched)
        runs.tune(sched)


class BestArm(SHA):
    """Fixed-budget best-arm identification by sequential halving (Karnin, Koren & Somekh
    2013; docs/search.md, "The best-arm scheduler"): every candidate trains to the first rung
    (the cheap first pass), then at each rung the ⌈n/η⌉ best by mean score go on from their
    checkpoints, the others stop. It always cuts — its error bound is the budget's, not a
    test's — and ``--budget`` plans for the cuts: the epochs are sized so that the halving,
    not every candidate's full training, fills the budget, so the contenders train on more
    images than every candidate could. A stopped candidate is still judged at its rung ("not
    ruled out" where the seeds could not tell it from the best there)."""

    name, label = "best-arm", "best-arm (sequential halving)"

    def guarded(self) -> bool:
        return False

    def trained_share(self, candidates: int) -> float:
        cfg, n, spent, last = self.cfg, candidates, 0.0, 0.0
        for m in [*self.milestones(), cfg.epochs]:
            spent += n * (m - last)
            last, n = m, math.ceil(n / cfg.reduction_factor)
        return spent / (candidates * cfg.epochs) if candidates else 1.0


# none: every candidate trains --epochs; sha: synchronous successive halving (the default of
# the main job: decisions independent of arrival order); asha: Ray Tune's asynchronous ASHA
# best-arm: sequential halving that always cuts, its allocation planned by --budget
SCHEDULERS: dict[str, type[Scheduler]] = {s.name: s for s in (Scheduler, SHA, ASHA, BestArm)}
