"""The evidence behind a search's answer (docs/search.md, "Uncertainty").

For every candidate: mean, std and a 95% Student-t interval of its score over seeds; ``p_best``,
the probability that it is the best, from a bootstrap over seeds (each candidate's seed scores
resampled with replacement, the best mean of each replicate gets the vote, ties split it; a
fixed RNG seed makes it deterministic); the tied set, the candidates with p_best ≥ 0.05; and the
tie-breaks that choose within it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

TIE_P = 0.05  # a candidate with p_best ≥ this is statistically tied with the best
BOOTSTRAP_REPLICATES = 10_000
BOOTSTRAP_SEED = 0
TIE_BREAKS = ("balanced", "score", "params", "latency")


def t_interval(scores: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """mean ± t_{(1+level)/2, n−1} · s/√n; (nan, nan) with fewer than two scores."""
    from scipy.stats import t

    n = len(scores)
    if n < 2:
        return math.nan, math.nan
    mean, sd = float(np.mean(scores)), float(np.std(scores, ddof=1))
    half = float(t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def p_best(scores: Sequence[Sequence[float]], replicates: int = BOOTSTRAP_REPLICATES,
           seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """Bootstrap probability that each candidate has the highest mean score. Sums to 1."""
    if not scores:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    means = np.empty((replicates, len(scores)))
    for i, s in enumerate(scores):
        s = np.asarray(s, dtype=float)
        means[:, i] = s[rng.integers(0, len(s), size=(replicates, len(s)))].mean(1)
    best = means == means.max(1, keepdims=True)
    return (best / best.sum(1, keepdims=True)).mean(0)


def balance(alpha: float, beta: float, gamma: float) -> float:
    """How unevenly a candidate spends its FLOPs: the std of log α, 2·log β, 2·log γ (each
    dimension's share of log(α·β²·γ²)); 0 when depth, width and resolution grow FLOPs alike —
    the paper's argument for compound scaling (§3.2, Figure 4)."""
    return float(np.std([math.log(alpha), 2 * math.log(beta), 2 * math.log(gamma)]))


def tie_break(tied: list[dict], rule: str) -> dict:
    """Choose within the tied set (dicts with score_mean, alpha, beta, gamma, params,
    latency_ms): ``score`` the highest mean, ``balanced`` the most even (log α, 2 log β,
    2 log γ), ``params`` the fewest parameters, ``latency`` the lowest latency; a higher mean
    score breaks remaining ties."""
    keys = {
        "score": lambda c: 0.0,
        "balanced": lambda c: round(balance(c["alpha"], c["beta"], c["gamma"]), 9),
        "params": lambda c: c["params"],
        "latency": lambda c: c["latency_ms"],
    }
    primary = keys[rule]
    return min(tied, key=lambda c: (primary(c), -c["score_mean"], c["alpha"], c["beta"]))
