"""What a search refuses before anything is written or trained: TPE ranges that cannot reach
α·β²·γ² = 2, and a trial asking for more CPUs or GPUs than the machine or cluster has."""

from __future__ import annotations

from scalesearch.training.cluster import check_placement


def check_search(cfg) -> None:
    """Every up-front check of a search's settings that needs neither its grid nor data."""
    from scalesearch.coefsearch.space import alpha_bounds

    if cfg.sampler == "tpe":
        alpha_bounds(cfg.ranges)  # refuses ranges where no α, β, γ reaches the constraint
    check_placement(cfg.placement)
