"""Outcome of one training run (a row of trials.csv or compare.csv)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """``ok``: trained and evaluated; ``failed``: diverged or crashed (reason in ``error``);
    ``rejected``: never trained (outside the measured-FLOPs filter); ``stopped``: ended early
    by the scheduler (SHA, ASHA) — finished, with the score of the last rung it reached;
    ``paused``: trained to a rung of synchronous successive halving, its state in a checkpoint —
    not finished."""

    OK = "ok"
    FAILED = "failed"
    REJECTED = "rejected"
    STOPPED = "stopped"
    PAUSED = "paused"
