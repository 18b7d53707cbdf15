"""The φ=1 search space of §3.3 step 1: α, β, γ on a grid, kept only where the constraint
α·β²·γ² ≈ 2 (Eq. 3) holds both by formula and on the measured FLOPs of the rounded network."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scalesearch.counter import measure
from scalesearch.errors import ScalesearchError
from scalesearch.scalable import Scalable
from scalesearch.scaler import Multipliers, compound, round_image_size

TARGET = 2.0  # FLOPs ratio at φ = 1


@dataclass(frozen=True)
class Ranges:
    """Search ranges (the paper's implicit ones: α ∈ [1, 2], β, γ ∈ [1, 1.5]) and grid step."""

    alpha: tuple[float, float] = (1.0, 2.0)
    beta: tuple[float, float] = (1.0, 1.5)
    gamma: tuple[float, float] = (1.0, 1.5)
    step: float = 0.05

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            lo, hi = getattr(self, name)
            if not 1.0 <= lo <= hi:
                raise ScalesearchError(f"{name} range needs 1 <= low <= high, got {lo}..{hi}")
        if not 0 < self.step <= 1:
            raise ScalesearchError(f"grid step must be in (0, 1], got {self.step}")

    def axis(self, name: str) -> list[float]:
        lo, hi = getattr(self, name)
        n = math.floor((hi - lo) / self.step + 1e-9)
        return [round(lo + i * self.step, 6) for i in range(n + 1)]


@dataclass(frozen=True)
class Candidate:
    """One (α, β, γ) with its φ=1 network's measured FLOPs ratio at the baseline's image size."""

    alpha: float
    beta: float
    gamma: float
    flops_ratio: float = math.nan

    @property
    def product(self) -> float:
        return self.alpha * self.beta**2 * self.gamma**2

    @property
    def key(self) -> tuple[float, float, float]:
        return (self.alpha, self.beta, self.gamma)

    @property
    def mult(self) -> Multipliers:
        return compound(1.0, self.alpha, self.beta, self.gamma)

    def to_dict(self) -> dict:
        return dict(asdict(self), product=self.product)


@dataclass(frozen=True)
class Space:
    """The filtered candidates and how many each filter removed."""

    candidates: tuple[Candidate, ...]
    total: int
    removed_formula: int
    removed_measured: int

    def summary(self) -> str:
        return (f"{self.total} grid points; constraint |α·β²·γ² − 2| removed "
                f"{self.removed_formula}, measured FLOPs ratio removed {self.removed_measured}; "
                f"{len(self.candidates)} candidates left")


def measured_ratio(baseline: Scalable, mult: Multipliers, image_size: int | None = None) -> float:
    """FLOPs of the rounded network scaled by ``mult`` over the baseline's, both measured."""
    size = image_size or baseline.image_size
    scaled = round_image_size(size, mult.resolution, baseline.resolution_divisor)
    base = measure(baseline, 1.0, 1.0, size).flops
    return measure(baseline, mult.depth, mult.width, scaled).flops / base


def with_ratio(baseline: Scalable, alpha: float, beta: float, gamma: float) -> Candidate:
    ratio = measured_ratio(baseline, compound(1.0, alpha, beta, gamma))
    return Candidate(alpha, beta, gamma, ratio)


def build_space(baseline: Scalable, ranges: Ranges = Ranges(), tolerance: float = 0.05,
                flops_tolerance: float | None = None) -> Space:
    """Grid over the ranges; keep |α·β²·γ² − 2| ≤ ``tolerance`` and |measured FLOPs ratio − 2|
    ≤ ``flops_tolerance`` (default: the same tolerance)."""
    flops_tolerance = tolerance if flops_tolerance is None else flops_tolerance
    for name, tol in (("tolerance", tolerance), ("FLOPs tolerance", flops_tolerance)):
        if not 0 < tol < 1:
            raise ScalesearchError(f"{name} must be in (0, 1), got {tol}")
    grid = [(a, b, g) for a in ranges.axis("alpha") for b in ranges.axis("beta")
            for g in ranges.axis("gamma")]
    by_formula = [c for c in grid if abs(c[0] * c[1] ** 2 * c[2] ** 2 - TARGET) <= tolerance]
    measured = [with_ratio(baseline, *c) for c in by_formula]
    kept = tuple(c for c in measured if abs(c.flops_ratio - TARGET) <= flops_tolerance)
    return Space(kept, len(grid), len(grid) - len(by_formula), len(by_formula) - len(kept))


def solve_gamma(alpha: float, beta: float) -> float:
    """γ that makes α·β²·γ² = 2 exactly (the TPE sampler's third coordinate)."""
    return math.sqrt(TARGET / (alpha * beta**2))
