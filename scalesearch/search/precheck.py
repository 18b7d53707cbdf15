"""What a search refuses before anything is written or trained: TPE ranges that cannot reach
α·β²·γ² = 2, and a trial asking for more CPUs or GPUs than the machine or cluster has."""

from __future__ import annotations

import os

from scalesearch.errors import ScalesearchError


def check_request(cpus_per_trial: int, gpus_per_trial: float, cpus: int, gpus: float) -> None:
    """Refuse a trial that asks for more CPUs or GPUs than the cluster has."""
    if cpus_per_trial > cpus:
        raise ScalesearchError(f"--cpus-per-trial {cpus_per_trial} exceeds the cluster's "
                               f"{cpus} CPUs")
    if gpus_per_trial > gpus:
        raise ScalesearchError(f"--gpus-per-trial {gpus_per_trial:g} exceeds the cluster's "
                               f"{gpus:g} GPUs")


def check_search(cfg) -> None:
    """Every up-front check of a search's settings that needs neither its grid nor data."""
    from scalesearch.search.space import alpha_bounds

    if cfg.sampler == "tpe":
        alpha_bounds(cfg.ranges)  # refuses ranges where no α, β, γ reaches the constraint
    check_placement(cfg)


def check_placement(cfg) -> None:
    """The local machine's cores and GPUs (what a local Ray runtime gets), or a cluster's
    resources when ``cfg.address`` names one (joined, read and left again)."""
    if cfg.address is None:
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        check_request(cfg.cpus_per_trial, cfg.gpus_per_trial, os.cpu_count() or 1, gpus)
        return
    from scalesearch.search.runner import connect

    ray, owned = connect(cfg.address)
    try:
        res = ray.cluster_resources()
        check_request(cfg.cpus_per_trial, cfg.gpus_per_trial, int(res.get("CPU", 1)),
                      float(res.get("GPU", 0)))
    finally:
        if owned:
            ray.shutdown()
