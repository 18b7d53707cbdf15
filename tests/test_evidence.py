"""A search answer carries its evidence: t-intervals, bootstrap p_best, the tied set and the
tie-breaks (docs/search.md, "Uncertainty"); fair candidates (relative tolerance, FLOPs matching,
aliases)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from scalesearch.coefsearch.results import best_record, ranking
from scalesearch.coefsearch.space import (
    MATCH_TOLERANCE,
    beta_bounds,
    beta_fraction,
    build_space,
    match_resolution,
    tpe_point,
    within,
)
from scalesearch.coefsearch.stats import (
    TIE_P,
    balance,
    p_best,
    pooled_interval,
    pooled_sd,
    t_interval,
    tie_break,
)
from scalesearch.scaling.registry import resolve
from scalesearch.settings.search import Ranges
from scalesearch.util.status import Status


def test_t_interval_is_the_student_t_interval():
    scores = [50.0, 54.0, 52.0]
    lo, hi = t_interval(scores)
    half = sps.t.ppf(0.975, 2) * np.std(scores, ddof=1) / math.sqrt(3)
    assert (lo, hi) == pytest.approx((52 - half, 52 + half))
    assert all(math.isnan(v) for v in t_interval([50.0]))


def test_pooled_noise_is_the_anova_within_mean_square():
    groups = [[60.0, 62.0], [50.0, 50.5, 52.0], [40.0]]
    sd, df = pooled_sd(groups)
    # written out: squared deviations 2 + (0.6944 + 0.1111 + 1.3611) over (1 + 2 + 0) df
    ss = sum((x - np.mean(g)) ** 2 for g in groups for x in g)
    assert df == 3 and sd == pytest.approx(math.sqrt(ss / 3)) and sd == pytest.approx(
        math.sqrt((2 + 2.1666667) / 3))
    lo, hi = pooled_interval(61.0, 2, sd, df)
    assert hi - 61.0 == pytest.approx(sps.t.ppf(0.975, 3) * sd / math.sqrt(2))
    assert pooled_sd([[1.0], [2.0]]) == (pytest.approx(math.nan, nan_ok=True), 0)


def test_two_equal_seeds_get_the_pooled_interval_not_zero_width():
    rows = [*(_row(1.0, 1.0, 1.4, s, 23.5) for s in range(2)),
            *(_row(1.2, 1.1, 1.15, s, t) for s, t in enumerate((20.0, 22.0))),
            *(_row(2.0, 1.0, 1.0, s, t) for s, t in enumerate((18.0, 17.0)))]
    r = ranking(rows).set_index(["alpha", "beta", "gamma"]).loc[(1.0, 1.0, 1.4)]
    sd = math.sqrt((0 + 2 + 0.5) / 3)
    half = sps.t.ppf(0.975, 3) * sd / math.sqrt(2)
    assert (r["ci_lo"], r["ci_hi"]) == pytest.approx((23.5 - half, 23.5 + half))


@pytest.mark.parametrize("a, b", [([60.0, 61.0, 59.0], [60.5, 58.0, 62.0]),
                                  ([30.0, 33.0], [28.0, 29.5]),
                                  ([20.0, 24.0, 23.0], [22.0])])
def test_p_best_of_two_is_the_students_t_probability(a, b):
    """Under the pooled model, P(a is best) = T_df((x̄a − x̄b) / (s·√(1/na + 1/nb)))."""
    sd, df = pooled_sd([a, b])
    z = (np.mean(a) - np.mean(b)) / (sd * math.sqrt(1 / len(a) + 1 / len(b)))
    p = p_best({"a": a, "b": b})
    assert p["a"] == pytest.approx(sps.t.cdf(z, df), abs=0.012)  # 10,000 draws: s.e. ≤ 0.005
    assert p["a"] + p["b"] == pytest.approx(1.0)


def test_p_best_is_a_function_of_the_set_not_of_the_order():
    scores = {(1.0, 1.0, 1.4): [60, 61, 59], (1.2, 1.1, 1.15): [60.5, 58, 62],
              (2.0, 1.0, 1.0): [40, 41, 42], (1.4, 1.0, 1.2): [59.5, 60.5]}
    first = p_best(scores)
    for order in ([3, 2, 1, 0], [1, 3, 0, 2]):
        keys = [list(scores)[i] for i in order]
        assert p_best({k: scores[k] for k in keys}) == first  # exactly equal
    assert first[(2.0, 1.0, 1.0)] == 0 and sum(first.values()) == pytest.approx(1.0)
    assert p_best(scores, seed=1) != first  # the draws do depend on the seed


def test_p_best_splits_exact_ties_separates_clear_winners_and_needs_two_seeds():
    assert p_best({"a": [50, 50], "b": [50, 50]}) == {"a": 0.5, "b": 0.5}
    assert p_best({"a": [90, 91], "b": [10, 11], "c": [20, 21]}) == {"a": 1.0, "b": 0.0,
                                                                    "c": 0.0}
    assert p_best({"a": [90], "b": [10]}) is None  # one seed: no noise measured


def _row(a, b, g, seed, top1, status=Status.OK, epochs=3, rung=None, params=1000):
    return dict(alpha=a, beta=b, gamma=g, product=a * b * b * g * g, flops_ratio=2.0,
                resolution=g, image_size=64, params=params, epochs=epochs, rung=rung, seed=seed,
                top1=top1, status=status, images=100, seconds=1.0)


def _rows():
    return [*(_row(1.0, 1.0, 1.4, s, t, params=900) for s, t in enumerate((60, 63, 61))),
            *(_row(1.2, 1.1, 1.15, s, t, params=1100) for s, t in enumerate((61, 58, 62))),
            *(_row(2.0, 1.0, 1.0, s, t, params=1200) for s, t in enumerate((40, 42, 41))),
            *(_row(1.4, 1.0, 1.2, s, t, Status.STOPPED, 1, 0) for s, t in enumerate((70, 71)))]


def test_tied_set_rule_and_ranking_order():
    rank = ranking(_rows())
    keys = [tuple(k) for k in rank[["alpha", "beta", "gamma"]].values]
    # finished candidates first by mean; the ASHA-stopped one after, whatever its rung score
    assert keys == [(1.0, 1.0, 1.4), (1.2, 1.1, 1.15), (2.0, 1.0, 1.0), (1.4, 1.0, 1.2)]
    assert rank["p_best"].iloc[:3].sum() == pytest.approx(1.0)
    assert math.isnan(rank["p_best"].iloc[3])  # stopped: not eligible
    assert rank["tied"].tolist() == [True, True, False, False]
    assert (rank.loc[rank["tied"], "p_best"] >= TIE_P).all()
    assert rank.loc[0, "ci_lo"] < rank.loc[0, "top1_mean"] < rank.loc[0, "ci_hi"]


@pytest.mark.parametrize("rule, expected", [
    ("score", (1.0, 1.0, 1.4)),  # highest mean
    ("balanced", (1.2, 1.1, 1.15)),  # log α, 2 log β, 2 log γ most even
    ("params", (1.0, 1.0, 1.4)),  # fewest parameters
])
def test_every_tie_break(rule, expected):
    best = best_record(ranking(_rows()), {}, rule)
    assert (best["alpha"], best["beta"], best["gamma"]) == expected
    assert best["tie_break"] == rule and not best["separated"]
    assert len(best["tied"]) == 2 and {"alpha", "top1_mean", "top1_std", "p_best",
                                       "seeds"} <= set(best["tied"][0])
    assert best["top1_ci95"][0] < best["top1_mean"] < best["top1_ci95"][1]


def test_latency_tie_break_picks_the_fastest():
    tied = [dict(alpha=1.0, beta=1.0, gamma=1.4, score_mean=60.0, params=1, latency_ms=5.0),
            dict(alpha=1.2, beta=1.1, gamma=1.15, score_mean=59.0, params=2, latency_ms=3.0)]
    assert tie_break(tied, "latency")["alpha"] == 1.2
    assert tie_break(tied, "score")["alpha"] == 1.0


def test_a_clear_winner_is_separated():
    rows = [*(_row(1.0, 1.0, 1.4, s, t) for s, t in enumerate((80, 81, 82))),
            *(_row(2.0, 1.0, 1.0, s, t) for s, t in enumerate((40, 42, 41)))]
    best = best_record(ranking(rows), {})
    assert best["separated"] and best["p_best"] == 1.0 and len(best["tied"]) == 1


def test_one_seed_claims_no_separation():
    rows = [_row(1.0, 1.0, 1.4, 0, 60), _row(2.0, 1.0, 1.0, 0, 40)]
    best = best_record(ranking(rows), {})
    assert (best["alpha"], best["p_best"], best["separated"], best["tied"]) == (1.0, None,
                                                                                 False, [])


def test_balance_is_zero_for_even_growth():
    assert balance(2 ** (1 / 3), 2 ** (1 / 6), 2 ** (1 / 6)) == pytest.approx(0, abs=1e-12)
    assert balance(1.2, 1.1, 1.15) < balance(1.0, 1.0, 1.4)


def test_relative_tolerance_keeps_the_papers_point():
    """α·β²·γ² = 1.92 for (1.2, 1.1, 1.15): 4% from 2, inside the relative 5%."""
    assert within(1.2 * 1.1**2 * 1.15**2, 0.05) and not within(1.2 * 1.1**2 * 1.15**2, 0.03)
    ranges = Ranges()
    assert {1.2} <= set(ranges.axis("alpha")) and {1.1, 1.15} <= set(ranges.axis("gamma"))
    b0 = resolve("efficientnet-b0")
    around = Ranges(alpha=(1.2, 1.2), beta=(1.1, 1.1), gamma=(1.15, 1.15))
    for match in (False, True):
        space = build_space(b0, around, tolerance=0.05, flops_tolerance=0.25, match_flops=match)
        assert [c.key for c in space.candidates] == [(1.2, 1.1, 1.15)]


def test_flops_matching_lands_every_candidate_within_3_percent():
    b0 = resolve("efficientnet-b0")
    space = build_space(b0, Ranges(step=0.1), tolerance=0.05, flops_tolerance=0.25,
                        match_flops=True)
    assert space.candidates and space.matched
    for c in space.candidates:
        assert abs(c.matched_ratio / 2 - 1) <= 0.03 and c.matched_resolution >= 1  # documented
    lo, hi = space.ratios()
    assert 1.94 <= lo <= hi <= 2.06 and MATCH_TOLERANCE == 0.03
    # depth 2 alone already costs > 2.06× at 224 px: no image size ≥ 224 can match it
    assert match_resolution(b0, 1.0, 1.5) is None


def test_aliases_build_one_network_and_are_trained_once():
    """On B0, α = 1.2 and 1.25 give the same ceil-rounded repeats: one training, one alias."""
    b0 = resolve("efficientnet-b0")
    space = build_space(b0, Ranges(alpha=(1.2, 1.25), beta=(1.1, 1.1), gamma=(1.15, 1.15)),
                        tolerance=0.05, flops_tolerance=0.25, match_flops=True)
    assert len(space.candidates) == 1 and space.merged == 1
    (cand,) = space.candidates
    assert cand.key == (1.25, 1.1, 1.15) and cand.aliases == ((1.2, 1.1, 1.15),)
    assert balance(*cand.key) <= balance(1.2, 1.1, 1.15)


@pytest.mark.parametrize("alpha, frac", [(1.0, 0.0), (1.3, 0.5), (1.7, 1.0), (2.0, 0.3)])
def test_tpe_point_solves_gamma_and_inverts(alpha, frac):
    r = Ranges()
    a, b, g = tpe_point(alpha, frac, r)
    assert a * b * b * g * g == pytest.approx(2, abs=2e-3)
    assert 1 <= b <= 1.5 and 1 <= g <= 1.5
    lo, hi = beta_bounds(a, r)
    if hi - lo > 1e-6:  # at α = 2 only β = 1 is feasible
        assert beta_fraction(a, b, r) == pytest.approx(frac, abs=1e-3)


def test_the_objective_orders_candidates_and_decides_the_tied_set():
    """MnasNet's top1·(FLOPs/T)^w with a steep w: the cheaper network wins on score."""
    from scalesearch.settings.search import Objective

    rows = [dict(r, flops=1e9 if r["alpha"] == 1.0 else 4e9) for r in _rows()[:6]]
    plain = ranking(rows)
    assert tuple(plain.loc[0, ["alpha", "beta", "gamma"]]) == (1.0, 1.0, 1.4)
    steep = Objective("mnas", target_flops=1e9, weight=-0.5)
    rank = ranking(rows, steep)
    first = rank.iloc[0]
    assert (first["alpha"], first["score_mean"]) == (1.0, pytest.approx(np.mean([60, 63, 61])))
    other = rank[rank["alpha"] == 1.2].iloc[0]
    assert other["score_mean"] == pytest.approx(np.mean([61, 58, 62]) * 4 ** -0.5)
    assert other["top1_mean"] == pytest.approx(np.mean([61, 58, 62]))  # top-1 is unchanged
    assert rank["tied"].tolist() == [True, False] and rank["p_best"].iloc[0] == 1.0


def test_latency_is_measured_once_per_candidate_and_cached(tmp_path):
    from scalesearch.coefsearch.costs import candidate_latencies
    from scalesearch.settings.placement import LatencySpec

    b0 = resolve("mobilenet-v2")
    rows = [dict(alpha=1.0, beta=1.0, gamma=1.0, seed=s, depth=1.0, width=0.5, resolution=0.3,
                 status=Status.OK) for s in (0, 1)]
    spec = LatencySpec(rounds=1)
    calls = []
    lat = candidate_latencies(b0, rows, spec, tmp_path, calls.append)
    assert list(lat) == [(1.0, 1.0, 1.0)] and lat[(1.0, 1.0, 1.0)] > 0 and len(calls) == 1
    again = candidate_latencies(b0, rows, spec, tmp_path, calls.append)
    assert again == lat and len(calls) == 1  # cached in latency.json


def test_one_place_holds_each_search_default():
    """build_space declares no defaults of its own (a caller cannot build another space than
    a search's by leaving one out), the Python API's proxy size is the CLI's, and fidelity's
    help names its config's defaults (issue: defaults that disagreed)."""
    import argparse
    import inspect

    from scalesearch.cli.fidelity import EXAMPLES
    from scalesearch.options import add_search_args
    from scalesearch.settings.recipe import ProxySetup
    from scalesearch.settings.search import FidelityConfig

    params = inspect.signature(build_space).parameters
    assert all(p.default is inspect.Parameter.empty for p in params.values())
    parser = argparse.ArgumentParser()
    add_search_args(parser)
    assert parser.parse_args([]).proxy_size == ProxySetup().proxy_size == 64
    f = FidelityConfig()
    assert f"top {f.top} + {f.random} random" in EXAMPLES and (f.top, f.random) == (3, 3)


def test_a_failed_candidate_is_unranked_not_beaten():
    rows = [*(_row(1.0, 1.0, 1.4, s, t) for s, t in enumerate((80, 81, 82))),
            *(_row(2.0, 1.0, 1.0, s, t) for s, t in enumerate((40, 42, 41))),
            *(_row(1.2, 1.1, 1.15, s, None, Status.FAILED) for s in range(3))]
    best = best_record(ranking(rows), {})
    assert (best["alpha"], best["p_best"]) == (1.0, 1.0)
    assert best["unranked_failed"] == [dict(alpha=1.2, beta=1.1, gamma=1.15)]
    assert not best["separated"]  # it would be without the failed one
    assert best_record(ranking(rows[:6]), {})["separated"]
