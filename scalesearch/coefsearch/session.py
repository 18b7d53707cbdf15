"""One search in one output folder: check the folder (fresh, or resumable with the same
settings), build the filtered space, run the pending trials, write the reports."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypedDict

from scalesearch.coefsearch.budget import Pace
from scalesearch.coefsearch.costs import candidate_latencies
from scalesearch.coefsearch.family import Member
from scalesearch.coefsearch.gridcache import cached_space
from scalesearch.coefsearch.optuna_study import write_study
from scalesearch.coefsearch.precheck import check_search
from scalesearch.coefsearch.results import Best, Ranked, write_outputs
from scalesearch.coefsearch.runner import plan, run_trials
from scalesearch.coefsearch.space import Space, trained_resolutions
from scalesearch.coefsearch.trials import TrialStore, search_folder
from scalesearch.data.loader import chance_top1
from scalesearch.data.scan import report_data
from scalesearch.errors import RunIncomplete, ScalesearchError, WriteError
from scalesearch.scaling.registry import portable_spec, resolve
from scalesearch.settings.search import SearchConfig
from scalesearch.training.contract import (
    check_same_trainer,
    resolve_trainer,
    trainer_fingerprint,
)
from scalesearch.training.proxy import check_proxy_size
from scalesearch.util.fmt import format_duration
from scalesearch.util.logs import Log, stderr
from scalesearch.util.status import Status


class Failure(TypedDict):
    """A (candidate, seed) whose training failed, and why."""

    alpha: float
    beta: float
    gamma: float
    seed: int
    error: str | None


@dataclass
class SearchSummary:
    """What a search returns and ``scalesearch search`` prints (``--format json``:
    :meth:`to_dict`, these fields in this order): the winner (None when nothing trained), the
    ranking, the family, how reproducible the ranking is, and the run's bookkeeping."""

    best: Best | None
    ranking: list[Ranked]
    family: list[Member] | None
    reliability: dict[str, Any]  # final and per-rung (:func:`.reliability.reliability`)
    out: str
    space: str  # the grid's one-line summary
    trials_run: int  # candidates trained by this call
    remaining: int  # planned trials left (an interrupted run: continue with --resume)
    seconds: float
    plan: dict[str, Any] | None  # --budget's plan (budget_s, estimated_s, actual_s, …)
    failures: list[Failure]
    report: str | None = None  # report.html, once written

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the summary of 0.3, a dict)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __getitem__(self, name: str) -> Any:
        """``summary["best"]``: the dict access of 0.3, kept for callers of :func:`run_search`."""
        return getattr(self, name)


def _planned(cfg: SearchConfig, baseline, folder, resume: bool,
              log: Log) -> tuple[SearchConfig, dict | None, Space | None]:
    """``cfg`` with ``--budget`` turned into ``setup.num_train`` (:mod:`.budget`): from a pilot
    on a fresh run, from search.json on ``--resume`` (a second pilot would plan differently);
    the plan, and the candidate grid if the pilot built it. The budget covers the whole
    search: the grid and the pilot are paid out of it."""
    if cfg.budget is None:
        return cfg, None, None
    seconds = float(cfg.budget)  # parsed to seconds by SearchConfig
    from scalesearch.coefsearch import budget

    start = time.perf_counter()
    if resume:  # check_place found its marker
        setup = folder.saved()["config"]["setup"]
        return replace(cfg, budget=None, setup=replace(
            cfg.setup, num_train=setup["num_train"], num_val=setup["num_val"])), None, None
    cfg = budget.with_rules(cfg)
    space = _space(cfg, baseline, log)
    if not space.candidates:
        return cfg, None, space  # refused below, with the grid's own message
    log(f"budget {format_duration(seconds)}: timing a pilot of the cheapest and the most "
        f"expensive of {len(space.candidates)} candidates …")
    pilot, flops = budget.run_pilot(baseline, cfg, space)
    concurrent = budget.concurrency(cfg)
    n, estimated = budget.plan(cfg, flops, pilot, seconds, concurrent,
                               spent=time.perf_counter() - start)
    share = cfg.schedule.trained_share(len(flops))
    trained = "every candidate to the end" if share == 1 else \
        f"the halving's cuts planned ({share:.0%} of the full trainings)"
    log(f"plan: {len(flops)} candidates × {cfg.seeds} seeds × {cfg.setup.train.epochs:g} "
        f"epochs of {n} images (batch {cfg.setup.train.batch_size}, {pilot.val_images} val), "
        f"{concurrent} at once, {trained}: estimated (grid and pilot included) "
        f"{format_duration(estimated)} of {format_duration(seconds)} (pilot: "
        f"{1 / pilot.train_s[0]:.0f}–{1 / pilot.train_s[1]:.0f} training images/s)")
    plan = dict(budget_s=cfg.budget, estimated_s=round(estimated, 1), num_train=n,
                concurrent=concurrent, train_images_per_s=[1 / t for t in pilot.train_s])
    return replace(cfg, budget=None, setup=replace(cfg.setup, num_train=n)), plan, space


def _space(cfg: SearchConfig, baseline, log: Log) -> Space:
    """The candidate grid, counted once per settings and kept (:mod:`.gridcache`)."""
    return cached_space(baseline, cfg.ranges, cfg.tolerance, cfg.flops_tolerance,
                        cfg.match_flops, log)


def _same_baseline(folder, baseline, resume: bool) -> dict:
    """The baseline's fingerprint (name, params and FLOPs at its own image size); a resume
    whose baseline differs from the one the run began with — a plug-in edited in between — is
    refused, so trials.csv never mixes two networks (issue 23 item 9)."""
    from scalesearch.scaling.counter import baseline_counts

    counts = baseline_counts(baseline)
    now = dict(name=baseline.name, image_size=baseline.image_size, params=counts.params,
               flops=counts.flops)
    before = folder.saved().get("baseline_fingerprint") if resume else None
    if before is not None and before != now:
        raise ScalesearchError(
            f"--resume: {baseline.name} is not the network {folder.path} began with (params "
            f"{before['params']:,} → {now['params']:,}, FLOPs {before['flops']:,} → "
            f"{now['flops']:,}); resume with that network, or choose another --out")
    return now


def _reports(cfg: SearchConfig, out: Path, rows: list[dict], baseline, meta: dict,
             space: Space, latency) -> tuple[Best | None, Any, list[Member] | None]:
    """Write the search's reports from its rows (best.json, family.csv, plots, optuna.db);
    returns the best, the ranking and the family (:func:`.results.write_outputs`). A file the OS
    would not write (a full disk) is one line saying that trials.csv, written as each trial
    finished, keeps every trained trial (:class:`RunIncomplete`, exit 1)."""
    aliases = {c.key: c.aliases for c in space.candidates}
    try:
        best, ranked, family = write_outputs(out, rows, baseline, meta, cfg.tie_break, aliases,
                                             cfg.objective, latency,
                                             tuple(range(1, cfg.family_phi + 1)))
        write_study(out, rows, ranked.to_dict("records"), cfg.ranges, dict(
            {k: meta[k] for k in ("baseline", "data", "proxy_size", "epochs", "scheduler",
                                  "complete", "chance")},
            objective=cfg.objective.kind, seeds=cfg.seeds, metric=cfg.setup.metric,
            mode=cfg.setup.mode,
            chosen=[best["alpha"], best["beta"], best["gamma"]] if best else None,
            ranks=best.get("ranks") if best else None))
    except WriteError as err:
        raise RunIncomplete(f"{err}; {out / 'trials.csv'} keeps every trained trial: make "
                            "room, then --resume writes the reports") from None
    return best, ranked, family


def run_search(cfg: SearchConfig, out: str | Path, *, resume: bool = False,
               log: Log = stderr) -> SearchSummary:
    """Run (or resume) the φ=1 search into ``out``; returns the summary (best, ranking, family).
    ``best`` is None when no candidate trained successfully."""
    out = Path(out)
    baseline = resolve(cfg.baseline)
    resolve_trainer(cfg.setup.trainer)  # a spec that does not resolve: one line, before training
    skipped = report_data(cfg.setup, log)  # fail here, not inside every Ray trial
    folder = search_folder(out)
    start = time.perf_counter()
    folder.check_place(resume)  # before a pilot, and before reading what it stores
    if resume:  # the defaults it began with (a folder that stores none: top-1)
        cfg = cfg.resumed(folder.saved()["config"])
    cfg, planned, space = _planned(cfg, baseline, folder, resume, log)
    if resume:  # the place was checked above; start() checks both again under the lock
        folder.check_same(cfg.to_dict())
    fingerprint = _same_baseline(folder, baseline, resume)
    trainer = trainer_fingerprint(cfg.setup.trainer)
    if resume:
        check_same_trainer(folder.saved().get("trainer_fingerprint"), trainer, out)
    check_search(cfg)  # before search.json is written
    if space is None:  # the budget's pilot built it already
        space = _space(cfg, baseline, log)
    log(space.summary())
    check_proxy_size(baseline, trained_resolutions(space, cfg.ranges, cfg.sampler),
                     cfg.setup.proxy_size)
    if not space.candidates and cfg.sampler == "grid":
        raise ScalesearchError("no candidate survives the filters; widen --tolerance/"
                               "--flops-tolerance or the ranges, or refine --grid-step")
    grid = dict(total=space.total, removed_formula=space.removed_formula,
                removed_measured=space.removed_measured, merged=space.merged,
                flops_ratio_range=space.ratios(),
                candidates=[dict(c.to_dict(), aliases=[list(a) for a in c.aliases])
                            for c in space.candidates])
    store = folder.start(cfg.to_dict(), skipped_files=skipped, space=grid,
                         baseline_fingerprint=fingerprint,
                         **({"trainer_fingerprint": trainer} if trainer else {}))
    assert isinstance(store, TrialStore)  # search_folder's store
    try:
        pace = Pace(planned["budget_s"], planned["estimated_s"], start) if planned else None
        ran = run_trials(replace(cfg, baseline=portable_spec(cfg.baseline)), space, store, log,
                         **({"pace": pace} if pace else {}))  # a budget's only (tests' fakes)
        remaining = plan(cfg, store, space)[1]
        if remaining:
            log(f"search incomplete: {remaining} trial(s) left; continue with --resume")
        meta = dict(complete=not remaining, baseline=baseline.name, data=cfg.setup.data,
                    proxy_size=cfg.setup.proxy_size, epochs=cfg.setup.train.epochs,
                    sampler=cfg.sampler, scheduler=cfg.scheduler, match_flops=cfg.match_flops,
                    candidates=len(space.candidates), trials=len(store.rows),
                    tolerance=cfg.tolerance, flops_tolerance=cfg.flops_tolerance,
                    rungs=cfg.milestones(),
                    chance=chance_top1(cfg.setup.data) if cfg.setup.keeps_top1 else None,
                    flops_ratio_range=list(space.ratios() or ()) or None,
                    metric=cfg.setup.metric, mode=cfg.setup.mode, ranked=cfg.setup.ranked)
        latency = candidate_latencies(baseline, store.rows, cfg.latency, out, log) \
            if cfg.latency else None
        meta.update(objective=cfg.objective.to_dict(),
                    latency=cfg.latency.to_dict() if cfg.latency else None)
        best, ranked, family = _reports(cfg, out, store.rows, baseline, meta, space, latency)
    finally:
        folder.release()  # another thread may start a run in it now
    ranking = ranked.to_dict("records")
    seconds = time.perf_counter() - start
    if planned:
        planned["actual_s"] = round(seconds, 1)
        # the end projected mid-run when the pace fell behind (None: it kept to the plan)
        planned["projected_s"] = pace and pace.projected_s and round(pace.projected_s, 1)
        planned["replanned"] = pace.replans if pace else []  # rungs that kept fewer (halving)
        log(f"budget {format_duration(planned['budget_s'])}: planned "
            f"{format_duration(planned['estimated_s'])}, took {format_duration(seconds)}")
    return SearchSummary(
        best=best, ranking=ranking, family=family,
        reliability=ranked.attrs["reliability"], out=str(out), space=space.summary(),
        trials_run=ran, remaining=remaining, seconds=round(seconds, 1), plan=planned,
        failures=[Failure(alpha=r["alpha"], beta=r["beta"], gamma=r["gamma"], seed=r["seed"],
                          error=r.get("error"))
                  for r in store.rows if r["status"] == Status.FAILED])
