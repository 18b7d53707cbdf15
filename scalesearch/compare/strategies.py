"""Scaling strategies at matched FLOPs (Table 3, Figure 8): for a target ratio X, each
strategy solves its own multiplier so that the *measured* FLOPs of the rounded network land
as close as possible to X × baseline — depth d, width w or resolution r alone, or compound φ
with (α, β, γ)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scalesearch.counter import baseline_counts, flops_ratio, measure
from scalesearch.errors import ScalesearchError
from scalesearch.matching import solve, solve_int
from scalesearch.paper import TABLE3
from scalesearch.scalable import Scalable
from scalesearch.scaler import PAPER_COEFFICIENTS, Multipliers, compound

STRATEGIES = ("depth", "width", "resolution", "compound")
MAX_RATIO = 256.0  # beyond this the solved networks are not worth counting on a CPU


@dataclass(frozen=True)
class Point:
    """One network of the comparison, with its measured complexity."""

    strategy: str
    target_ratio: float
    depth: float
    width: float
    resolution: float
    image_size: int
    params: int
    flops: int
    flops_ratio: float
    phi: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def parse_strategies(text: str | list[str]) -> tuple[str, ...]:
    names = [s.strip().lower() for s in (text.split(",") if isinstance(text, str) else text)]
    unknown = [s for s in names if s not in STRATEGIES]
    if unknown or not names:
        raise ScalesearchError(f"unknown strategy {', '.join(unknown) or '(none)'}; choose from "
                               f"{', '.join(STRATEGIES)}")
    return tuple(dict.fromkeys(names))


def check_ratio(ratio: float) -> None:
    if not (1.0 <= ratio <= MAX_RATIO) or math.isnan(ratio):
        raise ScalesearchError(f"FLOPs ratio must be in [1, {MAX_RATIO:g}], got {ratio:g}")


def point(baseline: Scalable, strategy: str, mult: Multipliers, target: float,
          image_size: int | None = None, phi: float | None = None) -> Point:
    size = image_size or baseline.scaled_image_size(mult.resolution)
    counts = measure(baseline, mult.depth, mult.width, size)
    return Point(strategy, target, mult.depth, mult.width, round(size / baseline.image_size, 4),
                 size, counts.params, counts.flops, flops_ratio(baseline, mult, size), phi)


def _tidy(x: float, flops_of) -> float:
    """The shortest decimal that builds the same network as the solver's x (which sits on a
    rounding boundary, where printing 4 digits could change a ceil and the FLOPs)."""
    exact = flops_of(x)
    for digits in range(1, 7):
        if flops_of(round(x, digits)) == exact:
            return round(x, digits)
    return x


def solve_strategy(baseline: Scalable, strategy: str, target: float,
                   coefficients: tuple[float, float, float] = PAPER_COEFFICIENTS) -> Point:
    """The network of ``strategy`` whose measured FLOPs are closest to target × baseline."""
    check_ratio(target)
    size0 = baseline.image_size
    goal = target * baseline_counts(baseline).flops
    if strategy == "depth":
        f = lambda d: measure(baseline, d, 1.0, size0).flops  # noqa: E731
        d = _tidy(solve(f, goal, 1.0, 2 * target)[0], f)
        return point(baseline, strategy, Multipliers(d, 1.0, 1.0), target)
    if strategy == "width":
        f = lambda w: measure(baseline, 1.0, w, size0).flops  # noqa: E731
        w = _tidy(solve(f, goal, 1.0, 2 * math.sqrt(target))[0], f)
        return point(baseline, strategy, Multipliers(1.0, w, 1.0), target)
    if strategy == "resolution":
        step = baseline.resolution_divisor
        size, _ = solve_int(lambda s: measure(baseline, 1.0, 1.0, s).flops, goal, size0,
                            size0 * math.ceil(2 * math.sqrt(target)), step=step)
        return point(baseline, strategy, Multipliers(1.0, 1.0, size / size0), target, size)
    if strategy == "compound":
        def flops(phi: float) -> float:
            m = compound(phi, *coefficients)
            return measure(baseline, m.depth, m.width,
                           baseline.scaled_image_size(m.resolution)).flops
        phi = _tidy(solve(flops, goal, 0.0, 2 * math.log2(target) + 1)[0], flops)
        return point(baseline, strategy, compound(phi, *coefficients), target, phi=phi)
    raise ScalesearchError(f"unknown strategy {strategy!r}")


def matched(baseline: Scalable, ratios: list[float], strategies: tuple[str, ...],
            coefficients: tuple[float, float, float] = PAPER_COEFFICIENTS) -> list[Point]:
    """The baseline, then every strategy at every target ratio."""
    for r in ratios:
        check_ratio(r)
    points = [point(baseline, "baseline", Multipliers(1.0, 1.0, 1.0), 1.0)]
    return points + [solve_strategy(baseline, s, r, coefficients)
                     for r in ratios for s in strategies]


def paper_rows(baseline: Scalable) -> list[dict]:
    """Table 3 (or Table 7 for B0) with the paper's own multipliers, counted by us. Where the
    paper gives no multipliers (compound rows of MobileNetV2 and ResNet-50), φ with the
    paper's α, β, γ is solved to the paper's FLOPs ratio."""
    rows = TABLE3.get(baseline.name)
    if rows is None:
        raise ScalesearchError(f"the paper has no Table 3 rows for {baseline.name}; it has "
                               f"{', '.join(TABLE3)}")
    base_paper = rows[0].flops
    out = []
    for row in rows:
        if row.depth is None:
            p = solve_strategy(baseline, "compound", row.flops / base_paper)
            note = "multipliers not given in the paper: φ solved to its FLOPs (α=1.2 β=1.1 γ=1.15)"
        else:
            mult = Multipliers(row.depth, row.width, row.resolution)
            p = point(baseline, row.strategy, mult, mult.flops_factor)
            note = ""
        out.append(dict(baseline=baseline.name, **{**p.to_dict(), "strategy": row.strategy},
                        paper_flops=row.flops, paper_top1=row.top1,
                        flops_vs_paper=p.flops / row.flops, note=note))
    return out
