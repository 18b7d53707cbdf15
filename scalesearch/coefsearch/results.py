"""What a search leaves behind: the ranking with its evidence (mean, std, the 95% interval and
p_best from the pooled seed noise of :mod:`.stats`, the tied set, and how reproducible the
ranking is, :mod:`.reliability`), ``best.json`` for ``scale --coefficients``, and the B1–B7-style
family of the winner next to the paper's (Table 2).

Ranking rule: candidates that trained to the last epoch come first, by mean score; candidates
a scheduler stopped follow, by the rung they reached and their score there; failed ones last.
p_best and the tied set are computed over the candidates that reached the last epoch; a stopped
candidate is judged at the rung where it stopped (:mod:`.evidence`), and one that the seeds
could not tell from the best there is listed as not ruled out, which denies ``separated``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Required, TypedDict, cast

import numpy as np
import pandas as pd

from scalesearch.coefsearch.evidence import (
    Stopped,
    not_ruled_out,
    stopped_evidence,
    stopped_summary,
)
from scalesearch.coefsearch.family import FAMILY_PHIS, Member, family
from scalesearch.coefsearch.gridcache import official_presets
from scalesearch.coefsearch.reliability import reliability
from scalesearch.coefsearch.stats import SEARCH_OWN_SD, TIE_P, p_best, pooled_interval, pooled_sd
from scalesearch.coefsearch.surface import fit, pick, surface_record
from scalesearch.coefsearch.trials import COLUMNS as ROW_COLUMNS  # a trial failed early lacks some
from scalesearch.coefsearch.trials import seed_scores_at
from scalesearch.errors import ScalesearchError
from scalesearch.scaling.scalable import Scalable
from scalesearch.settings.search import PICK_RULE, Objective
from scalesearch.util.io import json_safe, write_frame, write_json
from scalesearch.util.status import Status

KEY = ["alpha", "beta", "gamma"]


class Ranked(TypedDict):
    """A line of the ranking (:func:`ranking`; the summary's ``ranking``): a candidate with its
    cost and evidence (NaN where unmeasured)."""

    alpha: float
    beta: float
    gamma: float
    product: float
    flops_ratio: float
    activations_ratio: float | None
    latency_ms: float | None
    resolution: float | None
    image_size: int
    params: int
    epochs: int
    rung: float  # NaN without a scheduler
    status: str
    top1_mean: float
    top1_std: float
    ci_lo: float
    ci_hi: float
    score_mean: float
    own_mean: float  # the function's own score (val top-1) where another --metric is ranked
    seeds: int
    failed: int
    p_best: float
    tied: bool
    rung_p_best: float | None
    missed_by: float | None
    ruled_out: bool | None
    images: int
    seconds: float
    model_mean: float  # the pooled model's (surface.py; NaN where it is not fitted)
    model_se: float
    model_p_best: float


COLUMNS = list(Ranked.__annotations__)


class Tied(TypedDict):
    """A candidate of the tied set (p_best ≥ stats.TIE_P)."""

    alpha: float
    beta: float
    gamma: float
    top1_mean: float
    top1_std: float
    p_best: float
    seeds: int


class NotRuledOut(TypedDict):
    """A stopped candidate the seeds could not tell from the best at its rung."""

    alpha: float
    beta: float
    gamma: float
    rung: int
    rung_p_best: float
    missed_by: float


class Best(TypedDict, total=False):
    """best.json (its schema, written once): the chosen (α, β, γ) as ``scale --coefficients``
    reads it, its evidence (``pick_rule``: the figure that chose it; ``tie_p``: the p_best
    that draws the tied set; ``surface``: the pooled model, surface.py), and the search's
    metadata (session's ``meta``: baseline, data, proxy_size, epochs, sampler, scheduler,
    rungs, chance, objective, latency, …)."""

    alpha: Required[float]
    beta: Required[float]
    gamma: Required[float]
    gamma_trained: float
    product: float
    flops_ratio: float
    resolution: float
    top1_mean: float
    score_mean: float
    latency_ms: float | None
    activations_ratio: float | None
    top1_std: float
    top1_ci95: list[float]
    p_best: float | None
    seeds: int
    separated: bool
    tie_break: str
    pick_rule: str
    tie_p: float
    surface: dict[str, Any] | None
    unranked_failed: list[dict[str, float]]
    tied: list[Tied]
    not_ruled_out: list[NotRuledOut]
    stopped: list[Stopped]
    ranks: str | None
    reliability: dict[str, Any] | None
    aliases: list[list[float]]
    # the search's metadata (session.py's meta)
    complete: bool
    baseline: str
    data: str
    proxy_size: int
    epochs: float
    sampler: str
    scheduler: str
    match_flops: bool
    candidates: int
    trials: int
    tolerance: float
    flops_tolerance: float
    rungs: list[int]
    chance: float | None
    flops_ratio_range: list[float] | None
    objective: dict[str, Any]
    latency: dict[str, Any] | None


def _status(statuses: pd.Series) -> str:
    for status in (Status.OK, Status.PAUSED, Status.STOPPED):
        if (statuses == status).any():
            return status
    return Status.FAILED


def _by_seed(g: pd.DataFrame, column: str) -> dict[int, float]:
    """{seed: value} of one candidate's rows where ``column`` is measured (not NaN)."""
    return {int(s): v for s, v in zip(g["seed"], g[column], strict=True) if v == v}


def ranking(rows: list[dict], objective: Objective | None = None,
            latency: dict[tuple, float] | None = None, rungs: list[int] | None = None,
            chance: float | None = None, own_sd: bool = SEARCH_OWN_SD) -> pd.DataFrame:
    """One line per trained candidate with its evidence, best first (module docstring). The
    objective's score (top-1, or MnasNet's top1·(cost/T)^w) orders candidates and decides
    p_best and the tied set; the interval is top-1's, from the noise pooled over the
    candidates that trained as long (same status and epochs). ``attrs["reliability"]``: the
    finished candidates' and each of ``rungs``' (epochs) reliability; ``chance``: a guess's
    top-1 (%); ``own_sd``: :func:`~scalesearch.coefsearch.stats.p_best`'s."""
    objective = objective or Objective()
    df = pd.DataFrame(rows)
    df = df.reindex(columns=[*df.columns, *(c for c in ROW_COLUMNS if c not in df)])
    df = df[df["status"] != Status.REJECTED] if len(df) else df
    if df.empty:
        empty = pd.DataFrame(columns=COLUMNS)
        empty.attrs["reliability"] = dict(final=reliability({}), rungs=[])
        return empty
    keys = list(zip(*(df[k] for k in KEY), strict=True))
    df = df.assign(latency_ms=[(latency or {}).get(k) for k in keys])
    scored = df["status"].isin([Status.OK, Status.STOPPED, Status.PAUSED]) & df["top1"].notna()
    own = pd.to_numeric(df["own_score"])  # None (no value kept) → NaN
    df = df.assign(top1_ok=df["top1"].where(scored), own_ok=own.where(scored), score=[
        objective.score(r["top1"], r["latency_ms"], r.get("flops")) if ok else np.nan
        for r, ok in zip(df.to_dict("records"), scored, strict=True)])
    out: list[dict] = []
    per_seed: list[dict[int, float]] = []
    own_seed: list[dict[int, float]] = []  # val top-1 where another --metric is ranked
    tops: list[list[float]] = []
    for key, g in df.sort_values("seed").groupby(KEY, sort=False):
        top1 = g["top1_ok"].dropna().tolist()
        tops.append(top1)
        first = g.iloc[0]
        per_seed.append(_by_seed(g, "score"))
        own_seed.append(_by_seed(g, "own_ok"))
        out.append(dict(zip(KEY, key, strict=True), product=first["product"],
                        flops_ratio=first["flops_ratio"],
                        activations_ratio=first.get("activations_ratio"),
                        latency_ms=first["latency_ms"], resolution=first.get("resolution"),
                        image_size=g["image_size"].max(), params=first["params"],
                        epochs=g["epochs"].max(), rung=g["rung"].max(), status=_status(g["status"]),
                        top1_mean=np.mean(top1) if top1 else np.nan,
                        top1_std=np.std(top1, ddof=1) if len(top1) > 1 else np.nan,
                        score_mean=np.mean(list(per_seed[-1].values())) if per_seed[-1]
                        else np.nan,
                        own_mean=np.mean(list(own_seed[-1].values())) if own_seed[-1] else np.nan,
                        seeds=len(top1), failed=int((g["status"] == Status.FAILED).sum()),
                        images=g["images"].sum(), seconds=g["seconds"].sum(), _i=len(out)))
    rank = pd.DataFrame(out)
    rank["ci_lo"], rank["ci_hi"] = np.nan, np.nan
    for _, g in rank.groupby(["status", "epochs"], sort=False):  # one noise per fidelity
        sd, dof = pooled_sd([tops[i] for i in g["_i"]])
        for idx, i in zip(g.index, g["_i"], strict=True):
            lo_hi = pooled_interval(rank.at[idx, "top1_mean"], len(tops[i]), sd, dof)
            rank.loc[idx, ["ci_lo", "ci_hi"]] = lo_hi
    order = {Status.OK: 0, Status.PAUSED: 1, Status.STOPPED: 1, Status.FAILED: 2}
    rank = rank.assign(_o=rank["status"].map(order), _r=-rank["rung"].fillna(0),
                       _m=-rank["score_mean"].fillna(-1))
    rank = rank.sort_values(["_o", "_r", "_m", *KEY]).reset_index(drop=True)
    eligible = rank.index[(rank["status"] == Status.OK) & (rank["seeds"] > 0)]
    rank["p_best"], rank["tied"] = np.nan, False
    def by_key(seeds: list[dict[int, float]]) -> dict[tuple, dict[int, float]]:
        return {tuple(rank.loc[j, KEY]): seeds[i]
                for j, i in zip(eligible, rank.loc[eligible, "_i"], strict=True)}

    table = by_key(per_seed)
    scores = {k: list(v.values()) for k, v in table.items()}
    p = p_best(scores, own_sd=own_sd)
    if len(eligible) and p is not None:  # None: one seed measures no seed noise
        rank.loc[eligible, "p_best"] = [p[k] for k in table]
        rank.loc[eligible, "tied"] = rank.loc[eligible, "p_best"] >= TIE_P
    elif len(eligible):
        rank.loc[eligible[0], "tied"] = True
    model = fit(scores)  # neighbours share what they measure: every training of the table
    keys = [tuple(k) for k in rank[KEY].values]
    for column, figure in (("model_mean", "mean"), ("model_se", "se"), ("model_p_best", "p_best")):
        rank[column] = [getattr(model, figure).get(k, np.nan) if model else np.nan for k in keys]
    rank.attrs["surface"] = model.summary() if model else None
    own_table = by_key(own_seed)
    own_kept = any(own_table.values())  # chance is checked on val top-1, never another metric
    rank.attrs["reliability"] = dict(
        final=reliability(table, chance if objective.kind == "accuracy" else None,
                          own_table if own_kept else None),
        rungs=[dict(rung=k, epoch=e, **reliability(seed_scores_at(rows, e),
                                                   None if own_kept else chance))
               for k, e in enumerate(rungs or [])])
    evidence = stopped_evidence(rows)
    for column in ("rung_p_best", "missed_by", "ruled_out"):
        rank[column] = [evidence.get(tuple(k), {}).get(column) for k in rank[KEY].values]
    rank.attrs["stopped"] = stopped_summary(evidence)
    return rank[COLUMNS]


def stored_objective(best: dict, path: Path) -> Objective | None:
    """The objective ``best`` (best.json at ``path``, checked) was ranked by; None if unsaid."""
    try:
        return Objective(**best["objective"]) if best.get("objective") else None
    except TypeError as err:
        raise ScalesearchError(f"{path}: objective: {err}") from None


def _tied_entry(r: dict) -> Tied:
    return Tied(alpha=r["alpha"], beta=r["beta"], gamma=r["gamma"], top1_mean=r["top1_mean"],
                top1_std=r["top1_std"], p_best=r["p_best"], seeds=int(r["seeds"]))


def best_record(rank: pd.DataFrame, meta: dict, rule: str = PICK_RULE,
                aliases: dict | None = None) -> Best | None:
    """The winner as ``scale --coefficients`` reads it (alpha, beta, gamma), chosen within the
    tied set by ``rule`` (:func:`.surface.pick`), with its evidence and the search's metadata."""
    tied = [r for r in rank.to_dict("records") if r["tied"]]
    if not tied:
        return None
    measured = not np.isnan(tied[0]["p_best"])
    if rule == "latency" and any(pd.isna(r.get("latency_ms")) for r in tied):
        raise ScalesearchError("--tie-break latency needs the candidates' latency: search "
                               "with --latency")
    top, pick_rule = pick(tied, rule, measured, rank.attrs.get("surface"))
    key = (top["alpha"], top["beta"], top["gamma"])
    open_ = [NotRuledOut(alpha=r["alpha"], beta=r["beta"], gamma=r["gamma"],
                         rung=int(r["rung"]), rung_p_best=r["rung_p_best"],
                         missed_by=r["missed_by"])
             for r in rank.to_dict("records") if not_ruled_out(r["ruled_out"])]
    evidence = rank.attrs.get("reliability", {})
    failed = [dict(alpha=r["alpha"], beta=r["beta"], gamma=r["gamma"])
              for r in rank.to_dict("records") if r["status"] == Status.FAILED]
    return Best(alpha=float(top["alpha"]), beta=float(top["beta"]), gamma=float(top["gamma"]),
                gamma_trained=float(top["resolution"]),
                product=float(top["product"]), flops_ratio=float(top["flops_ratio"]),
                resolution=float(top["resolution"]), top1_mean=float(top["top1_mean"]),
                score_mean=float(top["score_mean"]), latency_ms=top["latency_ms"],
                activations_ratio=top["activations_ratio"],
                top1_std=float(top["top1_std"]), top1_ci95=[top["ci_lo"], top["ci_hi"]],
                p_best=top["p_best"] if measured else None, seeds=int(top["seeds"]),
                separated=bool(measured and len(tied) == 1 and not open_ and not failed),
                tie_break=rule, pick_rule=pick_rule, tie_p=TIE_P, surface=surface_record(rank),
                unranked_failed=failed,
                tied=[_tied_entry(r) for r in tied] if measured else [],
                not_ruled_out=open_, stopped=rank.attrs.get("stopped", []),
                ranks=evidence["final"]["verdict"] if evidence else None,
                reliability=cast(dict, json_safe(evidence)) if evidence else None,  # as stored
                aliases=[list(a) for a in (aliases or {}).get(key, ())], **meta)


def write_outputs(out: Path, rows: list[dict], baseline: Scalable, meta: dict,
                  rule: str = PICK_RULE, aliases: dict | None = None,
                  objective: Objective | None = None,
                  latency: dict[tuple, float] | None = None, phis=FAMILY_PHIS,
                  ) -> tuple[Best | None, pd.DataFrame, list[Member] | None]:
    """best.json, family.csv, search.png, family.png, pareto_*.png; returns the best, the
    ranking (:func:`ranking`) and the family. With no successful candidate, best.json is
    removed (a resumed run's old one too)."""
    from scalesearch.coefsearch.plots import plot_family, plot_search, plot_search_pareto

    rank = ranking(rows, objective, latency, meta.get("rungs"), meta.get("chance"))
    best = best_record(rank, meta, rule, aliases)
    fam = None
    plot_search(rank, best, out / "search.png", f"φ=1 search on {baseline.name} "
                f"({meta.get('data')}, proxy {meta.get('proxy_size')} px)")
    plot_search_pareto(rank, out, baseline.name)
    if best:
        write_json(out / "best.json", best)
        fam = family(baseline, (best["alpha"], best["beta"], best["gamma"]), phis)
        write_frame(out / "family.csv", pd.DataFrame(fam))
        plot_family(fam, baseline.name, out / "family.png", official_presets(baseline))
    else:
        (out / "best.json").unlink(missing_ok=True)
    return best, rank, fam


def replot(out: Path) -> list[Path]:
    """search.png (and family.png) again from trials.csv, family.csv and best.json alone: the
    baseline the folder names is not imported (an installed one draws its official presets)."""
    from scalesearch.coefsearch.plots import plot_family, plot_search
    from scalesearch.coefsearch.trials import TrialStore
    from scalesearch.scaling.registry import registered, resolve
    from scalesearch.training.runfiles import read_csv, read_json

    rank = ranking(TrialStore(out / "trials.csv").rows)
    best = read_json(out / "best.json") if (out / "best.json").exists() else {}
    name = best.get("baseline", out.name)
    plot_search(rank, best or None, out / "search.png", f"φ=1 search on {name}")
    written = [out / "search.png"]
    if best and (out / "family.csv").exists():
        rows = read_csv(out / "family.csv").to_dict("records")
        plot_family(rows, name, out / "family.png",
                    official_presets(resolve(name)) if registered(name) else ())
        written.append(out / "family.png")
    return written
