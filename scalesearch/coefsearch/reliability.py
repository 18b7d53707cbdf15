"""How reproducible a search's ranking is (docs/search.md, "Reliability").

Two figures over the candidates' seed scores, each a function of the set of (candidate, seed,
score) alone:

* **seed-split Kendall τ** — rank the candidates by each training seed alone and compare the
  rankings: with 2 seeds, τ-b between seed 0's and seed 1's scores over the candidates that
  have both; with more, the mean τ over every pair of seeds. Its 95% interval is a percentile
  bootstrap over candidates (candidates drawn with replacement, in a canonical order, from a
  fixed seed).
* **one-way ANOVA** of score on candidate — F = MS_between / MS_within with its p-value, and
  the intraclass correlation ICC(1) = (MSB − MSW) / (MSB + (n₀ − 1)·MSW): the share of the
  score variance that lies between candidates.

The verdict: **ranks reproducibly** when τ's interval lies above 0 and the ANOVA's p < 0.05;
**does not rank** when τ's interval reaches 0 and p ≥ 0.05, or when every candidate's mean is
within its noise of chance; **cannot tell** otherwise; **unmeasured** with one seed or fewer
than 5 candidates (:data:`MIN_CANDIDATES`). A rung is *rankable* (successive halving may
cut there) only when τ's interval lies above 0 and the means are not all within noise of chance.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

import numpy as np

from scalesearch.coefsearch.stats import pooled_interval, pooled_sd

REPLICATES, BOOTSTRAP_SEED = 2000, 0  # τ's bootstrap over candidates
MIN_CANDIDATES = 5  # below, a bootstrap over candidates has too few distinct draws to speak
SIGNIFICANCE = 0.05
VERDICTS = {
    "ranks reproducibly": "ranks reproducibly",
    "cannot tell": "cannot tell: the seeds neither confirm nor refute the order",
    "does not rank": "does not rank: the winner is a coin flip; spend more per candidate",
    "unmeasured": "unmeasured: one seed (or under 5 candidates) cannot test the order",
}

SeedTable = Mapping[Any, Mapping[int, float]]  # candidate → {seed: score}
K = TypeVar("K", bound=Hashable)


def in_seed_order(table: Mapping[K, Mapping[int, float]]) -> dict[K, list[float]]:
    """{candidate: {seed: score}} as {candidate: its scores in seed order}."""
    return {k: [v[s] for s in sorted(v)] for k, v in table.items()}


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's τ-b: Σ sign(Δx)·sign(Δy) over pairs / √(pairs untied in x · pairs untied in
    y); nan when either side is constant (scipy.stats.kendalltau's statistic)."""
    sx = np.sign(x[:, None] - x[None, :])
    sy = np.sign(y[:, None] - y[None, :])
    denom = math.sqrt(float(np.abs(sx).sum()) * float(np.abs(sy).sum()))
    return float((sx * sy).sum() / denom) if denom else math.nan


def _matrix(table: SeedTable) -> np.ndarray:
    """Candidates (canonical order) × seeds, nan where a candidate lacks a seed."""
    seeds = sorted({s for v in table.values() for s in v})
    keys = sorted(table, key=repr)
    return np.array([[table[k].get(s, math.nan) for s in seeds] for k in keys], float)


def _seed_tau(m: np.ndarray) -> float:
    """The mean τ-b over seed pairs, each over the candidates that have both seeds (≥ 3)."""
    taus = []
    for a, b in itertools.combinations(range(m.shape[1]), 2):
        both = ~np.isnan(m[:, a]) & ~np.isnan(m[:, b])
        if both.sum() >= 3:
            tau = kendall_tau_b(m[both, a], m[both, b])
            if tau == tau:
                taus.append(tau)
    return float(np.mean(taus)) if taus else math.nan


def seed_tau(table: SeedTable, replicates: int = REPLICATES,
             seed: int = BOOTSTRAP_SEED) -> tuple[float, tuple[float, float]]:
    """(τ, its 95% bootstrap interval over candidates) (module docstring)."""
    m = _matrix(table)
    if m.ndim < 2 or m.shape[1] < 2 or len(m) < MIN_CANDIDATES:
        return math.nan, (math.nan, math.nan)
    tau = _seed_tau(m)
    if tau != tau:
        return math.nan, (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    boot = [_seed_tau(m[rng.integers(0, len(m), len(m))]) for _ in range(replicates)]
    boot = [t for t in boot if t == t]  # a draw of one distinct candidate has no τ
    lo, hi = np.percentile(boot, [2.5, 97.5]) if boot else (math.nan, math.nan)
    return tau, (float(lo), float(hi))


def anova(groups: list[list[float]]) -> dict:
    """One-way ANOVA of score on candidate: f, p (scipy.stats.f_oneway's), icc (ICC(1) with
    the unbalanced n₀), df_between, df_within."""
    from scipy.special import fdtrc  # = scipy.stats.f.sf, without scipy.stats' import

    groups = [g for g in groups if len(g)]
    k, n = len(groups), sum(map(len, groups))
    msw, dfw = pooled_sd(groups)
    out = dict(f=math.nan, p=math.nan, icc=math.nan, df_between=k - 1, df_within=dfw)
    if k < 2 or dfw == 0:
        return out
    grand = float(np.mean(np.concatenate(groups)))
    msb = sum(len(g) * (np.mean(g) - grand) ** 2 for g in groups) / (k - 1)
    msw = msw**2
    n0 = (n - sum(len(g) ** 2 for g in groups) / n) / (k - 1)
    if msw == 0:
        f, p = (math.inf, 0.0) if msb > 0 else (math.nan, math.nan)
    else:
        f = float(msb / msw)
        p = float(fdtrc(k - 1, dfw, f))
    icc = (msb - msw) / (msb + (n0 - 1) * msw) if msb + (n0 - 1) * msw > 0 else math.nan
    return dict(out, f=float(f), p=p, icc=float(icc))


def near_chance(groups: list[list[float]], chance: float | None) -> bool:
    """True when every candidate's pooled 95% interval reaches down to ``chance``."""
    groups = [g for g in groups if len(g)]
    sd, df = pooled_sd(groups)
    if chance is None or df == 0 or not groups:
        return False
    return all(pooled_interval(float(np.mean(g)), len(g), sd, df)[0] <= chance for g in groups)


def reliability(table: SeedTable, chance: float | None = None,
                top1: SeedTable | None = None) -> dict:
    """τ with its interval, the ANOVA (f, p, icc), the pooled noise (noise_sd, df), whether
    every mean is near ``chance``, the verdict (a key of :data:`VERDICTS`) and ``rankable``;
    ``top1``: the val top-1 of the same trainings where ``table`` ranks another value
    (``--metric sotl``: trials.csv's own_score), which is what ``chance`` is checked on."""
    scores = in_seed_order(table)
    groups = [scores[k] for k in sorted(table, key=repr)]
    tau, (lo, hi) = seed_tau(table)
    a = anova(groups)
    sd, df = pooled_sd(groups)
    chance_only = near_chance(groups if top1 is None else list(in_seed_order(top1).values()),
                              chance)
    if tau != tau:
        verdict = "unmeasured"
    elif chance_only or (not lo > 0 and not a["p"] < SIGNIFICANCE):
        verdict = "does not rank"
    elif lo > 0 and a["p"] < SIGNIFICANCE:
        verdict = "ranks reproducibly"
    else:
        verdict = "cannot tell"
    return dict(candidates=len(groups), seeds=max(map(len, groups), default=0), tau=tau,
                tau_ci95=[lo, hi], anova_f=a["f"], anova_p=a["p"], icc=a["icc"],
                noise_sd=sd, df=df, chance=chance, near_chance=chance_only,
                chance_on="ranked" if top1 is None else "own_score", verdict=verdict,
                rankable=verdict != "unmeasured" and bool(lo > 0) and not chance_only)


def describe(r: dict) -> str:
    """One line: τ [interval], ICC, ANOVA p, and the verdict's sentence."""
    if r["verdict"] == "unmeasured":
        return VERDICTS["unmeasured"]
    lo, hi = r["tau_ci95"]
    return (f"seed-split τ = {r['tau']:.2f} [{lo:.2f}, {hi:.2f}] over {r['candidates']} "
            f"candidates × {r['seeds']} seeds, ICC = {r['icc']:.2f} (ANOVA p = "
            f"{r['anova_p']:.2g}): {VERDICTS[r['verdict']]}"
            + (f" (every {'val top-1' if r.get('chance_on') == 'own_score' else 'mean'} is "
               f"within noise of chance, {r['chance']:.1f}%)" if r["near_chance"] else ""))
