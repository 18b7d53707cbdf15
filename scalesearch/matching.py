"""Solve for a multiplier whose *measured* FLOPs land closest to a target.

FLOPs are monotone (non-decreasing) in each of d, w and r but, after rounding, piecewise
constant, so a bisection narrows the bracket and the closest of the evaluated points wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

X = TypeVar("X", int, float)
# A matched network's measured FLOPs ratio is within ±3% of its target whenever some value of
# the knob gets there (scale --match-flops, the search's matched candidates, compare's rows).
MATCH_TOLERANCE = 0.03


def _bisect(flops_of: Callable[[X], float], target: float, lo: X, hi: X,
            midpoint: Callable[[X, X], X | None], stop: Callable[[X, X, float], bool],
            iters: int) -> tuple[X, float]:
    """Bisect [lo, hi] while f(a) < target < f(b) (``midpoint`` None: nothing left between;
    ``stop(a, b, f(mid))``: close enough); return the evaluated point closest to ``target``
    (ties: the smaller one) and its value."""
    seen: dict[X, float] = {}

    def f(x: X) -> float:
        if x not in seen:
            seen[x] = flops_of(x)
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
