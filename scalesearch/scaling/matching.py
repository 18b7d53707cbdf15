"""The one FLOPs matcher: solve for a multiplier whose *measured* FLOPs land closest to a target.

FLOPs are monotone (non-decreasing) in each of d, w and r but, after rounding, piecewise
constant, so a bisection narrows the bracket and the closest of the evaluated points wins.
``scale --match-flops``, the search's matched candidates, the family's ``px_matched`` and
compare's resolution rows all go through :func:`match_image_size` (and :func:`match_ratio`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from scalesearch.errors import TooLarge
from scalesearch.scaling.counter import baseline_counts, measure

if TYPE_CHECKING:
    from scalesearch.scaling.scalable import Scalable
    from scalesearch.scaling.scaler import Multipliers

X = TypeVar("X", int, float)
# A matched network's measured FLOPs ratio is within ±3% of its target whenever some value of
# the knob gets there (scale --match-flops, the search's matched candidates, compare's rows).
MATCH_TOLERANCE = 0.03
# The smallest image size a matched (or scaled) network is built at.
MIN_IMAGE_SIZE = 16


def _bisect(flops_of: Callable[[X], float], target: float, lo: X, hi: X,
            midpoint: Callable[[X, X], X | None], stop: Callable[[X, X, float], bool],
            iters: int) -> tuple[X, float]:
    """Bisect [lo, hi] while f(a) < target < f(b) (``midpoint`` None: nothing left between;
    ``stop(a, b, f(mid))``: close enough); return the evaluated point closest to ``target``
    (ties: the smaller one) and its value."""
    seen: dict[X, float] = {}

    def f(x: X) -> float:
        if x not in seen:
            try:
                seen[x] = flops_of(x)
            except TooLarge:  # a bracket's end beyond the size bound: above any target
                seen[x] = math.inf
        return seen[x]

    a, b = lo, hi
    for _ in range(iters):
        mid = midpoint(a, b)
        if mid is None or not f(a) < target < f(b):
            break
        if f(mid) < target:
            a = mid
        else:
            b = mid
        if stop(a, b, f(mid)):
            break
    f(a), f(b)  # the bracket's ends are candidates too
    best = min(seen, key=lambda x: (abs(seen[x] - target), x))
    return best, seen[best]


def solve(flops_of: Callable[[float], float], target: float, lo: float, hi: float,
          iters: int = 40, rel_tol: float = 1e-3) -> tuple[float, float]:
    """Return (x, flops_of(x)) with flops_of(x) closest to ``target`` for x in [lo, hi]."""
    return _bisect(
        flops_of, target, lo, hi,
        midpoint=lambda a, b: (a * b) ** 0.5 if a > 0 else (a + b) / 2,  # d, w act ×-ively
        stop=lambda a, b, y: abs(y - target) <= rel_tol * target or b - a <= 1e-6 * b,
        iters=iters)


def solve_int(flops_of: Callable[[int], float], target: float, lo: int, hi: int,
              step: int = 1) -> tuple[int, float]:
    """Integer version over lo, lo+step, …, hi (e.g. image sizes in multiples of 4)."""
    grid = range(lo, hi + 1, step)
    i, value = _bisect(lambda i: flops_of(grid[i]), target, 0, len(grid) - 1,
                       midpoint=lambda a, b: (a + b) // 2 if b - a > 1 else None,
                       stop=lambda a, b, y: False, iters=len(grid))
    return grid[i], value


def match_image_size(net: Scalable, mult: Multipliers, ratio: float, lo: int | None = None,
                     hi: int | None = None, step: int = 1,
                     num_classes: int | None = None) -> tuple[int, float]:
    """The image size in lo, lo+step, …, hi (default: MIN_IMAGE_SIZE up to 4× the size at r)
    at which the network at (d, w) measures FLOPs closest to ``ratio`` × the baseline's, and
    that measured ratio. FLOPs jump where the size crosses a multiple of the total stride
    (every feature map grows by one row), so some ratios are unreachable by size alone."""
    base = baseline_counts(net, num_classes).flops
    lo = MIN_IMAGE_SIZE if lo is None else lo
    hi = max(4 * net.scaled_image_size(mult.resolution), 64) if hi is None else hi
    px, flops = solve_int(lambda s: measure(net, mult.depth, mult.width, s, num_classes).flops,
                          base * ratio, lo, hi, step=step)
    return px, flops / base


def match_ratio(net: Scalable, mult: Multipliers, ratio: float,
                num_classes: int | None = None) -> tuple[int, float, float]:
    """(image size, width, measured ratio) closest to ``ratio`` × the baseline's FLOPs: the image
    size first (:func:`match_image_size`); where the FLOPs staircase of image sizes has no step
    within ``MATCH_TOLERANCE``, the width is then solved too, within ±15% of w, at that size or
    one a few pixels away."""
    px, got = match_image_size(net, mult, ratio, num_classes=num_classes)
    if abs(got / ratio - 1) <= MATCH_TOLERANCE:
        return px, mult.width, got
    base = baseline_counts(net, num_classes).flops
    best = (abs(got / ratio - 1), px, mult.width, got)
    for size in (px, px - 4, px + 4):
        def flops_at(w: float, s: int = size) -> float:  # FLOPs at width w, this image size
            return measure(net, mult.depth, w, s, num_classes).flops

        w, flops = solve(flops_at, base * ratio, mult.width * 0.85, mult.width * 1.15, iters=12,
                         rel_tol=MATCH_TOLERANCE / 4)
        best = min(best, (abs(flops / base / ratio - 1), size, w, flops / base))
        if best[0] <= MATCH_TOLERANCE:
            break
    return best[1], best[2], best[3]
