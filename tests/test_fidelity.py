"""Which candidates the fidelity check retrains (scalesearch.coefsearch.fidelity.choose)."""

from __future__ import annotations

import pandas as pd

from scalesearch.coefsearch.fidelity import choose


def _rank() -> pd.DataFrame:
    keys = [(1.0, 1.0 + i / 20, 1.1) for i in range(8)]  # best first, as ranking() orders
    return pd.DataFrame([dict(alpha=a, beta=b, gamma=g, status="ok") for a, b, g in keys])


def test_the_top_and_random_others_without_repeats():
    rank = _rank()
    keys = choose(rank, 3, 2, seed=0)
    assert keys[:3] == [tuple(k) for k in rank[["alpha", "beta", "gamma"]].values[:3]]
    assert len(keys) == len(set(keys)) == 5


def test_the_searchs_chosen_winner_is_retrained_even_from_below_the_top():
    """The balanced tie-break can choose the 5th; 'same winner' needs it retrained."""
    rank = _rank()
    fifth = tuple(rank[["alpha", "beta", "gamma"]].values[4])
    for seed in range(5):  # whatever the random pick
        keys = choose(rank, 3, 0, seed, winner=fifth)
        assert fifth in keys and len(keys) == 4
    assert len(choose(rank, 3, 0, 0, winner=tuple(rank.iloc[0][["alpha", "beta", "gamma"]]))) == 3


def test_adding_the_winner_leaves_the_random_pick_as_it_was():
    """A check resumed or rerun with the winner included retrains the same random others."""
    rank = _rank()
    fifth = tuple(rank[["alpha", "beta", "gamma"]].values[4])
    for seed in range(5):
        assert set(choose(rank, 3, 2, seed)) <= set(choose(rank, 3, 2, seed, winner=fifth))
