"""Scaling strategies at matched FLOPs (Table 3, Figure 8): for a target ratio X, each
strategy solves its own knob so that the *measured* FLOPs of the rounded network land as close
as possible to X × baseline — depth d, width w or resolution r alone, compound φ with
(α, β, γ), fast scaling s with α_w (Dollár et al. 2021) or non-uniform depth (EfficientNetV2).
An optional image-size cap gives the growth the cap takes away to depth and width."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import cast

from scalesearch.comparison.nonuniform import check_table, nonuniform_baseline, repeats_text
from scalesearch.errors import ScalesearchError
from scalesearch.scaling.counter import baseline_counts, measure
from scalesearch.scaling.matching import MATCH_TOLERANCE, match_image_size, solve
from scalesearch.scaling.paper import TABLE3
from scalesearch.scaling.scalable import Scalable, TableBaseline
from scalesearch.scaling.scaler import Multipliers, compound
from scalesearch.settings.compare import FAST_ALPHA, CompareConfig, check_ratio
from scalesearch.settings.placement import LatencySpec
from scalesearch.training.latency import measure_many

UNIFORM_SPLIT = (1 / 3, 1 / 6)  # (ln d, ln w) per ln s when d, w, r share FLOPs equally
KNOB = {"compound": "phi", "nonuniform": "phi", "fast": "fast_s"}  # the Point field it reports


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
    activations: int
    activations_ratio: float
    phi: float | None = None  # compound, nonuniform
    fast_s: float | None = None  # fast: the FLOPs factor s of d, w, r before rounding
    capped: bool = False  # the image-size cap bound; d and w took the rest of the growth
    stage_repeats: str | None = None  # nonuniform: blocks per stage, "1-3-…"
    latency_ms: float | None = None

    def to_dict(self) -> dict:
        """The fields as a plain dict (one row of the comparison)."""
        return asdict(self)


def check_options(baseline: Scalable, strategies: tuple[str, ...], opts: CompareConfig) -> None:
    """Refuse options the baseline cannot take: fast alpha outside [0, 1], an image-size
    cap below its own size, nonuniform on a baseline that is not a stage table."""
    cap = opts.max_image_size
    if cap is not None and cap < baseline.image_size:
        raise ScalesearchError(f"max image size {cap} px is below {baseline.name}'s own "
                               f"{baseline.image_size} px")
    if "nonuniform" in strategies:
        check_table(baseline)


def fast_factors(s: float, alpha: float = FAST_ALPHA) -> Multipliers:
    """Fast compound scaling (Dollár, Singh, Girshick, CVPR 2021; pycls ``scaler.py``):
    w = s^(α/2), d = s^((1−α)/2), r = s^((1−α)/4), so d·w²·r² = s; α = 1/3 is uniform."""
    return Multipliers(s ** ((1 - alpha) / 2), s ** (alpha / 2), s ** ((1 - alpha) / 4))


def _built(baseline: Scalable, strategy: str, mult: Multipliers) -> tuple[Scalable, float]:
    """What to build, at which depth: nonuniform bakes its depth into per-stage repeats."""
    if strategy == "nonuniform":
        return nonuniform_baseline(baseline, mult.depth), 1.0
    return baseline, mult.depth


def _flops(baseline: Scalable, strategy: str, mult: Multipliers, size: int) -> int:
    net, d = _built(baseline, strategy, mult)
    return measure(net, d, mult.width, size).flops


def count_point(baseline: Scalable, strategy: str, mult: Multipliers, target: float,
                image_size: int | None = None, phi: float | None = None, **extra) -> Point:
    """Count the network ``strategy`` builds for ``mult``."""
    size = image_size or baseline.scaled_image_size(mult.resolution)
    net, d = _built(baseline, strategy, mult)
    counts = measure(net, d, mult.width, size)
    base = baseline_counts(baseline)
    return Point(strategy, target, mult.depth, mult.width, round(size / baseline.image_size, 4),
                 size, counts.params, counts.flops, counts.flops / base.flops,
                 counts.activations, counts.activations / base.activations, phi,
                 stage_repeats=repeats_text(cast(TableBaseline, net))  # nonuniform's net
                 if strategy == "nonuniform" else None,
                 **extra)


def _tidy(x: float, flops_of) -> float:
    """The shortest decimal that builds the same network as the solver's x (which sits on a
    rounding boundary, where printing 4 digits could change a ceil and the FLOPs)."""
    exact = flops_of(x)
    for digits in range(1, 7):
        if flops_of(round(x, digits)) == exact:
            return round(x, digits)
    return x


def knob_family(strategy: str, target: float,
                opts: CompareConfig) -> tuple[Callable[[float], Multipliers], float, float]:
    """The strategy's one-knob family of multipliers and a bracket for the knob."""
    if strategy == "depth":
        return lambda d: Multipliers(d, 1.0, 1.0), 1.0, 2 * target
    if strategy == "width":
        return lambda w: Multipliers(1.0, w, 1.0), 1.0, 2 * math.sqrt(target)
    if strategy in ("compound", "nonuniform"):
        return lambda phi: compound(phi, *opts.coefficients), 0.0, 2 * math.log2(target) + 1
    if strategy == "fast":
        return lambda s: fast_factors(s, opts.fast_alpha), 1.0, 2 * target
    raise ScalesearchError(f"unknown strategy {strategy!r}")


def growth_split(strategy: str, opts: CompareConfig) -> tuple[float, float]:
    """How the strategy shares growth between depth and width: (ln d, ln w) per unit of
    ln(d·w²), used when the image-size cap binds. Resolution alone has no share of its own
    and takes the uniform one (d = w², equal FLOPs from each)."""
    alpha, beta, _ = cast("tuple[float, float, float]", opts.coefficients)  # after __post_init__
    raw = {"depth": (1.0, 0.0), "width": (0.0, 1.0), "resolution": UNIFORM_SPLIT,
           "compound": (math.log(alpha), math.log(beta)),
           "nonuniform": (math.log(alpha), math.log(beta)),
           "fast": ((1 - opts.fast_alpha) / 2, opts.fast_alpha / 2)}[strategy]
    total = raw[0] + 2 * raw[1]
    return raw if total <= 0 else (raw[0] / total, raw[1] / total)


def _capped(baseline: Scalable, strategy: str, target: float, goal: float,
            opts: CompareConfig) -> Point:
    """Resolution held at the cap; d and w re-solved along the strategy's split."""
    div = baseline.resolution_divisor
    assert opts.max_image_size is not None, "_capped is called only under an image-size cap"
    size = max(baseline.image_size, opts.max_image_size // div * div)
    r = size / baseline.image_size
    sd, sw = growth_split(strategy, opts)
    if sd + sw <= 0:
        raise ScalesearchError(f"{strategy} cannot grow depth or width under the image cap")
    mult = lambda u: Multipliers(math.exp(sd * u), math.exp(sw * u), r)  # noqa: E731
    f = lambda u: _flops(baseline, strategy, mult(u), size)  # noqa: E731
    u = _tidy(solve(f, goal, 0.0, 2 * math.log(2 * target))[0], f)
    return count_point(baseline, strategy, mult(u), target, size, capped=True)


def solve_strategy(baseline: Scalable, strategy: str, target: float,
                   opts: CompareConfig | None = None) -> Point:
    """The network of ``strategy`` whose measured FLOPs are closest to target × baseline."""
    opts = opts or CompareConfig(baseline.name)
    check_ratio(target)
    check_options(baseline, (strategy,), opts)
    size0 = baseline.image_size
    goal = target * baseline_counts(baseline).flops
    if strategy == "resolution":
        size, _ = match_image_size(baseline, Multipliers(1.0, 1.0, 1.0), target, lo=size0,
                                   hi=size0 * math.ceil(2 * math.sqrt(target)),
                                   step=baseline.resolution_divisor)
        mult, knob = Multipliers(1.0, 1.0, size / size0), {}
    else:
        family, lo, hi = knob_family(strategy, target, opts)
        f = lambda x: _flops(baseline, strategy, family(x),  # noqa: E731
                             baseline.scaled_image_size(family(x).resolution))
        x = _tidy(solve(f, goal, lo, hi)[0], f)
        mult, size = family(x), None
        knob = {KNOB[strategy]: x} if strategy in KNOB else {}
    cap = opts.max_image_size
    if cap is not None and (size or baseline.scaled_image_size(mult.resolution)) > cap:
        return _capped(baseline, strategy, target, goal, opts)
    return count_point(baseline, strategy, mult, target, size, **knob)


def solve_strategies(baseline: Scalable, ratios: list[float], strategies: tuple[str, ...],
                     opts: CompareConfig | None = None) -> list[Point]:
    """The baseline, then every strategy at every target ratio."""
    opts = opts or CompareConfig(baseline.name)
    for r in ratios:
        check_ratio(r)
    check_options(baseline, strategies, opts)
    points = [count_point(baseline, "baseline", Multipliers(1.0, 1.0, 1.0), 1.0)]
    points += [solve_strategy(baseline, s, r, opts) for r in ratios for s in strategies]
    warn_off_target(points[1:])
    return points if opts.latency is None else timed(baseline, points, opts.latency)


def warn_off_target(points: list[Point], tolerance: float = MATCH_TOLERANCE) -> None:
    """Warn, naming the row, where rounding left a network more than ``tolerance`` from its
    FLOPs target (as ``scale --match-flops`` does): FLOPs jump with the image size's rows."""
    for p in points:
        off = p.flops_ratio / p.target_ratio - 1
        if abs(off) > tolerance:
            warnings.warn(f"{p.strategy} ×{p.target_ratio:g}: measured FLOPs ratio "
                          f"{p.flops_ratio:.2f}× is {off:+.1%} from its target (no network on "
                          f"this strategy's path rounds closer)", stacklevel=3)


def timed(baseline: Scalable, points: list[Point], spec: LatencySpec) -> list[Point]:
    """The points with ``latency_ms`` of their full-size networks (interleaved rounds)."""
    def item(p: Point):
        net, d = _built(baseline, p.strategy, Multipliers(p.depth, p.width, p.resolution))
        return net.build(d, p.width), p.image_size

    ms = measure_many([item(p) for p in points], spec)
    return [replace(p, latency_ms=t) for p, t in zip(points, ms, strict=True)]


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
            assert row.width is not None and row.resolution is not None  # all three or none
            mult = Multipliers(row.depth, row.width, row.resolution)
            p = count_point(baseline, row.strategy, mult, mult.flops_factor)
            note = ""
        out.append(dict(baseline=baseline.name, **{**p.to_dict(), "strategy": row.strategy},
                        paper_flops=row.flops, paper_top1=row.top1,
                        flops_vs_paper=p.flops / row.flops, note=note))
    return out
