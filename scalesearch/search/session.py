"""One search in one output folder: check the folder (fresh, or resumable with the same
settings), build the filtered space, run the pending trials, write the reports."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from scalesearch.data import check_data
from scalesearch.errors import ScalesearchError
from scalesearch.io import write_json
from scalesearch.registry import portable_spec, resolve
from scalesearch.search.report import write_outputs
from scalesearch.search.runner import SearchConfig, plan, run_trials
from scalesearch.search.space import build_space
from scalesearch.search.trials import TrialStore


def _check_out(out: Path, cfg: SearchConfig, resume: bool) -> None:
    saved = out / "search.json"
    if not resume:
        if saved.exists() or (out / "trials.csv").exists():
            raise ScalesearchError(f"{out} already holds a search; pass --resume to continue "
                                   "it, or choose another --out")
        return
    if not saved.exists():
        raise ScalesearchError(f"nothing to resume: {saved} not found")
    try:
        before = json.loads(saved.read_text())["config"]
    except (json.JSONDecodeError, KeyError) as err:
        raise ScalesearchError(f"{saved} is unreadable ({err}); start a new --out") from None
    now = json.loads(json.dumps(cfg.to_dict()))
    changed = sorted(k for k in now if before.get(k) != now[k])
    if changed:
        raise ScalesearchError(f"--resume with different settings ({', '.join(changed)}) than "
                               f"the search in {out}; use the same flags or another --out")


def run_search(cfg: SearchConfig, out: str | Path, *, resume: bool = False,
               log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> dict:
    """Run (or resume) the φ=1 search into ``out``; returns the summary (best, ranking, family)."""
    out = Path(out)
    baseline = resolve(cfg.baseline)
    check_data(cfg.setup.data)  # fail here, not inside every Ray trial
    _check_out(out, cfg, resume)
    start = time.perf_counter()
    space = build_space(baseline, cfg.ranges, cfg.tolerance, cfg.flops_tolerance)
    log(space.summary())
    if not space.candidates and cfg.sampler == "grid":
        raise ScalesearchError("no candidate survives the filters; widen --tolerance/"
                               "--flops-tolerance or the ranges, or refine --grid-step")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "search.json", dict(config=cfg.to_dict(), space=dict(
        total=space.total, removed_formula=space.removed_formula,
        removed_measured=space.removed_measured,
        candidates=[c.to_dict() for c in space.candidates])))
    store = TrialStore(out / "trials.csv")
    ran = run_trials(replace(cfg, baseline=portable_spec(cfg.baseline)), space, store, log)
    remaining = plan(cfg, store, space)[1]
    if remaining:
        log(f"search incomplete: {remaining} trial(s) left; continue with --resume")
    meta = dict(complete=not remaining, baseline=baseline.name, data=cfg.setup.data,
                proxy_size=cfg.setup.proxy_size,
                epochs=cfg.setup.train.epochs, sampler=cfg.sampler,
                candidates=len(space.candidates),
                trials=len(store.rows), tolerance=cfg.tolerance,
                flops_tolerance=cfg.flops_tolerance)
    summary = write_outputs(out, store.rows, baseline, meta)
    summary.update(out=str(out), space=space.summary(), trials_run=ran, remaining=remaining,
                   seconds=round(time.perf_counter() - start, 1))
    return summary
