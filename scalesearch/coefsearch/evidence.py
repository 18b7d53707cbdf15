"""Evidence for candidates a scheduler stopped (docs/search.md, "Evidence over every candidate").

A stopped candidate is compared like with like: at the rung where it stopped (epoch m_k), with
every candidate scored at m_k — the survivors' scores at that same epoch, not their final ones.
For each stopped candidate this gives its mean at m_k, the cut (the lowest mean at m_k among the
candidates that went on), how far it missed the cut, and ``rung_p_best``: its probability of
being the best of all candidates at m_k (the pooled noise model of :mod:`.stats`). A stopped
candidate with ``rung_p_best`` ≥ ``stats.TIE_P`` (2%) is **not ruled out**: when it was
stopped, the seeds could not tell it from the best. A winner is ``separated`` only if it is
alone in the final tied set and no stopped candidate is left not ruled out (with one seed
nothing is measured, and nothing is separated).
"""

from __future__ import annotations

import math
import statistics
from typing import TypedDict

from scalesearch.coefsearch.space import Candidate
from scalesearch.coefsearch.stats import SEARCH_OWN_SD, TIE_P, p_best
from scalesearch.coefsearch.trials import scores_at
from scalesearch.util.status import Status


def _reached(rows: list[dict]) -> dict[tuple, tuple[int, int | None]]:
    """Per candidate: (epochs trained, the rung it was stopped at or None)."""
    out: dict[tuple, tuple[int, int | None]] = {}
    for r in rows:
        if r["status"] == Status.REJECTED:
            continue
        key = Candidate.key_of(r)
        epochs, rung = out.get(key, (0, None))
        out[key] = (max(epochs, r["epochs"] or 0),
                    r["rung"] if r["status"] == Status.STOPPED else rung)
    return out


def stopped_evidence(rows: list[dict]) -> dict[tuple, dict]:
    """For each candidate stopped at a rung: stop_rung, stop_epoch, rung_mean, cut, missed_by,
    rung_p_best (None with one seed) and ruled_out (None when unmeasured)."""
    reached = _reached(rows)
    out: dict[tuple, dict] = {}
    for epoch in sorted({e for e, rung in reached.values() if rung is not None}):
        here = [key for key, (e, rung) in reached.items() if rung is not None and e == epoch]
        scores = scores_at(rows, epoch)
        if not here or not scores:
            continue
        means = {key: statistics.fmean(v) for key, v in scores.items()}
        on = [means[key] for key in scores if reached.get(key, (0, None))[0] > epoch]
        p = p_best(scores, own_sd=SEARCH_OWN_SD)  # None: one seed measures no noise
        cut = min(on) if on else math.nan
        for key in here:
            if key not in scores:
                continue
            pb = None if p is None else p[key]
            out[key] = dict(stop_rung=reached[key][1], stop_epoch=epoch, rung_mean=means[key],
                            cut=cut, missed_by=cut - means[key], rung_p_best=pb,
                            ruled_out=None if pb is None else pb < TIE_P)
    return out


class Stopped(TypedDict):
    """A rung's stopped candidates: how many, and by how much they missed its cut (points)."""

    rung: int
    epoch: int
    stopped: int
    cut: float
    missed_min: float
    missed_max: float
    not_ruled_out: int


def stopped_summary(evidence: dict[tuple, dict]) -> list[Stopped]:
    """Per rung: how many were stopped there and by how much they missed the cut (points)."""
    by_rung: dict[int, list[dict]] = {}
    for e in evidence.values():
        by_rung.setdefault(e["stop_rung"], []).append(e)
    return [Stopped(rung=k, epoch=v[0]["stop_epoch"], stopped=len(v), cut=v[0]["cut"],
                 missed_min=min(e["missed_by"] for e in v),
                 missed_max=max(e["missed_by"] for e in v),
                 not_ruled_out=sum(not_ruled_out(e["ruled_out"]) for e in v))
            for k, v in sorted(by_rung.items())]


def not_ruled_out(ruled_out) -> bool:
    """True for a stopped candidate the seeds could not tell from the best at its rung (None,
    NaN: not stopped, or unmeasured)."""
    return ruled_out is not None and ruled_out == ruled_out and not bool(ruled_out)
