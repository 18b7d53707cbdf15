"""Compound scaling (Eq. 3) and the rounding rules of the reference implementation.

    depth d = α^φ,  width w = β^φ,  resolution r = γ^φ,  s.t. α·β²·γ² ≈ 2,  α, β, γ ≥ 1

Scaling is a pure function from a stage table and (d, w, r) to a new stage table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scalesearch.errors import ScalesearchError
from scalesearch.scaling.arch import StageTable

PAPER_COEFFICIENTS = (1.2, 1.1, 1.15)  # α, β, γ found by the paper's grid search at φ=1
PHI_RANGE = (-4.0, 10.0)  # documented range of φ accepted by the CLI and API
PRODUCT_WARN = 0.05  # relative deviation of α·β²·γ² from 2 that triggers a warning
PRODUCT_REFUSE = 0.25  # ... and that is refused without force=True


@dataclass(frozen=True)
class Multipliers:
    """Depth, width and resolution multipliers (d, w, r) of Eq. 3."""

    depth: float = 1.0
    width: float = 1.0
    resolution: float = 1.0

    @property
    def flops_factor(self) -> float:
        """FLOPs grow ∝ d·w²·r² (Section 3.3)."""
        return self.depth * self.width**2 * self.resolution**2


def compound(phi: float, alpha: float, beta: float, gamma: float) -> Multipliers:
    """Eq. 3: d = α^φ, w = β^φ, r = γ^φ."""
    try:
        return Multipliers(alpha**phi, beta**phi, gamma**phi)
    except OverflowError:  # (1e40)^10: no network is that large
        raise ScalesearchError(f"α, β, γ = {alpha:.3g}, {beta:.3g}, {gamma:.3g} at φ={phi:g} "
                               "overflow a float: scale by less") from None


def formula_flops_ratio(phi: float, alpha: float, beta: float, gamma: float) -> float:
    """FLOPs ratio predicted by Eq. 3 before rounding: (α·β²·γ²)^φ = 2^φ·(α·β²·γ²/2)^φ."""
    return (alpha * beta**2 * gamma**2) ** phi


def check_coefficients(alpha: float, beta: float, gamma: float, *,
                       force: bool = False) -> list[str]:
    """Validate α, β, γ against the constraint of Eq. 3; return warnings, raise if refused
    (numbers in significant digits: α = 1e100 is not echoed as a 100-digit product)."""
    product = alpha * beta**2 * gamma**2
    problems = []
    if min(alpha, beta, gamma) < 1:
        problems.append(f"α, β, γ must be ≥ 1 (got α={alpha:g}, β={beta:g}, γ={gamma:g})")
    deviation = abs(product - 2) / 2
    if deviation > PRODUCT_REFUSE:
        problems.append(f"α·β²·γ² = {product:.4g} is {100 * deviation:.3g}% away from 2 "
                        f"(limit {PRODUCT_REFUSE:.0%})")
    if problems and not force:
        raise ScalesearchError("; ".join(problems) + " — pass force=True / --force to scale anyway")
    if PRODUCT_WARN < deviation <= PRODUCT_REFUSE:
        problems.append(f"α·β²·γ² = {product:.4g} deviates {100 * deviation:.3g}% from 2: "
                        f"FLOPs will grow ≈ {product:.2f}^φ, not 2^φ")
    return problems


def check_phi(phi: float) -> None:
    """Refuse a φ that is not finite or lies outside :data:`PHI_RANGE`."""
    lo, hi = PHI_RANGE
    if not (math.isfinite(phi) and lo <= phi <= hi):
        raise ScalesearchError(f"φ={phi:g} is outside the supported range [{lo:g}, {hi:g}]")


def round_channels(channels: float, width: float = 1.0, divisor: int = 8) -> int:
    """Reference rule: nearest multiple of ``divisor`` (at least ``divisor``), +divisor if that
    loses more than 10% of c·w."""
    scaled = channels * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if new < 0.9 * scaled:
        new += divisor
    return int(new)


def round_repeats(repeats: int, depth: float = 1.0) -> int:
    """Reference rule: ceil(d · layers); the product is rounded to 1e-9 first so float noise
    (1.4·5 = 7.000000000000001) does not add a layer."""
    return max(1, math.ceil(round(repeats * depth, 9)))


def round_image_size(base: int, resolution: float = 1.0, divisor: int = 4) -> int:
    """Nearest multiple of ``divisor`` to base·r (all published EfficientNet sizes are
    multiples of 4: 224·(240/224) → 240, … 600)."""
    return max(divisor, int(base * resolution / divisor + 0.5) * divisor)


def scale_table(table: StageTable, mult: Multipliers) -> StageTable:
    """Apply (d, w, r) to every stage, the stem and the head with the reference rounding."""
    if min(mult.depth, mult.width, mult.resolution) <= 0:
        raise ScalesearchError(f"multipliers must be positive, got {mult}")
    ch = table.divisor
    head = table.head
    if head.channels:
        w_head = mult.width if head.shrink else max(1.0, mult.width)
        head = replace(head, channels=round_channels(head.channels, w_head, ch))
    return replace(
        table,
        stem=replace(table.stem, channels=round_channels(table.stem.channels, mult.width, ch)),
        stages=tuple(
            replace(s, repeats=round_repeats(s.repeats, mult.depth),
                    channels=round_channels(s.channels, mult.width, ch))
            for s in table.stages
        ),
        head=head,
        image_size=round_image_size(table.image_size, mult.resolution, table.resolution_divisor),
    )
