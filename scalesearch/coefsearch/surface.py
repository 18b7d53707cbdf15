"""A smooth model of the score over the constraint surface, fitted to every training of a
search, so that neighbouring candidates share what they measure (issue 36 §4; docs/search.md,
"The pooled model").

On α·β²·γ² ≈ 2 the three logs have two degrees of freedom: the coordinates are u = log α and
v = 2·log β (log γ is implied, ½·(log 2 − u − v)). The score of each training — every seed's
score, not the candidates' means — is a full quadratic in (u, v), six parameters, fitted by
ordinary least squares; with fewer distinct candidates than parameters + 2 (8), a plane (three
parameters), and with fewer than 5 no model. The noise is the residual variance s² (df = N − p),
so the coefficients' posterior under a flat prior is a multivariate t: b̂ + s·L·Z·√(df/χ²_df),
L Lᵀ = (XᵀX)⁻¹. From it, per candidate: the model's mean, its standard error, and
``model_p_best``, the probability that the candidate has the highest model score (Monte Carlo
over the posterior); and the model's own best point over the candidates' convex hull (which may
fall between grid points), with the 95% range of the best point over the posterior.

Like :func:`.stats.p_best`, every figure is a function of the set of (candidate, scores) alone:
the trainings are sorted before the fit and the draws are keyed by the seed only.

Whether the pick uses the model is :data:`PICK_BY_MODEL`, set from the calibration of
``benchmarks/bench_calibration.py`` (docs/search.md, the table): the model's tied set must
contain the true best in ≥ 90% of simulated searches in every setting measured.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from scalesearch.coefsearch.stats import DRAW_SEED, DRAWS, tie_break
from scalesearch.util.io import json_safe

if TYPE_CHECKING:
    import pandas as pd

PRODUCT = 2.0  # α·β²·γ² at φ = 1 (Eq. 3)
QUADRATIC, LINEAR = 6, 3  # parameters of the two models
SPARE = 2  # a model needs this many more distinct candidates than parameters
GRID = 31  # points per axis of the best-point search over the candidates' hull
POINT_DRAWS = 2_000  # posterior draws that place the best point (of DRAWS)
# The calibration (benchmarks/bench_calibration.py, docs/search.md): the pooled model's tied
# set held the true best in 0% of the simulated searches whose truth is the 40m reference's own
# means (not smooth) and 72% on a flat smooth surface with bimodal seeds; the pick stays the
# per-candidate p_best.
PICK_BY_MODEL = False


def coords(alpha: float, beta: float) -> tuple[float, float]:
    """(u, v) = (log α, 2·log β): a point of the constraint surface (γ implied)."""
    return math.log(alpha), 2 * math.log(beta)


def implied(u: float, v: float) -> tuple[float, float, float]:
    """(α, β, γ) at (u, v) on α·β²·γ² = 2."""
    return math.exp(u), math.exp(v / 2), math.exp((math.log(PRODUCT) - u - v) / 2)


def design(uv: np.ndarray, params: int) -> np.ndarray:
    """The model's columns at points ``uv`` (n × 2): 1, u, v (and u², u·v, v²)."""
    u, v = uv[:, 0], uv[:, 1]
    cols = [np.ones_like(u), u, v] + ([u * u, u * v, v * v] if params == QUADRATIC else [])
    return np.stack(cols, axis=1)


def _split_argmax(values: np.ndarray) -> np.ndarray:
    """Per column, the share of rows (draws) in which it is the highest; ties split the vote."""
    best = values == values.max(1, keepdims=True)
    return (best / best.sum(1, keepdims=True)).mean(0)


@dataclass(frozen=True)
class Surface:
    """A fitted model (module docstring): per candidate key ``mean``, ``se``, ``p_best``."""

    kind: str  # "quadratic" or "linear"
    coef: list[float]  # 1, u, v (, u², u·v, v²)
    noise_sd: float  # residual s
    df: int
    trainings: int
    mean: dict[Hashable, float] = field(default_factory=dict)
    se: dict[Hashable, float] = field(default_factory=dict)
    p_best: dict[Hashable, float] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)  # the model's own best point

    def summary(self) -> dict[str, Any]:
        """best.json's ``surface`` (without the per-candidate figures, which the ranking holds):
        the model, its best point, and whether the pick used it."""
        return dict(kind=self.kind, coef=[round(c, 6) for c in self.coef],
                    noise_sd=self.noise_sd, df=self.df, trainings=self.trainings,
                    best=self.best, used_for_pick=PICK_BY_MODEL)


def _hull_grid(uv: np.ndarray) -> np.ndarray:
    """A GRID × GRID lattice over the candidates' bounding box, kept inside their convex hull,
    plus the candidates themselves (the hull alone where it is flat: collinear candidates)."""
    from scipy.spatial import ConvexHull, QhullError

    lo, hi = uv.min(0), uv.max(0)
    lattice = np.stack(np.meshgrid(np.linspace(lo[0], hi[0], GRID),
                                   np.linspace(lo[1], hi[1], GRID)), -1).reshape(-1, 2)
    try:
        facets = ConvexHull(uv).equations  # a·p + b ≤ 0 inside
    except QhullError:
        return uv
    inside = (lattice @ facets[:, :2].T + facets[:, 2] <= 1e-9).all(1)
    return np.concatenate([uv, lattice[inside]])


def _best_point(coef: np.ndarray, draws: np.ndarray, chol: np.ndarray, sd: float,
                params: int, grid: np.ndarray) -> dict[str, Any]:
    """The fitted model's maximum over ``grid``, its mean and standard error there, and the
    95% range of (α, β, γ) of the maximum over the posterior ``draws``."""
    x = design(grid, params)
    i = int(np.argmax(x @ coef))
    top = np.argmax(draws[:POINT_DRAWS] @ x.T, axis=1)
    where = np.exp(grid[top] @ np.array([[1, 0, -0.5], [0, 0.5, -0.5]])) * [1, 1, PRODUCT ** 0.5]
    lo, hi = np.percentile(where, [2.5, 97.5], axis=0)
    alpha, beta, gamma = implied(*grid[i])
    return dict(alpha=round(alpha, 4), beta=round(beta, 4), gamma=round(gamma, 4),
                mean=float(x[i] @ coef), se=float(sd * np.linalg.norm(x[i] @ chol)),
                ci95=dict(alpha=[round(float(lo[0]), 4), round(float(hi[0]), 4)],
                          beta=[round(float(lo[1]), 4), round(float(hi[1]), 4)],
                          gamma=[round(float(lo[2]), 4), round(float(hi[2]), 4)]))


def fit(scores: Mapping[Any, Sequence[float]], draws: int = DRAWS, seed: int = DRAW_SEED,
        point: bool = True) -> Surface | None:
    """The model over ``scores`` ({(α, β, γ, …): seed scores}; module docstring); None when
    there are too few distinct candidates or no residual degrees of freedom. ``point``: also
    search the model's best point (skipped by the calibration)."""
    keys = sorted((k for k, v in scores.items() if len(v)),
                  key=lambda k: tuple(round(float(x), 6) for x in k[:3]))
    if not keys:
        return None
    uv_of = {k: coords(float(k[0]), float(k[1])) for k in keys}
    distinct = np.unique(np.round(np.array(list(uv_of.values())), 9), axis=0)
    uv = np.array([uv_of[k] for k in keys for _ in scores[k]])
    y = np.concatenate([np.sort(np.asarray(scores[k], float)) for k in keys])
    for params in (QUADRATIC, LINEAR):
        x = design(uv, params)
        if len(distinct) >= params + SPARE and len(y) > params and \
                np.linalg.matrix_rank(x) == params:
            break
    else:
        return None
    xtx_inv = np.linalg.inv(x.T @ x)
    coef = xtx_inv @ x.T @ y
    df = len(y) - params
    sd = math.sqrt(float(np.sum((y - x @ coef) ** 2)) / df)
    chol = np.linalg.cholesky(xtx_inv + 1e-12 * np.eye(params))
    rng = np.random.default_rng([seed, 2])
    z = rng.standard_normal((draws, params))
    shared = np.sqrt(df / rng.chisquare(df, draws))[:, None]
    sampled = coef + sd * shared * (z @ chol.T)
    xc = design(np.array([uv_of[k] for k in keys]), params)
    mean, se = xc @ coef, sd * np.linalg.norm(xc @ chol, axis=1)
    p = _split_argmax(sampled @ xc.T)
    best = _best_point(coef, sampled, chol, sd, params, _hull_grid(distinct)) if point else {}
    return Surface(kind="quadratic" if params == QUADRATIC else "linear",
                   coef=[float(c) for c in coef], noise_sd=sd, df=df, trainings=len(y),
                   mean={k: float(m) for k, m in zip(keys, mean, strict=True)},
                   se={k: float(s) for k, s in zip(keys, se, strict=True)},
                   p_best={k: float(v) for k, v in zip(keys, p, strict=True)}, best=best)


def pick(tied: list[dict], rule: str, measured: bool, surface: dict | None
          ) -> tuple[dict, str]:
    """The tied candidate ``rule`` chooses and the figure that chose it (``pick_rule``): rule
    p_best takes the pooled model's p_best where the model is calibrated
    (:data:`PICK_BY_MODEL`), and the higher mean where no p_best is measured (one seed)."""
    if rule != "p_best":
        return tie_break(tied, rule), rule
    if not measured:
        return tie_break(tied, "score"), "score"
    if PICK_BY_MODEL and surface:
        by_model = [dict(r, p_best=r["model_p_best"], _i=i) for i, r in enumerate(tied)]
        return tied[tie_break(by_model, rule)["_i"]], "model_p_best"
    return tie_break(tied, rule), rule


def surface_record(rank: pd.DataFrame) -> dict | None:
    """best.json's ``surface``: the model (:meth:`Surface.summary`) and its per-candidate means,
    standard errors and p_best."""
    surface = rank.attrs.get("surface")
    if not surface:
        return None
    columns = ["alpha", "beta", "gamma", "model_mean", "model_se", "model_p_best"]
    rows = rank.loc[rank["model_mean"].notna(), columns].to_dict("records")
    return dict(surface, candidates=cast(list, json_safe(rows)))
