"""``scalesearch fidelity RUN_DIR``: does the proxy's ranking hold at a higher fidelity?

The K best and M random candidates of a finished search are retrained through the same Ray Tune
runner (resumable, no early stopping) with more epochs and a larger proxy image size (defaults:
4× and 2× the search's), and the two rankings are compared: Kendall τ and Spearman ρ of the
candidates' mean scores, whether the winner is the same, and whether the search's winner is in
the reference's tied set. τ comes with a 95% bootstrap interval (candidates resampled, and each
candidate's seeds on both sides); "cannot tell" when it contains 0. Both rankings carry their
own reliability (:mod:`.reliability`): a reference whose seeds do not reproduce its own order
cannot judge the proxy, and the verdict says so. Files go in RUN_DIR/fidelity/.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalesearch.coefsearch.costs import load_latencies
from scalesearch.coefsearch.results import KEY, best_record, ranking, stored_objective
from scalesearch.coefsearch.runner import plan, run_trials
from scalesearch.coefsearch.space import Candidate, Space
from scalesearch.coefsearch.trials import TrialStore, search_folder
from scalesearch.data.loader import chance_top1
from scalesearch.errors import ScalesearchError
from scalesearch.scaling.registry import portable_spec, registered
from scalesearch.settings.placement import Placement
from scalesearch.settings.search import (
    EPOCHS_FACTOR,
    SIZE_FACTOR,
    FidelityConfig,
    Objective,
    SearchConfig,
)
from scalesearch.training.contract import trainer_file
from scalesearch.training.rundir import RunFolder
from scalesearch.training.runfiles import damaged, read_json
from scalesearch.util.io import write_frame, write_json
from scalesearch.util.logs import Log, stderr
from scalesearch.util.status import Status

TAU_REPLICATES, TAU_SEED = 2000, 0  # bootstrap of Kendall τ's interval


def _load_search(run_dir: Path) -> tuple[SearchConfig, dict, TrialStore]:
    folder = search_folder(run_dir)
    if not folder.marker_path.exists():
        raise ScalesearchError(f"{run_dir} holds no search (search.json not found)")
    saved = folder.saved()  # checked against its schema (scalesearch.training.runfiles)
    try:
        cfg = SearchConfig.from_dict(saved["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise ScalesearchError(f"{run_dir}/search.json is unreadable: {err}") from None
    store = folder.store()
    assert isinstance(store, TrialStore)  # search_folder's
    if not any(r["status"] == Status.OK for r in store.rows):
        raise ScalesearchError(f"{run_dir} has no successfully trained candidate to check")
    return cfg, saved["space"], store


def check_trusted(run_dir: Path, stored: str, named: str | None, trust: bool) -> None:
    """Refuse to retrain a plug-in baseline that ``run_dir``'s search.json names (retraining
    imports its file or module) unless the user ``named`` it again or passed ``trust``; an
    installed baseline needs neither."""
    if named is not None and named != stored and portable_spec(named) != portable_spec(stored):
        raise ScalesearchError(f"--baseline {named} is not the baseline the search in "
                               f"{run_dir} trained ({stored})")
    if named is None and not trust and not registered(stored):
        raise ScalesearchError(f"{run_dir}/search.json names the plug-in baseline {stored!r}: "
                               f"retraining it runs its code; if you trust it, name it again "
                               f"with --baseline {stored} (or pass --trust-baseline)")


def check_trusted_trainer(run_dir: Path, stored: str, named: str | None, trust: bool) -> None:
    """Refuse to retrain with a training function's file that ``run_dir``'s search.json names
    unless the user ``named`` it again (``--train``) or passed ``trust``: a run folder never
    imports a trainer file on its own (an installed one needs neither)."""
    if named is not None and portable_spec(named) != portable_spec(stored):
        raise ScalesearchError(f"--train {named} is not the training function the search in "
                               f"{run_dir} trained with ({stored})")
    if named is None and not trust and trainer_file(stored) is not None:
        raise ScalesearchError(f"{run_dir}/search.json names the training function {stored!r}: "
                               f"retraining runs its code; if you trust it, name it again with "
                               f"--train {stored} (or pass --trust-baseline)")


def _best(run_dir: Path) -> dict | None:
    """best.json, checked (None when absent)."""
    return read_json(run_dir / "best.json") if (run_dir / "best.json").exists() else None


def _search_objective(run_dir: Path, log) -> tuple[Objective, dict | None]:
    """The search's objective (best.json) and its measured latencies (latency.json), so both
    rankings are scored alike; an mnas-latency objective without latencies falls back to
    accuracy, with a note."""
    objective = stored_objective(_best(run_dir) or {}, run_dir / "best.json") or Objective()
    latency = load_latencies(run_dir)
    if objective.needs_latency and latency is None:
        log("fidelity: the search ranked by latency but latency.json is missing; "
            "comparing top-1 instead")
        objective = Objective()
    return objective, latency


def choose(rank: pd.DataFrame, top: int, extra: int, seed: int,
           winner: tuple | None = None) -> list[tuple]:
    """The ``top`` best candidates that trained to the end, the search's chosen ``winner``
    (the tie-break may pick it from below the top: "same winner" and "winner in the
    reference's tied set" need it retrained), and ``extra`` random others."""
    ok = [tuple(k) for k in rank.loc[rank["status"] == Status.OK, KEY].values]
    rest = [tuple(k) for k in rank.loc[rank["status"] != Status.FAILED, KEY].values
            if tuple(k) not in ok[:top]]
    picked = random.Random(seed).sample(rest, min(extra, len(rest)))  # as without a winner
    return ok[:top] + ([winner] if winner in rest and winner not in picked else []) + picked


def reference_config(cfg: SearchConfig, fcfg: FidelityConfig) -> SearchConfig:
    """The search's config at the reference fidelity: grid sampler, no scheduler, ``fcfg``'s
    epochs, proxy size, training images and seeds (default: EPOCHS_FACTOR × the epochs,
    SIZE_FACTOR × the proxy size, the search's images and seeds). A search that ranked by the
    built-in's training loss is checked against what that loss stands in for: the longer
    training's val top-1 (the same head init)."""
    train = replace(cfg.setup.train, epochs=fcfg.epochs or EPOCHS_FACTOR * cfg.setup.train.epochs)
    size = fcfg.proxy_size or SIZE_FACTOR * (cfg.setup.proxy_size or 0) or None
    return replace(cfg, sampler="grid", trials=None, scheduler="none", curves=False,
                   seeds=fcfg.seeds or cfg.seeds,
                   setup=replace(cfg.setup.judged(), proxy_size=size, train=train,
                                 num_train=fcfg.num_train or cfg.setup.num_train))


def _rank_corr(x: list[float], y: list[float]) -> tuple[float, float]:
    from scipy.stats import kendalltau, spearmanr

    if len(x) < 2:
        return math.nan, math.nan
    return float(kendalltau(x, y).statistic), float(spearmanr(x, y).statistic)


def _seed_scores(rows: list[dict]) -> dict[tuple, list[float]]:
    out: dict[tuple, list[float]] = {}
    for r in rows:
        if r["status"] in (Status.OK, Status.STOPPED) and r.get("top1") is not None:
            out.setdefault(tuple(r[k] for k in KEY), []).append(r["top1"])
    return out


def tau_interval(tiers: list[float], proxy: list[list[float]], ref: list[list[float]],
                 replicates: int = TAU_REPLICATES, seed: int = TAU_SEED) -> tuple[float, float]:
    """95% percentile-bootstrap interval of Kendall τ between the search's order and the
    reference means: each replicate draws the candidates with replacement and, for each, its
    seeds on both sides. The search's order is its tier (finished first, then by the rung a
    scheduler stopped it at) and, within a tier, the mean of the drawn seeds."""
    from scipy.stats import kendalltau

    rng = np.random.default_rng(seed)
    n, taus = len(tiers), []
    if n < 3:
        return math.nan, math.nan
    for _ in range(replicates):
        pick = rng.integers(0, n, n)
        x = [rng.choice(proxy[i], len(proxy[i])).mean() - 1000 * tiers[i] for i in pick]
        y = [rng.choice(ref[i], len(ref[i])).mean() for i in pick]
        tau = kendalltau(x, y).statistic
        if tau == tau:  # a replicate of one distinct candidate has no τ
            taus.append(tau)
    if not taus:
        return math.nan, math.nan
    lo, hi = np.percentile(taus, [2.5, 97.5])
    return float(lo), float(hi)


def compare_rankings(proxy: pd.DataFrame, ref: pd.DataFrame, search_best: Mapping[str, Any],
                     ref_best: Mapping[str, Any] | None, proxy_rows: list[dict] | None = None,
                     ref_rows: list[dict] | None = None) -> dict:
    """τ, ρ, same winner, winner in the reference's tied set, and the per-candidate table."""
    # the search's ranking is its order (ASHA-stopped candidates rank below finished ones
    # whatever their rung score), so τ and ρ use the position, not the raw proxy mean
    both = proxy[KEY + ["top1_mean", "top1_std"]].assign(position=range(len(proxy))).merge(
        ref[KEY + ["top1_mean", "top1_std", "tied"]], on=KEY, suffixes=("_p", "_r"))
    both = both.dropna(subset=["top1_mean_p", "top1_mean_r"])
    tau, rho = _rank_corr((-both["position"]).tolist(), both["top1_mean_r"].tolist())
    ps, rs = _seed_scores(proxy_rows or []), _seed_scores(ref_rows or [])
    keys = [k for k in map(tuple, both[KEY].values) if k in ps and k in rs]
    top = proxy["rung"].max() if proxy["rung"].notna().any() else 0
    tier = {tuple(r[k] for k in KEY): 0.0 if r["status"] == Status.OK
            else 1.0 + top - (r["rung"] if r["rung"] == r["rung"] else 0)
            for r in proxy.to_dict("records")}
    ci = tau_interval([tier[k] for k in keys], [ps[k] for k in keys], [rs[k] for k in keys])
    win = tuple(search_best[k] for k in KEY)
    ref_win = tuple(ref_best[k] for k in KEY) if ref_best else None
    tied = {tuple(k) for k in both.loc[both["tied"], KEY].values}
    candidates = [dict(alpha=r["alpha"], beta=r["beta"], gamma=r["gamma"],
                       proxy_rank=int(r["position"]) + 1, proxy_mean=r["top1_mean_p"],
                       proxy_std=r["top1_std_p"],
                       reference_mean=r["top1_mean_r"], reference_std=r["top1_std_r"],
                       reference_tied=bool(r["tied"])) for r in both.to_dict("records")]
    return dict(kendall_tau=tau, kendall_tau_ci95=list(ci),
                tau_verdict="cannot tell" if not ci[0] > 0 and not ci[1] < 0 else
                ("agrees" if ci[0] > 0 else "disagrees"),
                spearman_rho=rho, same_winner=win == ref_win,
                winner_in_tied=win in tied, search_winner=list(win),
                reference_winner=list(ref_win) if ref_win else None, candidates=candidates)


def run_fidelity(run_dir: str | Path, fcfg: FidelityConfig | None = None, *,
                 resume: bool = False, placement: Placement | None = None,
                 log: Log = stderr, baseline: str | None = None,
                 trust_baseline: bool = False, train: str | None = None) -> dict:
    """Retrain the chosen candidates at the reference fidelity and compare the rankings.
    ``placement`` (Ray address, CPUs and GPUs per trial, device, amp…) places this run's
    trainings; it does not change what is compared. A plug-in baseline is retrained only when
    ``baseline`` names it again or ``trust_baseline`` (:func:`check_trusted`)."""
    run_dir, fcfg = Path(run_dir), fcfg or FidelityConfig()
    cfg, space_info, store = _load_search(run_dir)
    check_trusted(run_dir, cfg.baseline, baseline, trust_baseline)
    check_trusted_trainer(run_dir, cfg.setup.trainer, train, trust_baseline)
    objective, latency = _search_objective(run_dir, log)
    chance = chance_top1(cfg.setup.data) if cfg.setup.keeps_top1 else None
    proxy = ranking(store.rows, objective, latency, chance=chance)
    search_best = _best(run_dir) or proxy.iloc[0].to_dict()
    keys = choose(proxy, fcfg.top, fcfg.random, fcfg.sample_seed,
                  tuple(search_best[k] for k in KEY))
    by_key = {(c["alpha"], c["beta"], c["gamma"]): c for c in space_info["candidates"]}
    try:
        cands = tuple(Candidate.from_dict(by_key[k]) for k in keys if k in by_key)
    except (TypeError, ValueError) as err:
        raise damaged(run_dir / "search.json", f"a candidate of space: {err}") from None
    ref_cfg = reference_config(cfg, fcfg)
    ref_cfg = replace(ref_cfg, placement=placement or Placement())
    out = run_dir / "fidelity"
    settings = dict(reference=ref_cfg.to_dict(), fidelity=asdict(fcfg))
    folder = RunFolder(out, "fidelity check", "fidelity.json", "trials.csv", TrialStore)
    folder.check(settings, resume)
    ref_store = folder.start(settings)
    assert isinstance(ref_store, TrialStore)
    chosen = ", the chosen one" if tuple(search_best[k] for k in KEY) in keys[fcfg.top:] else ""
    images = f" on {ref_cfg.setup.num_train} training images" if ref_cfg.setup.num_train else ""
    log(f"fidelity: retraining {len(cands)} candidate(s) (top {fcfg.top}{chosen}, "
        f"{fcfg.random} random) for {ref_cfg.setup.train.epochs:g} epochs at proxy size "
        f"{ref_cfg.setup.proxy_size}{images} × {ref_cfg.seeds} seed(s)")
    try:
        space = Space(cands, len(cands), 0, 0, cfg.match_flops)
        run_trials(replace(ref_cfg, baseline=portable_spec(ref_cfg.baseline)), space, ref_store,
                   log)
        remaining = plan(ref_cfg, ref_store, space)[1]
        ref = ranking(ref_store.rows, objective, latency, chance=chance)
        ref_best = best_record(ref, {}, search_best.get("tie_break", "balanced"))
        result = compare_rankings(proxy, ref, search_best, ref_best, store.rows, ref_store.rows)
        result.update(proxy_reliability=proxy.attrs["reliability"]["final"],
                      reference_reliability=ref.attrs["reliability"]["final"])
        if result["reference_reliability"]["verdict"] != "ranks reproducibly":
            result["tau_verdict"] = "cannot judge: the reference does not rank reproducibly"
        result.update(complete=not remaining, out=str(out),
                      reference_epochs=ref_cfg.setup.train.epochs,
                      reference_proxy_size=ref_cfg.setup.proxy_size,
                      reference_num_train=ref_cfg.setup.num_train, seeds=ref_cfg.seeds)
        write_frame(out / "fidelity.csv", pd.DataFrame(result["candidates"]))
        write_json(out / "result.json", result)
        from scalesearch.coefsearch.plots import plot_fidelity

        plot_fidelity(result, out / "fidelity.png")
        return result
    finally:
        folder.release()  # another thread may start a check in it now
