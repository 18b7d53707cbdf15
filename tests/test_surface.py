"""The pooled model over the constraint surface (surface.py; docs/search.md, "The pooled
model"), the p_best pick (issue 36 §2), and the calibration that decides whether the pick uses
the model (benchmarks/bench_calibration.py)."""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from scalesearch.coefsearch import surface
from scalesearch.coefsearch.answer import headline, surface_line, tied_rule
from scalesearch.coefsearch.results import best_record, ranking
from scalesearch.coefsearch.surface import coords, fit, implied
from scalesearch.util.status import Status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_calibration as calib  # noqa: E402


def _grid(alphas=(1.0, 1.1, 1.2, 1.3), betas=(1.0, 1.05, 1.1, 1.15)) -> list[tuple]:
    return [implied(*coords(a, b)) for a in alphas for b in betas]


def _true(key: tuple) -> float:
    """A quadratic with its top (u, v) = (0.1, 0.12) between the grid's points."""
    u, v = coords(key[0], key[1])
    return 60 - 400 * (u - 0.1) ** 2 - 300 * (v - 0.12) ** 2 + 100 * (u - 0.1) * (v - 0.12)


def _scores(keys, noise=1.0, seeds=2, seed=0) -> dict[tuple, list[float]]:
    rng = np.random.default_rng(seed)
    return {k: list(_true(k) + noise * rng.standard_normal(seeds)) for k in keys}


def test_the_fit_is_least_squares_over_every_training():
    scores = _scores(_grid())
    model = fit(scores)
    assert model.kind == "quadratic" and model.trainings == 32 and model.df == 32 - 6
    uv = np.array([coords(k[0], k[1]) for k, v in scores.items() for _ in v])
    x = surface.design(uv, 6)
    y = np.concatenate(list(scores.values()))
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    assert model.coef == pytest.approx(coef.tolist())
    resid = y - x @ coef
    assert model.noise_sd == pytest.approx(math.sqrt(resid @ resid / 26))
    k = _grid()[5]
    xk = surface.design(np.array([coords(k[0], k[1])]), 6)[0]
    se = model.noise_sd * math.sqrt(xk @ np.linalg.inv(x.T @ x) @ xk)
    assert model.mean[k] == pytest.approx(xk @ coef) and model.se[k] == pytest.approx(se)
    # pooling: the model's standard error is below a single candidate's own s/√2
    assert model.se[k] < model.noise_sd / math.sqrt(2)
    assert sum(model.p_best.values()) == pytest.approx(1.0)


def test_the_best_point_falls_between_grid_points_inside_the_hull():
    model = fit(_scores(_grid(), noise=0.2, seeds=3))
    best = model.best
    assert coords(best["alpha"], best["beta"]) == pytest.approx((0.1, 0.12), abs=0.02)
    assert best["alpha"] * best["beta"] ** 2 * best["gamma"] ** 2 == pytest.approx(2.0, abs=1e-3)
    assert best["mean"] == pytest.approx(60, abs=0.5) and 0 < best["se"] < 0.5
    for name in ("alpha", "beta", "gamma"):
        lo, hi = best["ci95"][name]
        assert lo <= best[name] <= hi
    # the true top's candidate is the model's most likely best
    top = max(model.p_best, key=model.p_best.__getitem__)
    assert top == max(_grid(), key=_true)


def test_the_model_is_a_function_of_the_set_of_trainings():
    scores = _scores(_grid())
    items = [(k, list(reversed(v))) for k, v in scores.items()]
    random.Random(1).shuffle(items)
    a, b = fit(scores), fit(dict(items))
    assert a.p_best == b.p_best and a.mean == b.mean and a.best == b.best
    assert a.coef == b.coef


def test_few_candidates_fall_back_to_a_plane_then_to_nothing():
    grid = _grid()
    three_alphas = grid[:4] + grid[4:6] + grid[8:10]
    assert fit(_scores(three_alphas)).kind == "quadratic"  # 8 = 6 parameters + 2
    assert fit(_scores(three_alphas[:7])).kind == "linear"
    assert fit(_scores(grid[:8])).kind == "linear"  # two α: u² is not identified
    assert fit(_scores(grid[::3][:5])).kind == "linear"
    assert fit(_scores(grid[:4])) is None
    collinear = [k for k in grid if k[0] == 1.0] + [implied(*coords(1.0, 1.2))]
    assert fit(_scores(collinear)) is None  # α = 1 throughout: no plane
    assert fit(_scores(grid, seeds=1)).df == 16 - 6  # one seed: the residuals measure noise


def _row(key, seed, top1, status=Status.OK):
    return dict(alpha=key[0], beta=key[1], gamma=key[2], product=2.0, flops_ratio=2.0,
                image_size=32, params=1000, epochs=2, rung=None, seed=seed, resolution=key[2],
                top1=top1, status=status, images=100, seconds=1.0)


def _rows(scores) -> list[dict]:
    return [_row(k, s, t) for k, v in scores.items() for s, t in enumerate(v)]


def test_the_ranking_carries_the_model_and_best_json_its_summary():
    scores = _scores(_grid(), noise=3.0)
    rank = ranking(_rows(scores))
    model = fit({k: v for k, v in scores.items()})
    first = tuple(rank.loc[0, ["alpha", "beta", "gamma"]])
    assert rank.loc[0, "model_mean"] == pytest.approx(model.mean[first])
    assert rank.loc[0, "model_p_best"] == pytest.approx(model.p_best[first])
    assert rank["model_p_best"].sum() == pytest.approx(1.0)
    best = best_record(rank, {})
    assert best["pick_rule"] == "p_best" and best["tie_break"] == "p_best"
    assert best["surface"]["kind"] == "quadratic" and len(best["surface"]["candidates"]) == 16
    assert best["surface"]["used_for_pick"] is surface.PICK_BY_MODEL


def test_the_default_pick_is_the_most_likely_best_not_the_balanced_one():
    # (1.2, 1.1, 1.15) is the most balanced; (1, 1, 1.4) is more likely to be the best
    rows = [*(_row((1.0, 1.0, 1.4), s, t) for s, t in enumerate((61, 63, 62))),
            *(_row((1.2, 1.1, 1.15), s, t) for s, t in enumerate((61, 58, 61))),
            *(_row((2.0, 1.0, 1.0), s, t) for s, t in enumerate((40, 42, 41)))]
    rank = ranking(rows)
    tied = rank[rank["tied"]]
    assert len(tied) == 2 and tied["p_best"].iloc[0] > tied["p_best"].iloc[1]
    best = best_record(rank, {})
    assert (best["alpha"], best["gamma"], best["pick_rule"]) == (1.0, 1.4, "p_best")
    assert best["p_best"] == tied["p_best"].max()
    balanced = best_record(rank, {}, "balanced")
    assert (balanced["alpha"], balanced["pick_rule"]) == (1.2, "balanced")
    one_seed = best_record(ranking([r for r in rows if r["seed"] == 0]), {})
    assert one_seed["pick_rule"] == "score" and one_seed["alpha"] == 1.0


def test_a_calibrated_model_would_pick_by_its_own_p_best(monkeypatch):
    scores = _scores(_grid(), noise=6.0, seed=3)
    rank = ranking(_rows(scores))
    tied = rank[rank["tied"]]
    by_model = tied.loc[tied["model_p_best"].idxmax()]
    assert len(tied) > 1 and by_model.name != tied["p_best"].idxmax()  # the two disagree
    monkeypatch.setattr(surface, "PICK_BY_MODEL", True)
    best = best_record(rank, {})
    assert best["pick_rule"] == "model_p_best"
    assert (best["alpha"], best["beta"]) == (by_model["alpha"], by_model["beta"])


def test_calibration_quick():
    """Few simulations of the benchmark: per-candidate p_best covers the true best of a smooth,
    near-tied surface; the pooled model misses the true best of the reference's own means (not
    smooth), which is why the pick does not use it."""
    ref = calib.reference_scores()
    truths, sd = calib.truths(ref), calib.noise_sd(ref)
    smooth = calib.simulate(truths["smooth, flat"], "gaussian", sd, 60, seed=1)
    assert smooth["per-candidate"][:, 0].mean() >= 0.9
    assert smooth["pooled model"][:, 0].mean() >= 0.9
    biased = calib.simulate(truths["reference"], "gaussian", sd, 60, seed=2)
    assert biased["per-candidate"][:, 0].mean() >= 0.9
    assert biased["pooled model"][:, 0].mean() < 0.5
    assert calib.clopper_pearson(60, 60) == (pytest.approx(0.9404, abs=1e-4), 1.0)


@pytest.mark.slow
def test_the_pick_uses_the_model_only_where_the_calibration_says_so():
    """The constant agrees with bench_calibration at its 500 simulations per setting.
    "Calibrated" needs every setting at ≥ 90%; "not calibrated" needs one below, so the
    settings are simulated until one is: the reference surface under bimodal noise first (the
    model missed it in bench_calibration's table), so one setting's time instead of six."""
    if surface.PICK_BY_MODEL:
        assert calib.calibrated(calib.table(500), "pooled model")
        return

    def coverage(setting) -> float:
        _, _, truth, noise, sd, seed = setting
        return float(calib.simulate(truth, noise, sd, 500, seed)["pooled model"][:, 0].mean())

    order = sorted(calib.settings(), key=lambda s: (s[1] != "bimodal", s[0] != "reference"))
    assert any(coverage(s) < 0.90 for s in order)  # any(): stops at the first below


def test_the_headline_says_the_tied_set_first_then_the_pick():
    rows = [*(_row((1.0, 1.0, 1.4), s, t) for s, t in enumerate((61, 63, 62))),
            *(_row((1.2, 1.1, 1.15), s, t) for s, t in enumerate((61, 58, 61))),
            *(_row((2.0, 1.0, 1.0), s, t) for s, t in enumerate((40, 42, 41)))]
    best = best_record(ranking(rows), {})
    p = [f"{100 * t['p_best']:.1f}%" for t in best["tied"]]
    assert headline(best) == (f"tied set (1, 1, 1.4) 62.0% p_best {p[0]}, (1.2, 1.1, 1.15) "
                              f"60.0% p_best {p[1]}; pick α=1 β=1 γ=1.4 (p_best {p[0]}, by "
                              "p_best)")
    old = {k: v for k, v in best.items() if k not in ("pick_rule", "tie_break")}
    assert headline(old).endswith("by balanced)")  # written before pick_rule: balanced then
    assert headline(dict(best, separated=True)) == f"best: α=1 β=1 γ=1.4 (separated, p_best {p[0]})"
    assert headline(dict(best, tied=[])).startswith("pick α=1 β=1 γ=1.4 (p_best")
    assert surface_line(best) is None  # three candidates: no model


def test_the_model_has_one_line():
    best = best_record(ranking(_rows(_scores(_grid(), noise=3.0))), {})
    line = surface_line(best)
    top = max(best["surface"]["candidates"], key=lambda c: c["model_p_best"])
    assert line.startswith("pooled model (quadratic over 32 trainings, noise sd ")
    assert f"most likely best ({top['alpha']:g}, {top['beta']:g}, {top['gamma']:g})" in line
    assert line.endswith("it is not calibrated (docs/search.md)") != surface.PICK_BY_MODEL
    # top-1 in %, another --metric in its own units (a search under --metric sotl --mode min)
    assert "% (95%: α" in line
    assert "% (95%: α" not in surface_line(dict(best, ranked="-sotl"))


def test_report_html_opens_the_answer_with_the_headline(tmp_path):
    """A committed search (made with balanced, before pick_rule) reads: its tied set first."""
    import html
    import json
    import shutil

    from scalesearch.report.page import write_report

    out = tmp_path / "flowers"
    shutil.copytree(Path(__file__).resolve().parents[1] / "studies/results"
                    / "search_mobilenetv2_flowers_sha", out)
    best = json.loads((out / "best.json").read_text())
    text = write_report(out).read_text()
    line = html.escape(headline(best), quote=False)
    assert line.startswith("tied set (1, 1.2, 1.15) ") and line.endswith("by balanced)")
    assert line in text and text.index(line) < text.index("Separated: no")


def test_the_tied_set_names_the_threshold_that_drew_it():
    """best.json stores the p_best that drew its tied set; one written before reads 5%."""
    from scalesearch.coefsearch.stats import TIE_P

    best = best_record(ranking(_rows(_scores(_grid(), noise=3.0))), {})
    assert best["tie_p"] == TIE_P and tied_rule(best) == "p_best ≥ 2%" == tied_rule()
    assert all(t["p_best"] >= TIE_P for t in best["tied"])
    assert tied_rule({k: v for k, v in best.items() if k != "tie_p"}) == "p_best ≥ 5%"


def test_the_tied_set_covers_the_true_best_under_the_default_scores_measured_noise():
    """The threshold is calibrated (issue 36 §4): under the noise of the default score (sotl
    from a zeroed head) measured on the embedded data's 8m-plan replicates — five near-tied
    α = 1 candidates — the tied set of 2-seed searches holds the true best in ≥ 90% of them;
    the old threshold, 5%, in fewer (bench_calibration.py --measured: 93.2% against 88.8%)."""
    from scalesearch.coefsearch.stats import TIE_P, p_best

    seeds = calib.measured_scores("synthetic/head-zero/8m", "sotl")
    truth = {k: float(v.mean()) for k, v in seeds.items()}
    best = max(truth, key=truth.__getitem__)
    rng = np.random.default_rng(1001)  # bench_calibration's seed for this setting
    held = {TIE_P: 0, 0.05: 0}
    for _ in range(500):
        p = p_best(calib.resample(seeds, rng), own_sd=True)
        for t in held:
            held[t] += p[best] >= t
    assert held[TIE_P] / 500 >= 0.9 > held[0.05] / 500


def test_own_sd_widens_only_a_candidate_whose_seeds_disagree():
    """bench_calibration's third method: a bimodal candidate trailing on its mean keeps a
    chance of being best that the pooled noise (narrowed by 12 quiet candidates) denies it."""
    from scalesearch.coefsearch.stats import p_best

    scores = {(1.0, 1.0 + i / 100, 1.0): [40.0 + i / 10, 41.0 + i / 10] for i in range(12)}
    scores[(1.0, 1.05, 1.35)] = [52.0, 53.0]  # both seeds in the low mode
    scores[(1.0, 1.0, 1.4)] = [52.0, 82.0]  # one high: its own sd is 21
    pooled, own = p_best(scores), p_best(scores, own_sd=True)
    low = (1.0, 1.05, 1.35)
    assert pooled[low] < 0.05 <= own[low]  # the true best of such a search stays tied
    assert p_best(scores, own_sd=False) == pooled
