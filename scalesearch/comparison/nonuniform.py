"""Non-uniform depth: later stages get more layers than early ones (EfficientNetV2, Tan & Le
2021, §4.2 "gradually add more layers to later stages").

EfficientNetV2 does not publish a formula, so scalesearch uses this one: for an overall depth
multiplier d and a network of n stages, stage i (1 … n) is deepened by

    d_i = d^(2(i − 1) / (n − 1))        (d_1 = 1, …, d_n = d²; one stage: d_1 = d)

whose geometric mean over the stages is d (the exponents average to 1): the first stage keeps
its layers, the last grows by d². Repeats are rounded to the nearest integer,
max(1, round(d_i · layers_i)) (pycls's rule): the reference ceil would add a block to every
stage as soon as d_i > 1 and so erase the non-uniformity at small d. It needs per-stage
repeats, so it applies to stage-table baselines only.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

from scalesearch.errors import ScalesearchError
from scalesearch.scaling.scalable import Scalable, TableBaseline


def stage_depths(n: int, depth: float) -> list[float]:
    """Per-stage depth multipliers d_i = d^(2(i−1)/(n−1)), i = 1 … n."""
    if n == 1:
        return [depth]
    return [depth ** (2 * i / (n - 1)) for i in range(n)]


def round_half_up(x: float) -> int:
    """Nearest integer, halves up (Python's round() would send 2.5 to 2), at least 1; the
    product is rounded to 1e-9 first so float noise does not move a block."""
    return max(1, math.floor(round(x, 9) + 0.5))


def check_table(baseline: Scalable) -> TableBaseline:
    """``baseline`` as a stage-table baseline; refused otherwise (nonuniform needs
    per-stage repeats)."""
    if not isinstance(baseline, TableBaseline):
        raise ScalesearchError(f"nonuniform scaling needs per-stage repeats: {baseline.name} is "
                               "not a stage-table baseline (write it as a StageTable, or use "
                               "another strategy)")
    return baseline


@lru_cache(maxsize=1024)
def nonuniform_baseline(baseline: Scalable, depth: float) -> TableBaseline:
    """``baseline`` with its per-stage repeats deepened non-uniformly by ``depth``; build it
    at depth 1 (memoised, so the FLOPs counter's cache sees one object per depth)."""
    table = check_table(baseline).table
    mults = stage_depths(len(table.stages), depth)
    stages = tuple(replace(s, repeats=round_half_up(s.repeats * m))
                   for s, m in zip(table.stages, mults, strict=True))
    return TableBaseline(replace(table, stages=stages), description=baseline.description)


def with_repeats(baseline: Scalable, repeats: list[int]) -> TableBaseline:
    """``baseline`` with the given per-stage repeats (rebuilds a nonuniform network from the
    ``stage_repeats`` column of compare.csv)."""
    table = check_table(baseline).table
    if len(repeats) != len(table.stages) or min(repeats) < 1:
        raise ScalesearchError(f"{baseline.name} has {len(table.stages)} stages; got repeats "
                               f"{repeats}")
    stages = tuple(replace(s, repeats=r) for s, r in zip(table.stages, repeats, strict=True))
    return TableBaseline(replace(table, stages=stages), description=baseline.description)


def repeats_text(baseline: TableBaseline) -> str:
    """Per-stage repeats as ``1-2-3-4-3-3-1`` (one CSV cell)."""
    return "-".join(str(s.repeats) for s in baseline.table.stages)


def parse_repeats(text: str) -> list[int]:
    """Inverse of :func:`repeats_text`: ``"1-2-3"`` → [1, 2, 3]."""
    return [int(x) for x in str(text).split("-")]
