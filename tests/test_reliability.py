"""How reproducible a ranking is (docs/search.md, "Reliability"): seed-split Kendall τ with its
bootstrap interval, the one-way ANOVA and ICC, the verdict, and the rank guard of synchronous
halving (a rung the seeds cannot rank does not cut)."""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from scalesearch.coefsearch.halving import cut
from scalesearch.coefsearch.reliability import (
    anova,
    describe,
    kendall_tau_b,
    reliability,
    seed_tau,
)
from scalesearch.coefsearch.results import ranking
from scalesearch.coefsearch.trials import TrialStore
from scalesearch.util.status import Status


def _key(i: int) -> tuple:
    return (round(1.0 + 0.05 * i, 2), 1.0, 1.0)


def _table(signal: float, noise: float, n: int = 12, seeds: int = 2, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {_key(i): {s: 30 + signal * i + noise * rng.standard_normal() for s in range(seeds)}
            for i in range(n)}


def test_tau_b_is_scipys_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(20):
        x, y = rng.integers(0, 4, 9).astype(float), rng.integers(0, 4, 9).astype(float)
        expected = sps.kendalltau(x, y).statistic
        assert kendall_tau_b(x, y) == pytest.approx(expected, nan_ok=True)


def _store(tmp_path, table: dict, epochs: int = 4, status: str = Status.OK) -> TrialStore:
    store = TrialStore(tmp_path / "trials.csv")
    store.append([dict(alpha=k[0], beta=k[1], gamma=k[2], seed=s, status=status, epochs=epochs,
                       top1=v, history=";".join([""] * (epochs - 1) + [str(v)]), product=2.0,
                       flops_ratio=2.0, resolution=1.0, image_size=32, params=1000,
                       images=100, seconds=1.0)
                  for k, by_seed in table.items() for s, v in by_seed.items()])
    return store


def test_reliability_of_a_written_trials_csv_matches_scipy(tmp_path):
    """τ between seed 0's and seed 1's top-1 (scipy), the ANOVA (scipy's f_oneway) and ICC(1)
    written out, all read back from trials.csv through the search's ranking."""
    table = _table(signal=1.0, noise=2.0)
    rows = TrialStore(_store(tmp_path, table).path).rows  # written, then read back
    got = ranking(rows).attrs["reliability"]["final"]
    keys = sorted(table)
    assert got["tau"] == pytest.approx(sps.kendalltau([table[k][0] for k in keys],
                                                      [table[k][1] for k in keys]).statistic,
                                       abs=1e-6)  # trials.csv stores 6 decimals
    f, p = sps.f_oneway(*[list(table[k].values()) for k in keys])
    assert (got["anova_f"], got["anova_p"]) == pytest.approx((f, p), rel=1e-4)
    msb = 2 * np.var([np.mean(list(table[k].values())) for k in keys], ddof=1)
    msw = np.mean([np.var(list(table[k].values()), ddof=1) for k in keys])
    assert got["icc"] == pytest.approx((msb - msw) / (msb + msw), rel=1e-4)  # k = 2 seeds
    assert got["candidates"] == 12 and got["seeds"] == 2 and got["df"] == 12
    lo, hi = got["tau_ci95"]
    assert lo < got["tau"] < hi


def test_three_seeds_give_the_mean_pairwise_tau():
    table = _table(signal=1.0, noise=3.0, seeds=3)
    keys = sorted(table)
    pairs = [sps.kendalltau([table[k][a] for k in keys], [table[k][b] for k in keys]).statistic
             for a, b in itertools.combinations(range(3), 2)]
    assert seed_tau(table)[0] == pytest.approx(np.mean(pairs))


def test_the_interval_does_not_depend_on_the_candidates_order():
    table = _table(signal=0.3, noise=2.0)
    keys = list(table)
    random.Random(1).shuffle(keys)
    assert seed_tau({k: table[k] for k in keys}) == seed_tau(table)
    assert reliability({k: table[k] for k in keys}) == reliability(table)


def test_the_interval_is_calibrated_when_no_candidate_is_better():
    """Pure noise: τ's interval lies above 0 in about 5% of searches (measured: 10 of 200
    here), not more — a rung of equal candidates rarely passes the rank guard."""
    false = sum(seed_tau(_table(0.0, 2.0, seed=s), replicates=500)[1][0] > 0
                for s in range(100))
    assert false <= 12


@pytest.mark.parametrize("signal, noise, seed, verdict", [
    (2.0, 1.0, 0, "ranks reproducibly"),  # candidates 2 points apart, seeds within ±1
    (0.0, 2.0, 1, "does not rank"),  # no difference at all: the order is the noise's
])
def test_verdicts(signal, noise, seed, verdict):
    r = reliability(_table(signal, noise, seed=seed))
    assert r["verdict"] == verdict and r["rankable"] is (verdict == "ranks reproducibly")


def test_one_seed_is_unmeasured_and_chance_level_does_not_rank():
    assert reliability(_table(2.0, 1.0, seeds=1))["verdict"] == "unmeasured"
    # a clear order, but every candidate within its noise of the 12.5% a guess scores
    near = {k: {s: 12.5 + 0.1 * i + v for s, v in enumerate((-3.0, 3.0))}
            for i, k in enumerate(_key(i) for i in range(12))}
    r = reliability(near, chance=12.5)
    assert r["near_chance"] and r["verdict"] == "does not rank" and not r["rankable"]
    assert not reliability(_table(2.0, 1.0), chance=12.5)["near_chance"]


def test_chance_is_checked_on_val_top1_where_another_metric_ranks():
    """Ranked by −sotl (about −2), every value lies "below" 12.5: chance is checked on the same
    trainings' val top-1 (own_score) instead, and only that decides."""
    ranked = {k: {s: -2.0 + 0.01 * i + 0.005 * s for s in range(2)}
              for i, k in enumerate(_key(i) for i in range(12))}
    near = {k: {s: 12.5 + 0.1 * i + v for s, v in enumerate((-3.0, 3.0))}
            for i, k in enumerate(_key(i) for i in range(12))}
    r = reliability(ranked, chance=12.5, top1=near)
    assert r["near_chance"] and r["verdict"] == "does not rank"
    assert "every val top-1 is within noise of chance" in describe(r)
    far = reliability(ranked, chance=12.5, top1=_table(2.0, 1.0))
    assert not far["near_chance"] and far["verdict"] == "ranks reproducibly"


def test_anova_handles_unequal_seeds_like_scipy():
    groups = [[1.0, 2.0, 3.0], [4.0, 6.0], [2.5]]
    f, p = sps.f_oneway(*groups)
    got = anova(groups)
    assert (got["f"], got["p"]) == pytest.approx((f, p))
    assert math.isnan(anova([[1.0], [2.0]])["f"])  # no seed noise measured


def _paused(tmp_path, table: dict):
    """Candidates paused at epoch 2 of 4 (a rung), as sha leaves them before its cut."""
    return _store(tmp_path, table, epochs=2, status=Status.PAUSED)


@pytest.mark.parametrize("guard", [True, False])
def test_a_rung_that_cannot_rank_does_not_cut(tmp_path, guard):
    store = _paused(tmp_path, _table(signal=0.0, noise=2.0, seed=1))
    logged = []
    cut(store, 0, 2, 3.0, logged.append, chance=12.5, guard=guard)
    stopped = {r["alpha"] for r in store.rows if r["status"] == Status.STOPPED}
    if guard:
        assert not stopped and "no cut" in logged[0] and "does not rank" in logged[0]
    else:  # --cut-unrankable: the old cut, ⌈12/3⌉ = 4 go on
        assert len(stopped) == 8


@pytest.mark.parametrize("ranked, says", [("top-1", r"\(mean val top-1 ≥ -?[\d.]+%\)"),
                                          ("-sotl", r"\(mean -sotl ≥ -?[\d.]+\)")])
def test_a_cut_names_the_score_it_ranked_by(tmp_path, ranked, says):
    """A rung's line says what its bar is: val top-1 in %, or the ranked --metric (the
    default's negated training loss is not a top-1)."""
    store = _paused(tmp_path, _table(signal=0.0, noise=2.0, seed=1))
    logged = []
    cut(store, 0, 2, 3.0, logged.append, chance=12.5, guard=False, ranked=ranked)
    assert re.search(says, logged[0]) and "stopped" in logged[0], logged


def test_a_rung_that_ranks_cuts(tmp_path):
    store = _paused(tmp_path, _table(signal=2.0, noise=1.0))
    cut(store, 0, 2, 3.0, lambda m: None, chance=12.5)
    kept = {r["alpha"] for r in store.rows if r["status"] == Status.PAUSED} - {
        r["alpha"] for r in store.rows if r["status"] == Status.STOPPED}
    assert kept == {_key(i)[0] for i in range(8, 12)}  # the four best go on


ROOT = Path(__file__).resolve().parents[1]
BUDGET40M = "studies/results/search_b0_embedded_budget40m"
FLOWERS = "studies/results/search_mobilenetv2_flowers_reliability"


@pytest.mark.parametrize("folder, answer, part, docs", [
    # issue 22's smallest budget reaching τ ≥ 0.6 on the embedded data
    (BUDGET40M, "best.json", ("reliability", "final"),
     ("README.md", "docs/search.md", f"{BUDGET40M}/README.md")),
    (f"{BUDGET40M}/seeds2-3", "best.json", ("reliability", "final"),
     ("docs/search.md", f"{BUDGET40M}/README.md")),
    # the flower_photos reference that ranks (fidelity --num-train 2000)
    (f"{FLOWERS}/seeds0-1/fidelity_2000img", "result.json", ("reference_reliability",),
     ("docs/search.md", f"{FLOWERS}/README.md")),
])
def test_a_committed_reliability_is_what_its_trials_give(folder, answer, part, docs):
    """The τ, ANOVA p and τ interval that the results folder and the docs publish: τ and p
    recomputed from its trials.csv with scipy, the interval quoted as its answer file has it."""
    trials = pd.read_csv(ROOT / folder / "trials.csv")
    by_seed = trials.pivot_table(index=["alpha", "beta", "gamma"], columns="seed", values="top1")
    first, second = by_seed.columns  # two training seeds
    tau = sps.kendalltau(by_seed[first], by_seed[second]).statistic
    p = sps.f_oneway(*[row.to_numpy() for _, row in by_seed.iterrows()]).pvalue
    published = json.loads((ROOT / folder / answer).read_text())
    for key in part:
        published = published[key]
    assert published["tau"] == pytest.approx(tau) and published["anova_p"] == pytest.approx(p)
    assert tau >= 0.6 and published["tau_ci95"][0] > 0  # both are the "it ranks" points
    lo, hi = published["tau_ci95"]
    figure = f"{tau:.2f} [{lo:.2f}, {hi:.2f}]"
    for doc in docs:
        assert figure in (ROOT / doc).read_text(), (doc, figure)
