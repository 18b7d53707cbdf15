"""What defines a φ=1 search (§3.3 step 1): the candidates, the sampler, the scheduler, the
evidence and the proxy training — stored in ``search.json`` so that a resume can check it —
and what a fidelity check of that search retrains (``FidelityConfig``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from scalesearch.cluster import Placement
from scalesearch.coefsearch.objective import Objective
from scalesearch.coefsearch.space import (
    FLOPS_TOLERANCE,
    MATCH_FLOPS,
    TOLERANCE,
    Ranges,
    check_tolerances,
)
from scalesearch.coefsearch.stats import TIE_BREAKS
from scalesearch.errors import (
    MAX_SEEDS,
    MAX_TRIALS,
    ScalesearchError,
    check_number,
    check_whole,
)
from scalesearch.fmt import parse_duration
from scalesearch.latency import LatencySpec
from scalesearch.proxy import ProxySetup
from scalesearch.trackers import Tracking

SAMPLERS = ("grid", "tpe")
# none: every candidate trains --epochs; sha: synchronous successive halving (the default of
# the main job: decisions independent of arrival order); asha: Ray Tune's asynchronous ASHA
SCHEDULERS = ("none", "sha", "asha")
LEGACY_PLACEMENT = ("address", "cpus_per_trial", "gpus_per_trial")  # flat in 0.2.0 folders


def evaluates(epoch: int, evaluate_at: list[int] | None) -> bool:
    """Whether a trial evaluates after ``epoch`` (:meth:`SearchConfig.evaluate_at`; None: after
    every epoch). The trainable and bench_asha's replay of sha both ask this."""
    return evaluate_at is None or epoch in evaluate_at


@dataclass(frozen=True)
class SearchConfig:
    """Everything that defines a search; stored in ``search.json`` so a resume can check it."""

    baseline: str
    ranges: Ranges = Ranges()
    tolerance: float = TOLERANCE  # relative: |α·β²·γ²/2 − 1| ≤ tolerance
    flops_tolerance: float = FLOPS_TOLERANCE  # without match_flops: |measured ratio − 2| ≤ this
    match_flops: bool = MATCH_FLOPS  # solve each candidate's resolution to a measured ratio 2 ± 3%
    sampler: str = "grid"
    trials: int | None = None  # TPE budget (candidates); grid: all candidates
    seeds: int = 2
    seed_offset: int = 0  # the training seeds are seed_offset … seed_offset + seeds − 1
    sampler_seed: int = 0
    scheduler: str = "none"  # "sha" / "asha": stop weak candidates at rungs min_epochs·η^k
    min_epochs: int = 2  # the first rung; measured: at epoch 1 the ranking is noise (docs)
    reduction_factor: float = 3.0  # η: a third of the candidates go on at each rung
    cut_unrankable: bool = False  # sha: cut even at a rung the seeds cannot rank (docs)
    curves: bool = False  # evaluate every epoch without a scheduler too (learning curves)
    tie_break: str = "balanced"  # how to choose within the tied set (reporting only)
    family_phi: int = 7  # the emitted family is φ = 1…family_phi, B1–B7 (reporting only)
    objective: Objective = field(default_factory=Objective)  # ranks by (reporting only)
    latency: LatencySpec | None = None  # measure each candidate's latency on the driver
    budget: float | str | None = None  # seconds ("4m", "2h"): a pilot plans setup.num_train
    setup: ProxySetup = field(default_factory=ProxySetup)  # the proxy training's recipe
    placement: Placement = field(default_factory=Placement)  # where: not part of the maths
    tracking: Tracking = field(default_factory=Tracking)  # trackers also logged to (not maths)

    def __post_init__(self) -> None:
        for name, value, choices in (("sampler", self.sampler, SAMPLERS),
                                     ("scheduler", self.scheduler, SCHEDULERS),
                                     ("tie-break", self.tie_break, TIE_BREAKS)):
            if value not in choices:
                raise ScalesearchError(f"unknown {name} {value!r}; one of {', '.join(choices)}")
        check_tolerances(self.tolerance, self.flops_tolerance)
        check_whole("--family-phi", self.family_phi, 1, 12)
        if isinstance(self.budget, str):
            object.__setattr__(self, "budget", parse_duration(self.budget))
        check_number("--budget (seconds)", self.budget, 0, strict=True, optional=True)
        if self.budget is not None and self.setup.num_train is not None:
            raise ScalesearchError("--budget plans --num-train from a pilot; give one of them")
        check_whole("--seeds", self.seeds, 1, MAX_SEEDS)
        check_whole("--seed-offset", self.seed_offset, 0)
        check_whole("--trials", self.trials, 1, MAX_TRIALS, optional=True)
        check_whole("--sampler-seed", self.sampler_seed, 0)
        check_whole("--min-epochs", self.min_epochs)
        check_number("--reduction-factor", self.reduction_factor)
        if self.latency is None and (self.objective.needs_latency
                                     or self.tie_break == "latency"):
            object.__setattr__(self, "latency", LatencySpec())  # asked for implicitly
        if self.sampler == "tpe" and not self.trials:
            raise ScalesearchError("--sampler tpe needs a budget: --trials N")
        if self.scheduler == "sha" and self.sampler != "grid":
            raise ScalesearchError("--scheduler sha halves a fixed set of candidates: use the "
                                   "grid sampler, or --scheduler asha with --sampler tpe")
        if self.scheduler != "none":
            if self.min_epochs >= self.epochs:
                raise ScalesearchError(f"--min-epochs must be ≥ 1 and below --epochs "
                                       f"({self.epochs}), got {self.min_epochs}")
            check_number("--reduction-factor", self.reduction_factor, 1, strict=True)

    @property
    def epochs(self) -> int:
        """Reports per candidate: ceil(epochs) (a fractional last epoch is a short one)."""
        return math.ceil(self.setup.train.epochs - 1e-9)

    def training_seeds(self) -> list[int]:
        """The training seeds of every candidate: ``seed_offset`` + 0 … seeds − 1."""
        return list(range(self.seed_offset, self.seed_offset + self.seeds))

    def milestones(self) -> list[int]:
        """The rungs in epochs, below the last epoch: min_epochs · η^k (none without a
        scheduler)."""
        if self.scheduler == "none":
            return []
        out, k = [], 0
        while self.min_epochs * self.reduction_factor**k < self.epochs:
            m = round(self.min_epochs * self.reduction_factor**k, 6)
            out.append(int(m) if m == int(m) else m)
            k += 1
        return out

    def evaluate_at(self) -> list[int] | None:
        """The epochs after which a trial is evaluated on the validation subset, the last one
        aside (always evaluated, on the whole set): sha's rungs, none without a scheduler, and
        None (every epoch) for asha, which may cut anywhere, and with ``curves``."""
        if self.scheduler == "asha" or self.curves:
            return None
        return self.milestones()

    def rung(self, epochs_trained: int) -> int | None:
        """Index of the highest rung reached; len(milestones) = trained to the end."""
        if self.scheduler == "none":
            return None
        if epochs_trained >= self.epochs:
            return len(self.milestones())
        return sum(m <= epochs_trained for m in self.milestones()) - 1

    @classmethod
    def from_dict(cls, d: dict) -> SearchConfig:
        """Inverse of :meth:`to_dict` (as stored in search.json; the placement is not stored,
        and the flat address / CPUs / GPUs per trial of a folder written by 0.2.0 are dropped)."""
        d = {k: v for k, v in d.items() if k not in LEGACY_PLACEMENT}
        return cls(**{**d, "ranges": Ranges.from_dict(d["ranges"]),
                      "setup": ProxySetup.from_dict(d["setup"]),
                      "objective": Objective(**d["objective"]) if d.get("objective")
                      else Objective(),
                      "latency": LatencySpec(**d["latency"]) if d.get("latency") else None})

    def to_dict(self) -> dict:
        """Plain-JSON form stored in search.json (read back by :meth:`from_dict`): what the
        search computes: the recipe, without the reporting-only fields and the placement."""
        d = asdict(self)
        for reporting_only in ("placement", "tracking", "tie_break", "objective", "latency",
                               "family_phi", "budget"):  # the budget's plan: setup.num_train
            d.pop(reporting_only)
        d["setup"]["train"] = self.setup.train.recipe()  # hardware is not maths
        d["ranges"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["ranges"].items()}
        return d


EPOCHS_FACTOR, SIZE_FACTOR = 4, 2  # default reference fidelity relative to the search


@dataclass(frozen=True)
class FidelityConfig:
    """Which candidates to retrain, and how much harder than the search."""

    top: int = 3  # the K best of the search's ranking
    random: int = 3  # and M drawn at random from the rest (seeded): 6 in all, so τ can speak
    epochs: float | None = None  # default: EPOCHS_FACTOR × the search's
    proxy_size: int | None = None  # default: SIZE_FACTOR × the search's
    seeds: int | None = None  # default: the search's
    sample_seed: int = 0

    def __post_init__(self) -> None:
        check_whole("--top", self.top)
        check_whole("--random", self.random, 0)
        check_number("--epochs", self.epochs, 0, strict=True, optional=True)
        check_whole("--proxy-size", self.proxy_size, optional=True)
        check_whole("--seeds", self.seeds, 1, MAX_SEEDS, optional=True)
        check_whole("--sample-seed", self.sample_seed, 0)
