"""Which candidates the fidelity check retrains (scalesearch.coefsearch.fidelity.choose), and
how much harder it trains them (reference_config)."""

from __future__ import annotations

import pandas as pd
import pytest

from scalesearch.coefsearch.fidelity import choose, reference_config
from scalesearch.errors import ScalesearchError
from scalesearch.settings import FidelityConfig, ProxySetup, SearchConfig, TrainConfig


def _rank() -> pd.DataFrame:
    keys = [(1.0, 1.0 + i / 20, 1.1) for i in range(8)]  # best first, as ranking() orders
    return pd.DataFrame([dict(alpha=a, beta=b, gamma=g, status="ok") for a, b, g in keys])


def test_the_top_and_random_others_without_repeats():
    rank = _rank()
    keys = choose(rank, 3, 2, seed=0)
    assert keys[:3] == [tuple(k) for k in rank[["alpha", "beta", "gamma"]].values[:3]]
    assert len(keys) == len(set(keys)) == 5


def test_the_searchs_chosen_winner_is_retrained_even_from_below_the_top():
    """A tie-break (balanced, or p_best among close p_bests) can choose the 5th; 'same
    winner' needs it retrained."""
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


def test_the_reference_trains_longer_larger_and_on_more_images_only_when_asked():
    search = SearchConfig(setup=ProxySetup(proxy_size=48, num_train=320,
                                           train=TrainConfig(epochs=5)), seeds=2)
    default = reference_config(search, FidelityConfig())
    assert (default.setup.train.epochs, default.setup.proxy_size, default.setup.num_train,
            default.seeds, default.scheduler) == (20, 96, 320, 2, "none")
    harder = reference_config(search, FidelityConfig(epochs=8, proxy_size=64, num_train=2000,
                                                     seeds=3))
    assert (harder.setup.train.epochs, harder.setup.proxy_size, harder.setup.num_train,
            harder.seeds) == (8, 64, 2000, 3)
    assert harder.setup.num_val == search.setup.num_val  # the same validation images
    with pytest.raises(ScalesearchError, match=r"--num-train must be a whole number ≥ 2, got 1"):
        FidelityConfig(num_train=1)
