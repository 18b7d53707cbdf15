"""``trials.csv``: one row per (candidate, seed), the search's source of truth (a
:class:`~scalesearch.rundir.RowStore`: every append rewrites the file atomically, so a killed
run leaves the rows of every finished trial and nothing half-written; ``--resume`` skips what
the file already holds). A ``paused`` row
(synchronous successive halving) is not finished: it names the checkpoint its candidate
continues from, and a later row for the same (candidate, seed) replaces it."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from scalesearch.io import atomic_open
from scalesearch.rundir import RowStore, RunFolder

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


class TrialStore(RowStore):
    """trials.csv: rows keyed by (α, β, γ, seed) (:func:`trial_key`), in :data:`COLUMNS`."""

    def key(self, row: dict) -> tuple:
        """(α, β, γ, seed), rounded as stored."""
        return trial_key(row)

    def read(self) -> list[dict]:
        """The rows of trials.csv, typed (:data:`FLOATS`, :data:`INTS`; empty cells None)."""
        with self.path.open(newline="") as f:
            return [_parse(r) for r in csv.DictReader(f)]

    def write(self) -> None:
        """Rewrite trials.csv atomically, columns in :data:`COLUMNS` order."""
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


def search_folder(path: str | Path) -> RunFolder:
    """A search's run folder: search.json and trials.csv."""
    return RunFolder(path, "search", "search.json", "trials.csv", TrialStore)
