"""compare.csv: one row per network × seed, in Table 3's order (by target ratio, the
baseline first, then the strategies, then the seed); the comparison's run folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scalesearch.settings.compare import STRATEGIES
from scalesearch.training.rundir import RowStore, RunFolder
from scalesearch.training.runfiles import read_csv
from scalesearch.util.io import write_frame

ORDER = {s: i for i, s in enumerate(("baseline", *STRATEGIES))}


def sorted_rows(rows: list[dict]) -> pd.DataFrame:
    """``rows`` as a frame in Table 3's order: target ratio, strategy (baseline first), seed."""
    df = pd.DataFrame(rows)
    df["_o"] = df["strategy"].map(ORDER)
    keys = [k for k in ("target_ratio", "_o", "seed") if k in df]
    return df.sort_values(keys).drop(columns="_o").reset_index(drop=True)


class CompareRows(RowStore):
    """compare.csv: one row per network × seed, keyed by (strategy, target ratio, seed)."""

    def key(self, row: dict) -> tuple:
        """(strategy, target ratio, seed)."""
        return (row["strategy"], round(float(row["target_ratio"]), 6), int(row["seed"]))

    def read(self) -> list[dict]:
        """The stored rows (pandas: an empty cell is NaN), checked (:mod:`.runfiles`)."""
        return read_csv(self.path).to_dict("records")

    def write(self) -> None:
        """Rewrite compare.csv atomically, sorted by target ratio, strategy (baseline first)
        and seed."""
        write_frame(self.path, sorted_rows(self.rows))


def compare_folder(path: str | Path) -> RunFolder:
    """A comparison's run folder: compare.json and compare.csv."""
    return RunFolder(path, "comparison", "compare.json", "compare.csv", CompareRows)
