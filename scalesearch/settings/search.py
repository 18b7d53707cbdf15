"""What defines a φ=1 search (§3.3 step 1) — the candidates (:class:`Ranges`, Eq. 3's
constraint), the sampler, the scheduler, the evidence, the objective and the proxy training —
stored in ``search.json`` so that a resume can check it, and what a fidelity check of that
search retrains (:class:`FidelityConfig`)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace

from scalesearch.errors import (
    MAX_GRID_POINTS,
    MAX_SEEDS,
    MAX_TRIALS,
    ScalesearchError,
    check_number,
    check_whole,
    check_within,
)
from scalesearch.scaling.matching import MATCH_TOLERANCE
from scalesearch.scaling.scaler import PHI_RANGE
from scalesearch.settings.fields import nested, plain_numbers, setting
from scalesearch.settings.placement import LatencySpec, Placement, Tracking, latency_field
from scalesearch.settings.recipe import (
    BEFORE,
    MAX_PROXY_SIZE,
    MIN_TRAIN,
    TRAINING,
    ProxySetup,
    stored,
)
from scalesearch.settings.schedulers import SCHEDULERS, Scheduler
from scalesearch.util.argtypes import duration, integer, number, value_range
from scalesearch.util.fmt import parse_duration

SAMPLERS = ("grid", "tpe")
TIE_BREAKS = ("p_best", "balanced", "score", "params", "latency")
PICK_RULE = "p_best"  # the default --tie-break: the tied candidate most likely to be best
OBJECTIVES = ("accuracy", "mnas")
LATENCY_WEIGHT = -0.07  # MnasNet's soft constraint, EfficientNet §4
LEGACY_PLACEMENT = ("address", "cpus_per_trial", "gpus_per_trial")  # flat in 0.2.0 folders
CANDIDATES, EVIDENCE = "candidates", "evidence and budget"
OBJECTIVE = "objective (MnasNet / EfficientNet §4: top1·(cost/T)^w)"
MATCHED = f"2 ± {MATCH_TOLERANCE:.0%}"


def _pair(v: tuple[float, float]) -> str:
    return f"{v[0]:g}:{v[1]:g}"


def _range(name: str, default: tuple[float, float]):
    return setting(default, flag=f"--{name}-range", type=value_range, metavar="LO:HI",
                   show=_pair, help=f"{name} range ({{default}})")


@dataclass(frozen=True)
class Ranges:
    """Search ranges (the paper's implicit ones: α ∈ [1, 2], β, γ ∈ [1, 1.5]) and grid step."""

    alpha: tuple[float, float] = _range("alpha", (1.0, 2.0))
    beta: tuple[float, float] = _range("beta", (1.0, 1.5))
    gamma: tuple[float, float] = _range("gamma", (1.0, 1.5))
    step: float = setting(0.05, flag="--grid-step", type=number, help="grid step ({default})")

    def __post_init__(self) -> None:
        plain_numbers(self)
        for name in ("alpha", "beta", "gamma"):
            lo, hi = getattr(self, name)
            if not 1.0 <= lo <= hi < math.inf:
                raise ScalesearchError(f"{name} range needs 1 <= low <= high, got {lo}..{hi}")
        check_within("grid step", self.step, 0, 1, "(]")
        points = math.prod(self._steps(n) + 1 for n in ("alpha", "beta", "gamma"))
        if points > MAX_GRID_POINTS:
            raise ScalesearchError(f"the grid has {points:,} points (limit {MAX_GRID_POINTS:,}); "
                                   "raise --grid-step or narrow the ranges")

    @classmethod
    def from_dict(cls, d: dict) -> Ranges:
        """From JSON (search.json, a Ray trial's context), where pairs became lists."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v  # type: ignore[arg-type]
                      for k, v in d.items()})

    def _steps(self, name: str) -> int:
        lo, hi = getattr(self, name)
        return math.floor((hi - lo) / self.step + 1e-9)

    def axis(self, name: str) -> list[float]:
        """Grid values of ``name`` (alpha, beta or gamma): low to high in steps of ``step``."""
        lo = getattr(self, name)[0]
        return [round(lo + i * self.step, 6) for i in range(self._steps(name) + 1)]


@dataclass(frozen=True)
class Objective:
    """What a search ranks candidates by: top-1, or MnasNet's reward (Tan et al., CVPR 2019,
    Eq. 2; EfficientNet §4 with FLOPs for latency) top1·(LAT/T)^w or top1·(FLOPs/T)^w."""

    kind: str = setting("accuracy", flag="--objective", choices=OBJECTIVES, help="rank by "
                        "top-1 (accuracy) or by top1·(LAT/T)^w or top1·(FLOPs/T)^w (mnas); "
                        "ranking, p_best and ties use it (default: {default})")
    target_latency_ms: float | None = setting(None, flag="--target-latency", type=number,
                                              metavar="MS", help="mnas: the latency target T "
                                              "in ms (measures latency)")
    target_flops: float | None = setting(None, flag="--target-flops", type=number,
                                         metavar="N", help="mnas: the FLOPs target T in "
                                         "multiply-adds of the φ=1 network at full size")
    weight: float = setting(LATENCY_WEIGHT, flag="--latency-weight", type=number, metavar="W",
                            help="mnas: the exponent w ({default})")

    def __post_init__(self) -> None:
        plain_numbers(self)
        if self.kind not in OBJECTIVES:
            raise ScalesearchError(f"unknown objective {self.kind!r}; choose from "
                                   f"{', '.join(OBJECTIVES)}")
        targets = [t for t in (self.target_latency_ms, self.target_flops) if t is not None]
        if self.kind == "mnas" and len(targets) != 1:
            raise ScalesearchError("the mnas objective needs exactly one target: a latency "
                                   "(ms) or a FLOPs count")
        if self.kind == "accuracy" and targets:
            raise ScalesearchError("a latency or FLOPs target needs the mnas objective")
        for name, target in (("target latency (ms)", self.target_latency_ms),
                             ("target FLOPs", self.target_flops)):
            check_number(name, target, 0, strict=True, optional=True)
        check_number("latency weight", self.weight)

    @property
    def needs_latency(self) -> bool:
        """Whether the mnas cost is latency (a latency target), not FLOPs."""
        return self.target_latency_ms is not None

    def score(self, top1: float, latency_ms: float | None = None,
              flops: float | None = None) -> float:
        """top1 for ``accuracy``; top1·(LAT/T)^w or top1·(FLOPs/T)^w for ``mnas``."""
        if self.kind == "accuracy":
            return top1
        cost, target, name = (latency_ms, self.target_latency_ms, "latency_ms") \
            if self.needs_latency else (flops, self.target_flops, "flops")
        if cost is None:
            raise ScalesearchError(f"the mnas objective needs {name} for every candidate")
        check_number(name, cost, 0, strict=True)
        assert target is not None  # set for the mnas objective (__post_init__)
        return top1 * (cost / target) ** self.weight

    def to_dict(self) -> dict:
        """Plain-JSON form (``Objective(**d)`` rebuilds it)."""
        return asdict(self)


def evaluates(epoch: int, evaluate_at: Collection[int] | None) -> bool:
    """Whether a trial evaluates after ``epoch`` (:meth:`SearchConfig.evaluate_at`; None: after
    every epoch). The trainable and bench_asha's replay of sha both ask this."""
    return evaluate_at is None or epoch in evaluate_at


def _candidates(default, flag: str, help: str, **kwargs):
    return setting(default, flag=flag, group=CANDIDATES, help=help, **kwargs)


def _evidence(default, flag: str, help: str, **kwargs):
    return setting(default, flag=flag, group=EVIDENCE, help=help, **kwargs)


@dataclass(frozen=True)
class SearchConfig:
    """Everything that defines a search; stored in ``search.json`` so a resume can check it."""

    baseline: str = setting("efficientnet-b0", flag="--baseline",
                            help="network to search on (default: {default})")
    ranges: Ranges = nested(Ranges, group=CANDIDATES)
    tolerance: float = _candidates(
        0.05, "--tolerance", "keep |α·β²·γ²/2 − 1| ≤ this, relative ({default}: the paper's "
        "1.2, 1.1, 1.15 with product 1.92 is in)", type=number)
    match_flops: bool = _candidates(
        True, "--match-flops", "solve each candidate's training resolution so its measured "
        f"FLOPs ratio is {MATCHED} (fair candidates: none wins by having more FLOPs); "
        "--no-match-flops trains at γ and filters by --flops-tolerance (default: {default})",
        action=argparse.BooleanOptionalAction)
    flops_tolerance: float = _candidates(
        0.25, "--flops-tolerance", "with --no-match-flops: keep |measured FLOPs ratio − 2| ≤ "
        "this, at the baseline's image size ({default})", type=number)
    sampler: str = _candidates("grid", "--sampler", "grid: every filtered candidate; tpe: "
                               "--trials candidates, γ solved from α, β (default: {default})",
                               choices=SAMPLERS)
    trials: int | None = _candidates(None, "--trials", "TPE budget (trained candidates)",
                                     type=integer)
    sampler_seed: int = _candidates(
        0, "--sampler-seed", "the sampler's seed: the grid's start order, TPE's draws "
        "({default}); not a training seed (--seeds counts those, --seed-offset moves them); "
        "--seed is the old spelling", type=integer, aliases=("--seed",))
    seeds: int = _evidence(2, "--seeds", "trainings per candidate; the ranking uses the mean, "
                           "the 95% interval and p_best from the seed noise pooled over "
                           "candidates, and the seed-split τ says whether it reproduces "
                           "({default}; 1 cannot measure seed noise)", type=integer)
    seed_offset: int = _evidence(0, "--seed-offset", "train seeds N … N + --seeds − 1: a "
                                 "second run with other training seeds checks whether the "
                                 "answer holds ({default})", type=integer)
    scheduler: str = _evidence(
        "none", "--scheduler", "sha: synchronous successive halving on Ray Tune — at each rung "
        "--min-epochs·η^k, once every candidate has reported, the best 1/η go on from their "
        "checkpoints (the answer does not depend on arrival order); asha: Ray Tune's "
        "asynchronous ASHA (no waiting, works with TPE, but cuts by arrival order: "
        "docs/search.md); best-arm: sequential halving that always cuts and, with --budget, "
        "spends what the cuts save on longer training for the contenders; none: every "
        "candidate trains --epochs (default: {default})",
        choices=tuple(SCHEDULERS))
    min_epochs: int = _evidence(2, "--min-epochs", "the first rung ({default}: after one epoch "
                                "the candidates' ranking was noise, docs/search.md)",
                                type=integer)
    reduction_factor: float = _evidence(3.0, "--reduction-factor", "η: about 1/η of the "
                                        "candidates go on at each rung ({default})",
                                        type=number)
    cut_unrankable: bool = _evidence(
        False, "--cut-unrankable", "sha: cut at every rung, even where the seeds cannot rank "
        "the candidates (by default such a rung lets every candidate go on: docs/search.md, "
        "'Reliability')", action="store_true")
    curves: bool = _evidence(
        False, "--curves", "without a scheduler, evaluate every epoch too (on the val subset; "
        "trials.csv's history): learning curves, to choose where rungs go (docs/search.md)",
        action="store_true")
    tie_break: str = _evidence(
        PICK_RULE, "--tie-break", "choose within the tied set (the candidates the seeds "
        "cannot rule out as best; its p_best threshold is in best.json's tie_p): p_best = the "
        "most likely to be best, balanced = most even log α, 2·log β, 2·log γ (the paper's "
        "case for compound scaling), score, params, latency (default: {default})",
        choices=TIE_BREAKS)  # reporting only
    family_phi: int = _evidence(
        7, "--family-phi", "emit the family φ = 1…N (family.csv; B1–B7 is 7; a winner with a "
        "large α makes deep members slow to count) (default: {default})", type=integer,
        metavar="N")  # reporting only
    objective: Objective = nested(Objective, group=OBJECTIVE)  # ranks by (reporting only)
    latency: LatencySpec | None = latency_field()  # measured on the driver
    budget: float | str | None = _evidence(
        None, "--budget", "plan the proxy from a time budget (90s, 4m, 2h, 1h30m): a pilot "
        "times the cheapest and the most expensive candidate, then --num-train is the most "
        "images per epoch that fit, every candidate trained to the end (docs/search.md)",
        type=duration, metavar="DURATION")  # seconds: a pilot plans setup.num_train
    setup: ProxySetup = nested(ProxySetup, group="proxy training")  # the training's recipe
    placement: Placement = nested(Placement)  # where: not part of the maths
    tracking: Tracking = nested(Tracking)  # trackers also logged to (not maths)
    # which of --metric, --mode, --head-init this search's defaults chose (ProxySetup.settled):
    # a --resume takes those from the folder instead (resumed)
    defaulted: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        plain_numbers(self)
        unset = self.setup.unset()
        if unset:  # the built-in's training loss, unless mnas multiplies top-1
            object.__setattr__(self, "defaulted", unset)
            object.__setattr__(self, "setup",
                               self.setup.settled(search=self.objective.kind == "accuracy"))
        for name, value, choices in (("sampler", self.sampler, SAMPLERS),
                                     ("scheduler", self.scheduler, tuple(SCHEDULERS)),
                                     ("tie-break", self.tie_break, TIE_BREAKS)):
            if value not in choices:
                raise ScalesearchError(f"unknown {name} {value!r}; one of {', '.join(choices)}")
        check_tolerances(self.tolerance, self.flops_tolerance)
        object.__setattr__(self, "setup", self.placement.on(self.setup))
        check_whole("--family-phi", self.family_phi, 1, int(PHI_RANGE[1]))  # scale()'s φ
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
        if self.objective.kind == "mnas" and self.setup.mode == "min":
            raise ScalesearchError("--objective mnas multiplies a higher-is-better score by a "
                                   "cost factor: it cannot rank a --mode min metric")
        if self.sampler == "grid" and self.trials:
            raise ScalesearchError("--trials is the TPE budget; use it with --sampler tpe")
        if self.sampler == "tpe" and not self.trials:
            raise ScalesearchError("--sampler tpe needs a budget: --trials N")
        self.schedule.check()

    @property
    def epochs(self) -> int:
        """Reports per candidate: ceil(epochs) (a fractional last epoch is a short one)."""
        return math.ceil(self.setup.train.epochs - 1e-9)

    def training_seeds(self) -> list[int]:
        """The training seeds of every candidate: ``seed_offset`` + 0 … seeds − 1."""
        return list(range(self.seed_offset, self.seed_offset + self.seeds))

    @property
    def schedule(self) -> Scheduler:
        """The ``--scheduler``'s object (:data:`~scalesearch.settings.schedulers.SCHEDULERS`)."""
        return SCHEDULERS[self.scheduler](self)

    def milestones(self) -> list[int]:
        """The rungs in epochs, below the last epoch: min_epochs · η^k (none without a
        scheduler)."""
        return self.schedule.milestones()

    def evaluate_at(self) -> list[int] | None:
        """The epochs after which a trial is evaluated on the validation subset, the last one
        aside (always evaluated, on the whole set); None: every epoch (the scheduler's)."""
        return self.schedule.evaluate_at()

    def rung(self, epochs_trained: int) -> int | None:
        """Index of the highest rung reached; len(milestones) = trained to the end."""
        return self.schedule.rung(epochs_trained)

    def resumed(self, before: dict) -> SearchConfig:
        """This search continuing the one stored as ``before`` (search.json's config): the
        fields it left to the defaults (:attr:`defaulted`) take the stored values — absent
        ones what a folder storing none ranked by, val top-1 from the network's own
        head — so an old folder resumes without its flags spelt out."""
        setup = before.get("setup") if isinstance(before, dict) else None
        if not self.defaulted or not isinstance(setup, dict):
            return self
        train = setup.get("train") if isinstance(setup.get("train"), dict) else {}
        old = {**TRAINING, **setup, **BEFORE, **train}  # type: ignore[dict-item]
        return replace(self, defaulted=(),
                       setup=self.setup.with_fields({k: old[k] for k in self.defaulted}))

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
                               "family_phi", "budget",  # the budget's plan: setup.num_train
                               "defaulted"):
            d.pop(reporting_only)
        d["setup"] = stored(dict(d["setup"], train=self.setup.train.recipe()))  # not hardware
        d["ranges"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["ranges"].items()}
        return d

    def recipe(self) -> dict:
        """What the search computes (:meth:`to_dict`), as a resume compares it."""
        return self.to_dict()


def check_tolerances(tolerance: float, flops_tolerance: float) -> None:
    """Refuse a constraint or measured-FLOPs tolerance outside (0, 1)."""
    check_within("tolerance", tolerance, 0, 1, "()")
    check_within("FLOPs tolerance", flops_tolerance, 0, 1, "()")


EPOCHS_FACTOR, SIZE_FACTOR = 4, 2  # default reference fidelity relative to the search


@dataclass(frozen=True)
class FidelityConfig:
    """Which candidates to retrain, and how much harder than the search."""

    top: int = setting(3, flag="--top", type=integer,
                       help="best candidates to retrain ({default})")
    random: int = setting(3, flag="--random", type=integer, help="random other candidates "
                          "({default}): 6 in all, so τ can speak")
    epochs: float | None = setting(None, flag="--epochs", type=number, help="reference epochs "
                                   f"(default: {EPOCHS_FACTOR}× the search's)")
    proxy_size: int | None = setting(None, flag="--proxy-size", type=integer, help="reference "
                                     f"base image size, at most {MAX_PROXY_SIZE} (default: "
                                     f"{SIZE_FACTOR}× the search's)")
    num_train: int | None = setting(None, flag="--num-train", type=integer, help="reference "
                                    "training images (default: the search's; an ImageFolder's "
                                    "are capped at what it has)")
    seeds: int | None = setting(None, flag="--seeds", type=integer,
                                help="seeds per candidate (default: the search's)")
    sample_seed: int = setting(0, flag="--sample-seed", type=integer,
                               help="seed of the random pick ({default})")

    def __post_init__(self) -> None:
        plain_numbers(self)
        check_whole("--top", self.top)
        check_whole("--random", self.random, 0)
        check_number("--epochs", self.epochs, 0, strict=True, optional=True)
        check_whole("--proxy-size", self.proxy_size, 1, MAX_PROXY_SIZE, optional=True)
        check_whole("--num-train", self.num_train, MIN_TRAIN, optional=True)
        check_whole("--seeds", self.seeds, 1, MAX_SEEDS, optional=True)
        check_whole("--sample-seed", self.sample_seed, 0)
