"""Synchronous successive halving (SHA; Jamieson & Talwalkar 2016, the synchronous form of
Li et al.'s ASHA) over the φ=1 grid, as a plan of rungs (:func:`rung_plan`) that
:mod:`scalesearch.coefsearch.runner` plays in one Ray Tune run.

Rungs sit at ``min_epochs``·η^k epochs below the last one. At rung k every live candidate
trains to m_k (from its checkpoint of the previous rung), and only once every one of them has
reported is the cut taken: the ⌈n/η⌉ best by mean val top-1 at m_k go on (a tie at the cut goes
on too), over all n candidates that reached m_k — but only at a rung the seeds can rank
(:func:`~scalesearch.coefsearch.reliability.reliability`: the seed-split τ's interval above 0 and
not every mean within noise of chance); at any other rung every candidate goes on, and the log
says why. With one seed nothing is measured and the rung cuts. The decision is a function of
the scores alone, so the search gives the same answer whatever order its trials start or finish
in, and it is recomputed from trials.csv on ``--resume`` (idempotent): a run killed mid-rung
loses nothing.
"""

from __future__ import annotations

import math
import random
import shutil
import statistics
from collections.abc import Callable, Generator
from functools import partial
from pathlib import Path

from scalesearch.coefsearch.reliability import describe, in_seed_order, reliability
from scalesearch.coefsearch.space import Candidate
from scalesearch.coefsearch.trials import TrialStore, checkpoint_path, seed_scores_at
from scalesearch.errors import ScalesearchError
from scalesearch.util.fmt import ranked_value
from scalesearch.util.status import Status


def survivors(scores: dict[tuple, list[float]], eta: float,
              keep: int | None = None) -> set[tuple]:
    """The ⌈n/η⌉ candidates with the best mean score (``keep`` of them where given: a
    re-planned cut), and any tied with the last of them."""
    if not scores:
        return set()
    means = {k: round(statistics.fmean(v), 9) for k, v in scores.items()}
    keep = min(len(means), keep or math.ceil(len(means) / eta))
    cut = sorted(means.values(), reverse=True)[keep - 1]
    return {k for k, m in means.items() if m >= cut}


def stored_path(out: Path, path: str) -> str:
    """How trials.csv names a checkpoint folder: relative to the run folder when inside it."""
    p, out = Path(path).resolve(), out.resolve()
    return str(p.relative_to(out)) if p.is_relative_to(out) else str(p)


def drop_checkpoint(out: Path, stored: str | None) -> None:
    """Delete a checkpoint and the Ray trial folder around it (a stopped or finished candidate,
    or a survivor's previous rung); a path that resolves outside the run's checkpoint
    storage is refused (:func:`~.trials.checkpoint_path`), never removed."""
    try:
        path = checkpoint_path(out, stored)
    except ValueError as err:
        raise ScalesearchError(f"{out / 'trials.csv'}: {err}; repair or remove the file") \
            from None
    if path is not None:
        shutil.rmtree(path.parent, ignore_errors=True)


def reached(store: TrialStore, key: tuple) -> int:
    """The epoch a candidate's paused seeds have all reached (0: none paused)."""
    return min((r["epochs"] or 0 for r in store.rows
                if Candidate.key_of(r) == key and r["status"] == Status.PAUSED), default=0)


def cut(store: TrialStore, rung: int, epoch: int, eta: float,
        log: Callable[[str], None], chance: float | None = None, guard: bool = True,
        replan: Callable[[int], int] | None = None, ranked: str = "top-1") -> None:
    """Stop the candidates paused at ``epoch`` that are not among the rung's survivors, if the
    seeds can rank the rung or ``guard`` is off (module docstring); ``chance`` is the top-1 of
    a guess (%); ``replan(⌈n/η⌉)``: how many go on instead (``--budget`` behind its pace,
    :meth:`.budget.Pace.replan`); ``ranked``: what the scores are (``ProxySetup.ranked``)."""
    table = seed_scores_at(store.rows, epoch)
    scores = in_seed_order(table)
    evidence = reliability(table, chance)
    if guard and evidence["verdict"] != "unmeasured" and not evidence["rankable"]:
        log(f"rung {rung} (epoch {epoch}): no cut, all {len(scores)} candidates go on: the "
            f"seeds cannot rank them here ({describe(evidence)})")
        return
    planned = math.ceil(len(scores) / eta)
    keep = survivors(scores, eta, replan(planned) if replan else planned)
    out = store.path.parent
    stopped = [r for r in store.rows if r["status"] == Status.PAUSED and r["epochs"] == epoch
               and Candidate.key_of(r) not in keep]
    if not stopped:
        return
    means = {k: statistics.fmean(v) for k, v in scores.items()}
    bar = min(means[k] for k in keep)
    log(f"rung {rung} (epoch {epoch}): {len(keep)} of {len(scores)} candidates go on "
        f"(mean {ranked_value(ranked, bar, relation='≥ ')}); "
        f"{len({Candidate.key_of(r) for r in stopped})} stopped")
    for r in stopped:
        drop_checkpoint(out, r.get("checkpoint"))
    store.append([dict(r, status=Status.STOPPED, rung=rung, checkpoint=None) for r in stopped])


def rung_plan(keys: list[tuple], seeds: list[int], rungs: list[int], eta: float,
              store: TrialStore, order_seed: int = 0, log: Callable[[str], None] = print,
              chance: float | None = None, guard: bool = True,
              replan: Callable[[int, int], int] | None = None, ranked: str = "top-1"
              ) -> Generator[tuple[list[int], int], None, bool]:
    """Successive halving over the candidates ``keys`` (their grid indices are their
    positions) as a plan: yields (grid indices, epoch) — train these candidates to ``epoch``
    — and is resumed once they have; returns True once every candidate is finished, False
    when a rung's trainings did not all arrive (interrupted, or trials lost: ``--resume``
    continues there). Trials start in an order shuffled by ``order_seed`` — which must not,
    and does not, change any decision. ``chance``: the top-1 of a guess (%), below whose
    noise no rung cuts; ``guard`` False cuts at every rung, rankable or not
    (``--cut-unrankable``); ``replan(k, ⌈n/η⌉)``: how many go on at rung k instead;
    ``ranked``: what the scores are, as the cuts' lines name it."""

    def live(key: tuple) -> bool:
        done = store.done()
        return any((*key, s) not in done for s in seeds)

    for k, epoch in enumerate(rungs):
        behind = [i for i, key in enumerate(keys) if live(key) and reached(store, key) < epoch]
        if behind:
            random.Random(order_seed + k).shuffle(behind)
            log(f"rung {k}: training {len(behind)} candidate(s) to epoch {epoch} of "
                f"{rungs[-1]}")
            yield behind, epoch
            if any(live(keys[i]) and reached(store, keys[i]) < epoch for i in behind):
                return False  # interrupted, or trials lost: --resume continues here
        if epoch < rungs[-1]:
            cut(store, k, epoch, eta, log, chance, guard,
                None if replan is None else partial(replan, k), ranked)
    return not any(live(key) for key in keys)
