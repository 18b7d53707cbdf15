"""Judge a search by its answer (docs/search.md, "Judging the answer"): a search's pick against
a long **reference** run of the same candidates on the same data.

The reference pools every training of its runs (≥ 4 seeds per candidate). Its noise is the
pooled within-candidate standard deviation s (:func:`~.stats.pooled_sd`); its **tied set** is
every candidate whose mean is within two standard errors of a difference of the best's:
x̄_best − x̄ᵢ ≤ 2·s·√(1/n_best + 1/nᵢ). Against it, a replicate of a search gives: whether its
pick lies in the reference's tied set, whether the reference's best lies in the replicate's
own tied set, the **regret** (reference points the pick loses to the reference's best), and
Kendall τ between the replicate's candidate means and the reference's. Over replicates: the
fraction of picks in the tied set with its Clopper–Pearson interval, median and 90th-percentile
regret.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from scalesearch.coefsearch.reliability import kendall_tau_b
from scalesearch.coefsearch.space import Candidate
from scalesearch.coefsearch.stats import pooled_sd
from scalesearch.util.status import Status

Key = tuple[float, float, float]
SE_TIED = 2.0  # the reference's tied set: within this many standard errors of a difference


def final_scores(rows: Iterable[Mapping]) -> dict[Key, list[float]]:
    """Per candidate, the scores of the trainings that finished (status ok) at the most epochs
    any of its trainings reached — a scheduler's stopped trainings are not final scores."""
    done = [(Candidate.key_of(r), int(r.get("epochs") or 0), float(r["top1"])) for r in rows
            if r["status"] == Status.OK and r.get("top1") is not None]
    top: dict[Key, int] = {}
    for k, epochs, _ in done:
        top[k] = max(top.get(k, 0), epochs)
    out: dict[Key, list[float]] = {}
    for k, epochs, score in done:
        if epochs == top[k]:
            out.setdefault(k, []).append(score)
    return out


@dataclass(frozen=True)
class Reference:
    """A long run's per-candidate means, its pooled noise and its tied set (module docstring)."""

    means: dict[Key, float]
    seeds: dict[Key, int]
    noise_sd: float
    df: int
    best: Key
    tied: frozenset[Key]

    @classmethod
    def of(cls, scores: Mapping[Key, list[float]]) -> Reference:
        """From every finished training of the reference's runs, pooled per candidate."""
        scores = {k: v for k, v in scores.items() if v}
        if not scores:
            raise ValueError("the reference has no finished training")
        sd, df = pooled_sd(list(scores.values()))
        if df == 0:
            raise ValueError("the reference needs two or more seeds of some candidate")
        means = {k: float(np.mean(v)) for k, v in scores.items()}
        best = max(means, key=lambda k: (means[k], k))
        n = {k: len(v) for k, v in scores.items()}
        tied = frozenset(k for k in means if means[best] - means[k]
                         <= SE_TIED * sd * math.sqrt(1 / n[best] + 1 / n[k]))
        return cls(means, n, sd, df, best, tied)

    def regret(self, pick: Key) -> float:
        """Reference points the pick loses to the reference's best (NaN if not in it)."""
        return self.means[self.best] - self.means[pick] if pick in self.means else math.nan


def tau(means: Mapping[Key, float], ref: Reference) -> float:
    """Kendall τ-b between a replicate's candidate means and the reference's, over the
    candidates both have (NaN below 3)."""
    common = sorted(k for k in means if k in ref.means and means[k] == means[k])
    if len(common) < 3:
        return math.nan
    return kendall_tau_b(np.array([means[k] for k in common]),
                         np.array([ref.means[k] for k in common]))


def judge(pick: Key, tied: Iterable[Key], means: Mapping[Key, float], ref: Reference) -> dict:
    """One replicate against the reference: pick_in_tied, best_in_tied (the reference's best
    in the replicate's own tied set), regret, tau."""
    return dict(pick=list(pick), pick_in_tied=pick in ref.tied,
                best_in_tied=ref.best in set(tied), regret=ref.regret(pick),
                tau=tau(means, ref))


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) interval of a binomial proportion k/n."""
    from scipy.special import betaincinv  # = scipy.stats.beta.ppf

    if n == 0:
        return math.nan, math.nan
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, a))
    hi = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1 - a))
    return lo, hi


def summarize(judged: list[dict]) -> dict:
    """Over replicates: picks in the reference's tied set (k of n, its 95% Clopper–Pearson
    interval), the reference's best in the replicates' tied sets, median and 90th-percentile
    regret, median τ."""
    n = len(judged)
    k = sum(j["pick_in_tied"] for j in judged)
    regrets = [j["regret"] for j in judged if j["regret"] == j["regret"]]
    taus = [j["tau"] for j in judged if j["tau"] == j["tau"]]
    return dict(replicates=n, in_tied=k, in_tied_ci95=list(clopper_pearson(k, n)),
                best_in_tied=sum(j["best_in_tied"] for j in judged),
                regret_median=float(np.median(regrets)) if regrets else math.nan,
                regret_p90=float(np.percentile(regrets, 90)) if regrets else math.nan,
                tau_median=float(np.median(taus)) if taus else math.nan)
