"""The φ=1 search space of §3.3 step 1: α, β, γ on a grid, kept only where the constraint
α·β²·γ² ≈ 2 (Eq. 3) holds by formula, and where the rounded network's *measured* FLOPs are
≈ 2× the baseline's — either by filtering (``flops_tolerance``) or by solving each candidate's
image size so that they are (``match_flops``: fair candidates, none wins by having more FLOPs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from scalesearch.errors import ScalesearchError
from scalesearch.scaling.counter import flops_ratio, measure
from scalesearch.scaling.matching import MATCH_TOLERANCE, match_image_size
from scalesearch.scaling.scalable import Scalable
from scalesearch.scaling.scaler import Multipliers, compound
from scalesearch.settings.search import Ranges, check_tolerances

TARGET = 2.0  # FLOPs ratio at φ = 1


@dataclass(frozen=True)
class Candidate:
    """One (α, β, γ) with its φ=1 network's measured FLOPs ratio at the baseline's image size.

    ``matched_resolution`` (when FLOPs matching is on) is the resolution multiplier that the
    candidate is trained at instead of γ: solved so that the measured ratio is 2 ± 3%.
    """

    alpha: float
    beta: float
    gamma: float
    nominal_ratio: float = math.nan  # measured FLOPs ratio at γ (before matching)
    matched_resolution: float | None = None
    matched_ratio: float | None = None  # measured ratio at the matched resolution
    aliases: tuple[tuple[float, float, float], ...] = ()  # grid points building the same net

    @classmethod
    def from_dict(cls, d: dict) -> Candidate:
        """From JSON (search.json's candidates, a Ray trial's context): pairs became lists,
        unknown keys (a trials.csv row's) are ignored, and a run folder written before the
        rename names the ratio at γ ``flops_ratio``."""
        fields = cls.__dataclass_fields__
        d = dict(d)
        if "nominal_ratio" not in d and "flops_ratio" in d:
            d["nominal_ratio"] = d["flops_ratio"]
        d["aliases"] = tuple(tuple(a) for a in d.get("aliases", ()))
        return cls(**{k: v for k, v in d.items() if k in fields})

    @property
    def product(self) -> float:
        """α·β²·γ² (≈ 2 under the constraint of Eq. 3 at φ = 1)."""
        return self.alpha * self.beta**2 * self.gamma**2

    @property
    def key(self) -> tuple[float, float, float]:
        """(α, β, γ), rounded as trials.csv stores them: the candidate's identity in rows,
        rankings, rungs and checkpoints (:meth:`key_of` for a row)."""
        return Candidate.key_of(self.__dict__)

    @staticmethod
    def key_of(row) -> tuple[float, float, float]:
        """The :attr:`key` of a trials.csv row (or any mapping with alpha, beta, gamma)."""
        return (round(row["alpha"], 6), round(row["beta"], 6), round(row["gamma"], 6))

    @property
    def mult(self) -> Multipliers:
        """(d, w, r) the candidate is trained with: r = γ, or the matched resolution."""
        if self.matched_resolution is not None:
            return Multipliers(self.alpha, self.beta, self.matched_resolution)
        return compound(1.0, self.alpha, self.beta, self.gamma)

    @property
    def trained_ratio(self) -> float:
        """Measured FLOPs ratio of the network as trained (matched, or at γ)."""
        return self.nominal_ratio if self.matched_ratio is None else self.matched_ratio

    def to_dict(self) -> dict:
        """The fields of a trials.csv row (aliases are the space's business)."""
        d = asdict(self)
        del d["aliases"]
        return dict(d, product=self.product)


@dataclass(frozen=True)
class Space:
    """The filtered candidates and how many each filter removed."""

    candidates: tuple[Candidate, ...]
    total: int
    removed_formula: int
    removed_measured: int
    matched: bool = False
    merged: int = 0  # grid points that build the same network as a kept candidate

    def ratios(self) -> tuple[float, float] | None:
        """(min, max) measured FLOPs ratio of the candidates as trained."""
        values = [c.trained_ratio for c in self.candidates]
        return (min(values), max(values)) if values else None

    def summary(self) -> str:
        """One line: grid points, what each filter removed, the candidates left and their
        measured FLOPs ratios."""
        what = ("could not be matched to 2× ± 3% by image size" if self.matched else
                "measured FLOPs ratio removed")
        text = (f"{self.total} grid points; constraint |α·β²·γ²/2 − 1| removed "
                f"{self.removed_formula}, {what} {self.removed_measured}; "
                f"{len(self.candidates) + self.merged} candidates left")
        if self.merged:
            text += (f", {len(self.candidates)} distinct networks after rounding (aliases "
                     "share one training)")
        spread = self.ratios()
        if spread:
            raw = [c.nominal_ratio for c in self.candidates]
            text += f"; measured FLOPs ratio at γ {min(raw):.2f}–{max(raw):.2f}×"
            if self.matched:
                text += f", as trained (matched) {spread[0]:.2f}–{spread[1]:.2f}×"
        return text


def match_resolution(baseline: Scalable, alpha: float, beta: float) -> tuple[float, float] | None:
    """Resolution multiplier r ≥ 1 (any integer image size) whose measured FLOPs ratio for
    depth α and width β is closest to 2; None when no r ≥ 1 lands within ±3%."""
    size0 = baseline.image_size
    size, ratio = match_image_size(baseline, Multipliers(alpha, beta, 1.0), TARGET,
                                   lo=size0, hi=2 * size0)
    if abs(ratio / TARGET - 1) > MATCH_TOLERANCE:
        return None
    return round(size / size0, 6), ratio


def with_ratio(baseline: Scalable, alpha: float, beta: float, gamma: float,
               match: bool = False) -> Candidate:
    """The candidate (α, β, γ) with its measured φ=1 FLOPs ratio and, with ``match``,
    its matched resolution."""
    ratio = flops_ratio(baseline, compound(1.0, alpha, beta, gamma))
    matched = match_resolution(baseline, alpha, beta) if match else None
    return Candidate(alpha, beta, gamma, ratio, *(matched or (None, None)))


def within(product: float, tolerance: float) -> bool:
    """The relative constraint |α·β²·γ²/2 − 1| ≤ tolerance (Eq. 3 with φ = 1)."""
    return abs(product / TARGET - 1) <= tolerance + 1e-12


def build_space(baseline: Scalable, ranges: Ranges, tolerance: float, flops_tolerance: float,
                match_flops: bool) -> Space:
    """Grid over the ranges; keep |α·β²·γ²/2 − 1| ≤ ``tolerance``; then either keep
    |measured FLOPs ratio − 2| ≤ ``flops_tolerance``, or, with ``match_flops``, solve each
    candidate's resolution to a measured ratio of 2 ± 3% (a SearchConfig's fields: no defaults
    here, so a caller cannot build another space than a search's by leaving one out)."""
    check_tolerances(tolerance, flops_tolerance)
    grid = [(a, b, g) for a in ranges.axis("alpha") for b in ranges.axis("beta")
            for g in ranges.axis("gamma")]
    by_formula = [c for c in grid if within(c[0] * c[1] ** 2 * c[2] ** 2, tolerance)]
    measured = [with_ratio(baseline, *c, match=match_flops) for c in by_formula]
    if match_flops:
        kept = [c for c in measured if c.matched_resolution is not None]
    else:
        kept = [c for c in measured if abs(c.nominal_ratio - TARGET) <= flops_tolerance]
    distinct = merge_aliases(baseline, kept)
    return Space(distinct, len(grid), len(grid) - len(by_formula), len(by_formula) - len(kept),
                 match_flops, len(kept) - len(distinct))


def merge_aliases(baseline: Scalable, candidates: list[Candidate]) -> tuple[Candidate, ...]:
    """One candidate per distinct trained network. Rounding makes neighbouring grid points build
    the same network (on B0 α = 1.2 and 1.25 both give ceil(repeats · α) = 2, 3, 3, 4, 4, 5, 2):
    training both would only measure seed noise twice. The most balanced point of each group
    (:func:`~scalesearch.coefsearch.stats.balance`) represents it; the others are its aliases."""
    from scalesearch.coefsearch.stats import balance

    groups: dict[tuple, list[Candidate]] = {}
    for c in candidates:
        m = c.mult
        counts = measure(baseline, m.depth, m.width, baseline.scaled_image_size(m.resolution))
        groups.setdefault((counts.params, counts.flops, round(m.resolution, 6)), []).append(c)
    out = []
    for group in groups.values():
        rep = min(group, key=lambda c: (round(balance(*c.key), 9), c.key))
        out.append(replace(rep, aliases=tuple(c.key for c in group if c is not rep)))
    return tuple(out)


def solve_gamma(alpha: float, beta: float) -> float:
    """γ that makes α·β²·γ² = 2 exactly (the TPE sampler's third coordinate)."""
    return math.sqrt(TARGET / (alpha * beta**2))


# TPE samples α and the position of β inside the interval that keeps the solved γ in range;
# these are the feasible intervals and the map between (α, β) and (α, position).

def alpha_bounds(r: Ranges) -> tuple[float, float]:
    """α interval for which some β, γ in range give α·β²·γ² = 2."""
    lo = max(r.alpha[0], TARGET / (r.beta[1] ** 2 * r.gamma[1] ** 2))
    hi = min(r.alpha[1], TARGET / (r.beta[0] ** 2 * r.gamma[0] ** 2))
    if lo > hi:
        raise ScalesearchError("no α, β, γ in the given ranges satisfies α·β²·γ² = 2")
    return lo, hi


def beta_bounds(alpha: float, r: Ranges) -> tuple[float, float]:
    """β interval that keeps the solved γ inside its range for this α."""
    lo = max(r.beta[0], math.sqrt(TARGET / (alpha * r.gamma[1] ** 2)))
    hi = min(r.beta[1], math.sqrt(TARGET / (alpha * r.gamma[0] ** 2)))
    return lo, hi


def tpe_point(alpha: float, beta_frac: float, r: Ranges) -> tuple[float, float, float]:
    """(α, position of β in its feasible interval) → (α, β, γ) with γ solved exactly."""
    lo, hi = beta_bounds(alpha, r)
    beta = round(lo + beta_frac * (hi - lo), 4)
    return round(alpha, 4), beta, round(min(max(solve_gamma(alpha, beta), r.gamma[0]),
                                            r.gamma[1]), 4)


def beta_fraction(alpha: float, beta: float, r: Ranges) -> float:
    """The inverse of :func:`tpe_point` for β: its position in the feasible interval."""
    lo, hi = beta_bounds(alpha, r)
    return min(1.0, max(0.0, (beta - lo) / (hi - lo or 1)))


def trained_resolutions(space: Space, ranges: Ranges,
                        sampler: str) -> list[tuple[float, int | None]]:
    """(r, rounding divisor) each candidate is trained at: a matched resolution keeps its
    exact size (divisor 1), γ rounds like the baseline (None); TPE may also draw the lowest γ."""
    out = [(c.mult.resolution, 1 if c.matched_resolution is not None else None)
           for c in space.candidates]
    return out + [(ranges.gamma[0], None)] * (sampler == "tpe")
