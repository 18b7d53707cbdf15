"""Solve for a multiplier whose *measured* FLOPs land closest to a target.

FLOPs are monotone (non-decreasing) in each of d, w and r but, after rounding, piecewise
constant, so a bisection narrows the bracket and the closest of the evaluated points wins.
"""

from __future__ import annotations

from collections.abc import Callable


def solve(flops_of: Callable[[float], float], target: float, lo: float, hi: float,
          iters: int = 40, rel_tol: float = 1e-3) -> tuple[float, float]:
    """Return (x, flops_of(x)) with flops_of(x) closest to ``target`` for x in [lo, hi]."""
    seen: dict[float, float] = {}

    def f(x: float) -> float:
        if x not in seen:
            seen[x] = flops_of(x)
        return seen[x]

    a, b = lo, hi
    if f(a) < target < f(b):
        for _ in range(iters):
            mid = (a * b) ** 0.5 if a > 0 else (a + b) / 2  # multipliers act multiplicatively
            if f(mid) < target:
                a = mid
            else:
                b = mid
            if abs(f(mid) - target) <= rel_tol * target or b - a <= 1e-6 * b:
                break
    best = min(seen, key=lambda x: (abs(seen[x] - target), x))
    return best, seen[best]


def solve_int(flops_of: Callable[[int], float], target: float, lo: int, hi: int,
              step: int = 1) -> tuple[int, float]:
    """Integer version over lo, lo+step, …, hi (e.g. image sizes in multiples of 4)."""
    grid = list(range(lo, hi + 1, step))
    seen: dict[int, float] = {}

    def f(i: int) -> float:
        if grid[i] not in seen:
            seen[grid[i]] = flops_of(grid[i])
        return seen[grid[i]]

    a, b = 0, len(grid) - 1
    while b - a > 1 and f(a) < target < f(b):
        mid = (a + b) // 2
        if f(mid) < target:
            a = mid
        else:
            b = mid
    f(a), f(b)
    best = min(seen, key=lambda x: (abs(seen[x] - target), x))
    return best, seen[best]
