"""``trials.csv``: one row per (candidate, seed), the search's source of truth. Every append
rewrites the file atomically, so a killed run leaves the rows of every finished trial and
nothing half-written; ``--resume`` skips what the file already holds. A ``paused`` row
(synchronous successive halving) is not finished: it names the checkpoint its candidate
continues from, and a later row for the same (candidate, seed) replaces it."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from scalesearch.io import atomic_open
from scalesearch.status import Status

# flops/params/flops_ratio: the φ=1 network at the baseline's own size and the resolution it is
# trained at (γ, or the matched resolution); nominal_ratio: the same at γ; image_size: the proxy
# size trained; activations(_ratio): output elements of conv/linear layers (pycls), like FLOPs;
# epochs: epochs trained; rung: the highest ASHA rung reached (0 = the first);
# history: the val top-1 after each evaluated epoch, ';'-separated; checkpoint: a paused row's
# Ray Tune checkpoint folder (relative to the run folder when inside it).
COLUMNS = ("alpha", "beta", "gamma", "product", "depth", "width", "resolution",
           "matched_resolution", "image_size", "params", "flops", "flops_ratio", "nominal_ratio",
           "activations", "activations_ratio", "proxy_flops", "seed", "epochs", "rung", "top1",
           "loss", "history", "images", "seconds", "images_per_sec", "status", "error",
           "checkpoint")
FLOATS = {"alpha", "beta", "gamma", "product", "depth", "width", "resolution",
          "matched_resolution", "flops_ratio", "nominal_ratio", "activations_ratio", "top1",
          "loss", "seconds", "images_per_sec"}
INTS = {"image_size", "params", "flops", "activations", "proxy_flops", "seed", "epochs", "rung",
        "images"}


def _parse(row: dict[str, str]) -> dict:
    out: dict = {}
    for key in COLUMNS:
        text = row.get(key, "")
        if text == "":
            out[key] = None
        elif key in FLOATS:
            out[key] = float(text)
        elif key in INTS:
            out[key] = int(text)
        else:
            out[key] = text
    return out


def trial_key(row: dict) -> tuple[float, float, float, int]:
    """(α, β, γ, seed) of a row, rounded as stored: its identity in trials.csv."""
    return (round(row["alpha"], 6), round(row["beta"], 6), round(row["gamma"], 6), row["seed"])


class TrialStore:
    """The rows of trials.csv, read from ``path`` when it exists; every append rewrites it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.rows: list[dict] = []
        if self.path.exists():
            with self.path.open(newline="") as f:
                self.rows = [_parse(r) for r in csv.DictReader(f)]

    def done(self) -> set[tuple[float, float, float, int]]:
        """Keys of finished rows (every status but paused)."""
        return {trial_key(r) for r in self.rows if r["status"] != Status.PAUSED}

    def append(self, rows: list[dict]) -> None:
        """Add rows; a row replaces a stored paused row of its (α, β, γ, seed), and is skipped
        when a finished one is stored."""
        done = self.done()
        new = {trial_key(r): r for r in rows if trial_key(r) not in done}
        if not new:
            return
        self.rows = [r for r in self.rows if trial_key(r) not in new] + list(new.values())
        with atomic_open(self.path, "w") as f:
            writer = csv.DictWriter(f, COLUMNS, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            for r in self.rows:
                writer.writerow({k: _format(r.get(k)) for k in COLUMNS})


def _format(v: object) -> object:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, float):
        return repr(round(v, 6))
    return v
