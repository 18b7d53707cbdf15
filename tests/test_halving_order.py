"""Synchronous halving decides from the set of a rung's scores, never from the order in which
trials arrived (issue 25 item 6): hypothesis permutes the arrival order of a rung's rows and
checks that the same candidates are stopped, with the same log — and that they are the ones
below the ⌈n/η⌉-th best mean, computed here."""

from __future__ import annotations

import math
import statistics
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from scalesearch.coefsearch.halving import cut
from scalesearch.coefsearch.trials import TrialStore
from scalesearch.util.status import Status

SCORES = st.sampled_from([10.0, 12.5, 15.0, 17.5, 20.0, 25.0, 30.0, 40.0])  # ties are common


@st.composite
def rungs(draw):
    n = draw(st.integers(2, 7))
    table = {(1.0 + i / 10, 1.0, 1.0): draw(st.lists(SCORES, min_size=2, max_size=2))
             for i in range(n)}
    rows = [dict(alpha=k[0], beta=k[1], gamma=k[2], seed=s, epochs=2, status=Status.PAUSED,
                 history=f"5;{v}", top1=v)
            for k, scores in table.items() for s, v in enumerate(scores)]
    return table, rows, draw(st.permutations(range(len(rows))))


def _cut(rows: list[dict], eta: float, guard: bool, chance: float | None):
    """The rows arrive one by one, as Ray reports them; then the rung is cut."""
    with tempfile.TemporaryDirectory() as folder:
        store, lines = TrialStore(Path(folder) / "trials.csv"), []
        for r in rows:
            store.append([dict(r)])
        cut(store, 0, 2, eta, lines.append, chance, guard)
        stopped = {(r["alpha"], r["beta"], r["gamma"]) for r in store.rows
                   if r["status"] == Status.STOPPED}
        return stopped, lines


@settings(max_examples=60, deadline=None)
@given(rungs(), st.sampled_from([2.0, 3.0]), st.booleans(), st.sampled_from([None, 12.5]))
def test_a_rung_stops_the_same_candidates_whatever_the_arrival_order(rung, eta, guard, chance):
    table, rows, order = rung
    stopped, lines = _cut(rows, eta, guard, chance)
    assert _cut([rows[i] for i in order], eta, guard, chance) == (stopped, lines)
    if stopped:  # the ⌈n/η⌉ best means go on, and any tied with the last of them
        means = {k: statistics.fmean(v) for k, v in table.items()}
        bar = sorted(means.values(), reverse=True)[math.ceil(len(means) / eta) - 1]
        assert stopped == {k for k, m in means.items() if m < bar - 1e-9}
