"""The evidence behind a search's answer (docs/search.md, "Uncertainty").

Noise model: the candidates of one search share one training noise. A candidate's seed scores
are its true score plus noise of one variance σ², estimated pooled over the candidates (the
within-group mean square of a one-way ANOVA, df = Σ(nᵢ − 1)). From it, per candidate: a 95%
Student-t interval x̄ᵢ ± t_{df}·s/√nᵢ, and ``p_best``, the probability that it has the highest
true score under that model (flat prior: each true score is x̄ᵢ + s/√nᵢ·Zᵢ·√(df/χ²_df), one χ²
per draw for the shared σ), estimated by Monte Carlo. The tied set is the candidates with
p_best ≥ :data:`TIE_P`, and the tie-breaks choose within it.

Every figure is a function of the set of (candidate, scores) alone: each candidate's draws come
from a generator keyed by its identity, so listing the candidates in another order (the order
in which trials arrived) changes nothing.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

# a candidate with p_best ≥ this is statistically tied with the best: the threshold whose tied
# set holds the true best in ≥ 90% of simulated searches under every noise measured on the
# committed replicates (benchmarks/bench_calibration.py --measured; 0.05 missed it on three)
TIE_P = 0.02
OLD_TIE_P = 0.05  # a best.json written before it stored ``tie_p`` drew its tied set at this
# p_best's noise per candidate in the search (ranking, rung evidence): the larger of the pooled
# sd and its own, so a candidate whose seeds disagree (bimodal seeds) is not narrowed by quiet
# ones — calibrated in more simulated settings than the pooled sd alone and the same answers on
# every committed replicate (docs/search.md, "Is it calibrated?")
SEARCH_OWN_SD = True
DRAWS = 10_000  # Monte Carlo draws of p_best
DRAW_SEED = 0


def pooled_sd(groups: Sequence[Sequence[float]]) -> tuple[float, int]:
    """(s, df): the pooled within-group standard deviation √(Σᵢⱼ(xᵢⱼ − x̄ᵢ)² / df) and its
    degrees of freedom df = Σ(nᵢ − 1); (nan, 0) when no group has two scores."""
    df = sum(len(g) - 1 for g in groups if len(g))
    if df <= 0:
        return math.nan, 0
    ss = sum(float(np.sum((np.asarray(g, float) - np.mean(g)) ** 2)) for g in groups if len(g))
    return math.sqrt(ss / df), df


def pooled_interval(mean: float, n: int, sd: float, df: int,
                    level: float = 0.95) -> tuple[float, float]:
    """mean ± t_{(1+level)/2, df} · sd/√n, the pooled noise's interval; (nan, nan) when the
    noise is unmeasured (df = 0) or the candidate has no score."""
    from scipy.special import stdtrit  # = scipy.stats.t.ppf, without scipy.stats' 2 s import

    if df <= 0 or n <= 0:
        return math.nan, math.nan
    half = float(stdtrit(df, (1 + level) / 2)) * sd / math.sqrt(n)
    return mean - half, mean + half


def t_interval(scores: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """One candidate's own interval, mean ± t_{(1+level)/2, n−1} · s/√n (the pooled model with
    a single group); (nan, nan) with fewer than two scores."""
    sd, df = pooled_sd([scores])
    return pooled_interval(float(np.mean(scores)) if len(scores) else math.nan, len(scores),
                           sd, df, level)


def _identity_seed(key: Hashable) -> int:
    """A stable 32-bit number for a candidate key (floats rounded as trials.csv stores them)."""
    if isinstance(key, tuple):
        key = tuple(round(float(x), 6) if isinstance(x, int | float | np.number) else x
                    for x in key)
    return zlib.crc32(repr(key).encode())


def p_best(scores: Mapping[Any, Sequence[float]], draws: int = DRAWS,
           seed: int = DRAW_SEED, own_sd: bool = False) -> dict[Hashable, float] | None:
    """Per candidate key, the probability that its true score is the highest (module
    docstring); sums to 1, exact ties split the vote. None when the noise is unmeasured (no
    candidate has two scores). ``own_sd``: each candidate's noise is the larger of the pooled
    sd and its own (what the search uses: :data:`SEARCH_OWN_SD`; benchmarks/bench_calibration.py
    measures both)."""
    keys = [k for k, v in scores.items() if len(v)]
    sd, df = pooled_sd([scores[k] for k in keys])
    if df == 0:
        return None
    if not keys:
        return {}
    shared = np.sqrt(df / np.random.default_rng([seed, 0]).chisquare(df, draws))
    means = np.empty((draws, len(keys)))
    for i, k in enumerate(keys):
        z = np.random.default_rng([seed, 1, _identity_seed(k)]).standard_normal(draws)
        s = max(sd, float(np.std(scores[k], ddof=1))) if own_sd and len(scores[k]) > 1 else sd
        means[:, i] = np.mean(scores[k]) + s / math.sqrt(len(scores[k])) * z * shared
    best = means == means.max(1, keepdims=True)
    p = (best / best.sum(1, keepdims=True)).mean(0)
    return {k: float(v) for k, v in zip(keys, p, strict=True)}


def balance(alpha: float, beta: float, gamma: float) -> float:
    """How unevenly a candidate spends its FLOPs: the std of log α, 2·log β, 2·log γ (each
    dimension's share of log(α·β²·γ²)); 0 when depth, width and resolution grow FLOPs alike —
    the paper's argument for compound scaling (§3.2, Figure 4)."""
    return float(np.std([math.log(alpha), 2 * math.log(beta), 2 * math.log(gamma)]))


def tie_break(tied: list[dict], rule: str) -> dict:
    """Choose within the tied set (dicts with score_mean, p_best, alpha, beta, gamma, params,
    latency_ms): ``p_best`` the most likely to be best (the default), ``score`` the highest
    mean, ``balanced`` the most even (log α, 2 log β, 2 log γ), ``params`` the fewest
    parameters, ``latency`` the lowest latency; a higher mean score breaks remaining ties."""
    keys = {
        "p_best": lambda c: -c["p_best"] if c["p_best"] == c["p_best"] else 0.0,  # NaN: none
        "score": lambda c: 0.0,
        "balanced": lambda c: round(balance(c["alpha"], c["beta"], c["gamma"]), 9),
        "params": lambda c: c["params"],
        "latency": lambda c: c["latency_ms"],
    }
    primary = keys[rule]
    return min(tied, key=lambda c: (primary(c), -c["score_mean"], c["alpha"], c["beta"]))
