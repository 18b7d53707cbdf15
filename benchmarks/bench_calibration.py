"""Is the search's tied set calibrated? Simulated searches with a known truth (issue 36 §4;
docs/search.md, "The pooled model").

The candidates are the 13 of the committed 40-minute reference
(``studies/results/search_b0_embedded_budget40m``, 4 seeds pooled). Their true scores are either
the reference's own means (not smooth: the two high-resolution candidates lead by 20 points), a
smooth surface, the quadratic in (log α, 2·log β) fitted to those means, or that surface
flattened (its drops from the top ÷ 4, so that the best has close neighbours). The noise is gaussian
with the reference's pooled seed sd over the candidates without the bimodal seeds, or
**bimodal**: as the embedded data's high-resolution candidates (γ ≥ 1.35) score 47–54% with some
seeds and 78–87% with others, their seeds are the true score ∓ 15 points with probability ½
each, plus the gaussian noise. Each simulated search trains every candidate with 2 seeds.

**Measured noise** (``--measured``): no model of the noise at all. The truth is each candidate's
mean over the seeds of committed replicates of one plan (``studies/results/answer/``: 10–20
seeds per candidate), ranked by the score the search ranks (the default's ``sotl`` from a zeroed
head, or top-1), and a simulated search draws two of each candidate's own seeds (without
replacement; their deviations from its mean, scaled by √(n/(n−1)) so that they have its
variance): the noise the search meets, bimodal or skewed where it is, with the near ties the
plans really have.

Per setting and method — (a) the per-candidate p_best of :mod:`scalesearch.coefsearch.stats`,
(b) the pooled model of :mod:`scalesearch.coefsearch.surface`, (c) the per-candidate p_best
with each candidate's noise the larger of the pooled sd and its own (``own_sd``: a candidate
whose seeds disagree is not narrowed by the others) — it prints how often the tied set
(p_best ≥ stats.TIE_P, or ``--tie-p``) contains the true best, with its Clopper–Pearson 95%
interval, the tied set's mean size, how often the pick (highest p_best) is the true best, and
the pick's regret (true points below the true best): median and 90th percentile. Everything is
seeded: a rerun prints the same table.

    python benchmarks/bench_calibration.py [--sims 500] [--seeds 2 3 4 …]
                                           [--noise gaussian bimodal] [--measured]
                                           [--tie-p 0.05 0.02 …] [--quick]

``--quick`` (40 simulations) only checks that the benchmark runs.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_answer import scored_rows

from scalesearch.coefsearch.judge import final_scores
from scalesearch.coefsearch.stats import TIE_P, p_best, pooled_sd
from scalesearch.coefsearch.surface import coords, design, fit
from scalesearch.coefsearch.trials import TrialStore

ROOT = Path(__file__).resolve().parents[1]
ANSWER = ROOT / "studies/results/answer"
REFERENCE = ROOT / "studies/results/search_b0_embedded_budget40m"
KEY = ["alpha", "beta", "gamma"]
JUMP = 30.0  # bimodal: a high-resolution seed lands JUMP/2 above or below its true score
HIGH_RES = 1.35  # γ from which the embedded data's seeds are bimodal
SEEDS = 2
FLATTEN = 4.0  # "smooth, flat": the smooth surface's drops from its top ÷ this (near ties)
NOISES = ("gaussian", "bimodal")
METHODS = ("per-candidate", "pooled model", "own sd if larger")
# --measured: (replicates' folder under studies/results/answer, the score ranked); the default's
# score at the README main job's plan first
MEASURED = (("synthetic/head-zero/3m", "sotl"), ("synthetic/head-zero/8m", "sotl"),
            ("flower_photos/head-zero", "sotl"), ("caltech101_10/head-zero", "sotl"),
            ("synthetic/today/3m", "top1"), ("synthetic/today/8m", "top1"),
            ("synthetic/head-zero/8m", "top1"), ("flower_photos/today", "top1"))


def reference_scores() -> dict[tuple, list[float]]:
    """{(α, β, γ): the reference's seed scores} (both 40m runs, 4 seeds)."""
    rows = pd.concat([pd.read_csv(REFERENCE / "trials.csv"),
                      pd.read_csv(REFERENCE / "seeds2-3" / "trials.csv")])
    rows = rows[rows["status"] == "ok"]
    return {tuple(float(x) for x in k): g["top1"].tolist() for k, g in rows.groupby(KEY)}


def truths(ref: dict[tuple, list[float]]) -> dict[str, dict[tuple, float]]:
    """The two true surfaces over the reference's candidates (module docstring)."""
    means = {k: float(np.mean(v)) for k, v in ref.items()}
    x = design(np.array([coords(k[0], k[1]) for k in means]), 6)
    coef = np.linalg.lstsq(x, np.array(list(means.values())), rcond=None)[0]
    smooth = x @ coef
    flat = smooth.max() + (smooth - smooth.max()) / FLATTEN
    return {"smooth": dict(zip(means, (float(v) for v in smooth), strict=True)),
            "smooth, flat": dict(zip(means, (float(v) for v in flat), strict=True)),
            "reference": means}


def noise_sd(ref: dict[tuple, list[float]]) -> float:
    """The pooled seed sd of the candidates whose seeds are not bimodal."""
    return pooled_sd([v for k, v in ref.items() if k[2] < HIGH_RES])[0]


def measured_scores(folder: str, score: str) -> dict[tuple, np.ndarray]:
    """{(α, β, γ): every final score of the replicates under ``ANSWER/folder``} ranked by
    ``score`` (negated where lower is better: bench_answer's scored_rows)."""
    rows = [r for f in sorted((ANSWER / folder).glob("r*/trials.csv"))
            for r in scored_rows(TrialStore(f).rows, score)]
    return {k: np.array(v, float) for k, v in final_scores(rows).items()}


def draw(truth: dict[tuple, float], noise: str, sd: float, rng: np.random.Generator,
         seeds: int = SEEDS) -> dict[tuple, list[float]]:
    """One simulated search's seed scores."""
    out = {}
    for k, mu in truth.items():
        x = mu + sd * rng.standard_normal(seeds)
        if noise == "bimodal" and k[2] >= HIGH_RES:
            x += JUMP * (rng.integers(0, 2, seeds) - 0.5)
        out[k] = [float(v) for v in x]
    return out


def resample(measured: dict[tuple, np.ndarray], rng: np.random.Generator,
             seeds: int = SEEDS) -> dict[tuple, list[float]]:
    """One simulated search under measured noise: per candidate, its mean plus ``seeds`` of its
    own seeds' deviations, drawn without replacement and scaled to its variance."""
    out = {}
    for k, x in measured.items():
        dev = (x - x.mean()) * np.sqrt(len(x) / (len(x) - 1))
        out[k] = [float(v) for v in x.mean() + rng.choice(dev, seeds, replace=False)]
    return out


def judge(p: dict, means: dict, truth: dict[tuple, float],
          tie_p: float = TIE_P) -> tuple[bool, int, bool, float]:
    """(true best in the tied set, tied set size, pick is the true best, regret) of one
    method's p_best; the pick is the highest p_best, a higher mean breaking ties (as
    ``--tie-break p_best``)."""
    best = max(truth, key=truth.__getitem__)
    tied = [k for k in p if p[k] >= tie_p]
    pick = max(tied, key=lambda k: (p[k], means[k]))
    return best in tied, len(tied), pick == best, truth[best] - truth[pick]


def simulate(truth: dict[tuple, float], noise: str | dict, sd: float, sims: int, seed: int = 0,
             seeds: int = SEEDS, tie_p: float = TIE_P) -> dict[str, np.ndarray]:
    """Per method, an array of judge()'s four figures per simulated search; ``noise`` a name
    of :data:`NOISES` (with ``sd``) or the measured seeds that :func:`resample` draws from."""
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {m: [] for m in METHODS}
    for _ in range(sims):
        scores = (draw(truth, noise, sd, rng, seeds) if isinstance(noise, str)
                  else resample(noise, rng, seeds))
        means = {k: float(np.mean(v)) for k, v in scores.items()}
        per, own = p_best(scores), p_best(scores, own_sd=True)
        model = fit(scores, point=False)
        assert per is not None and own is not None and model is not None
        out["per-candidate"].append(judge(per, means, truth, tie_p))
        out["pooled model"].append(judge(model.p_best, model.mean, truth, tie_p))
        out["own sd if larger"].append(judge(own, means, truth, tie_p))
    return {m: np.array(v, float) for m, v in out.items()}


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact binomial interval of k successes in n."""
    from scipy.stats import beta

    a = (1 - level) / 2
    lo = float(beta.ppf(a, k, n - k + 1)) if k else 0.0
    hi = float(beta.ppf(1 - a, k + 1, n - k)) if k < n else 1.0
    return lo, hi


def settings(noises: tuple[str, ...] = NOISES, measured: bool = False):
    """(truth's name, noise's name, truth, noise for :func:`simulate`, sd, simulation seed) of
    every setting: the simulated ones, then (``measured``) the replicates' (module docstring)."""
    ref = reference_scores()
    sd = noise_sd(ref)
    for t, (name, truth) in enumerate(truths(ref).items()):
        for n, noise in enumerate(NOISES):
            if noise in noises:
                yield name, noise, truth, noise, sd, 100 * t + n
    for m, (folder, score) in enumerate(MEASURED if measured else ()):
        seeds = measured_scores(folder, score)
        truth = {k: float(v.mean()) for k, v in seeds.items()}
        n = min(len(v) for v in seeds.values())
        yield f"{folder} ({score})", f"its seeds (≥ {n})", truth, seeds, math.nan, 1000 + m


def table(sims: int, seeds: int = SEEDS, noises: tuple[str, ...] = NOISES,
          measured: bool = False, tie_p: float = TIE_P) -> list[dict]:
    """Every (truth, noise, method) row of the calibration table."""
    rows = []
    for name, noise_name, truth, noise, sd, seed in settings(noises, measured):
        found = simulate(truth, noise, sd, sims, seed, seeds, tie_p)
        for method, r in found.items():
            k = int(r[:, 0].sum())
            lo, hi = clopper_pearson(k, sims)
            rows.append(dict(truth=name, noise=noise_name, method=method, seeds=seeds,
                             sims=sims, tie_p=tie_p, coverage=k / sims, ci_lo=lo, ci_hi=hi,
                             tied_size=float(r[:, 1].mean()), pick_true=float(r[:, 2].mean()),
                             regret_median=float(np.median(r[:, 3])),
                             regret_p90=float(np.percentile(r[:, 3], 90))))
    return rows


def calibrated(rows: list[dict], method: str, at_least: float = 0.90) -> bool:
    """Whether ``method``'s tied set covers the true best ≥ at_least in every setting."""
    return all(r["coverage"] >= at_least for r in rows if r["method"] == method)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sims", type=int, default=500, help="simulated searches per setting")
    p.add_argument("--seeds", type=int, nargs="+", default=[SEEDS],
                   help=f"seeds per candidate, one table each ({SEEDS})")
    p.add_argument("--noise", choices=NOISES, nargs="+", default=list(NOISES),
                   help="the noises to simulate (both)")
    p.add_argument("--measured", action="store_true",
                   help="also the measured-noise settings of the committed replicates")
    p.add_argument("--tie-p", type=float, nargs="+", default=[TIE_P],
                   help=f"the tied set's p_best thresholds, one table each ({TIE_P})")
    p.add_argument("--quick", action="store_true", help="40 simulations: only check it runs")
    args = p.parse_args(argv)
    sims = 40 if args.quick else args.sims
    start = time.perf_counter()
    ref = reference_scores()
    print(f"{len(ref)} candidates of {REFERENCE.relative_to(ROOT)}, gaussian sd "
          f"{noise_sd(ref):.2f}, bimodal ±{JUMP / 2:g} for γ ≥ {HIGH_RES}")
    runs = [(seeds, tie_p) for seeds in args.seeds for tie_p in args.tie_p]
    rows = [r for seeds, tie_p in runs
            for r in table(sims, seeds, tuple(args.noise), args.measured, tie_p)]
    print("| truth | noise | method | seeds | tied: p_best ≥ | sims | true best in tied set "
          "[95% CP] | tied size | pick = true best | regret median / p90 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['truth']} | {r['noise']} | {r['method']} | {r['seeds']} | {r['tie_p']:g} | "
              f"{r['sims']} | {r['coverage']:.1%} [{r['ci_lo']:.1%}, {r['ci_hi']:.1%}] | "
              f"{r['tied_size']:.1f} | {r['pick_true']:.1%} | "
              f"{r['regret_median']:.3g} / {r['regret_p90']:.3g} |")
    for seeds, tie_p in runs:
        for method in METHODS:
            ok = calibrated([r for r in rows if (r["seeds"], r["tie_p"]) == (seeds, tie_p)],
                            method)
            print(f"{method}, {seeds} seeds, p_best ≥ {tie_p:g}: calibrated (≥ 90% in every "
                  f"setting): {ok}")
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
