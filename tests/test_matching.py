"""The one bisection behind solve (real multipliers) and solve_int (image sizes)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from scalesearch.scaling.matching import solve, solve_int

# A non-decreasing, piecewise-constant "FLOPs" curve, like a rounded network's.
steps = st.tuples(st.floats(1.0, 50.0), st.floats(0.5, 3.0))


def _curve(scale: float, power: float):
    return lambda x: math.ceil(scale * x**power)


@settings(max_examples=200, deadline=None)
@given(steps, st.integers(8, 64), st.integers(1, 300), st.sampled_from([1, 4, 8]),
       st.floats(0.0, 400.0))
def test_solve_int_finds_the_closest_value_on_the_grid(curve, lo, span, step, target):
    f = _curve(*curve)
    grid = range(lo, lo + span + 1, step)
    size, value = solve_int(f, target, grid[0], grid[-1], step=step)
    assert size in grid and value == f(size)
    assert abs(value - target) == min(abs(f(g) - target) for g in grid)


@settings(max_examples=200, deadline=None)
@given(steps, st.floats(0.0, 500.0))
def test_solve_finds_the_closest_step_of_the_curve(curve, target):
    f = _curve(*curve)
    x, value = solve(f, target, 1.0, 4.0, iters=60, rel_tol=0.0)
    assert 1.0 <= x <= 4.0 and value == f(x)
    reachable = {f(1.0 + 3.0 * i / 20000) for i in range(20001)}
    assert abs(value - target) <= min(abs(v - target) for v in reachable)


def test_solve_stops_within_the_relative_tolerance():
    calls = []
    x, value = solve(lambda x: calls.append(x) or 100 * x, 250.0, 1.0, 4.0, rel_tol=1e-2)
    assert abs(value - 250) <= 2.5 and len(calls) < 15
