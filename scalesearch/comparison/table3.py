"""Table 3 with the paper's own multipliers (rows from ``strategies.paper_rows``): the
Markdown table and the files a ``--paper-table3`` run or a ``paper-table3`` study writes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scalesearch.comparison.plots import plot_table3
from scalesearch.util.fmt import human
from scalesearch.util.io import write_frame, write_text


def table3_markdown(rows: list[dict]) -> str:
    """Our counts beside the paper's, one line per network × strategy."""
    lines = ["| network | strategy | d | w | r | image | params | FLOPs (ours) | FLOPs (paper) "
             "| ours/paper | paper top-1 |", "|---" * 11 + "|"]
    for r in rows:
        lines.append(f"| {r['baseline']} | {r['strategy']} | {r['depth']:g} | {r['width']:g} | "
                     f"{r['resolution']:g} | {r['image_size']} px | {human(r['params'])} | "
                     f"{human(r['flops'], 'FLOPs')} | {human(r['paper_flops'], 'FLOPs')} | "
                     f"{r['flops_vs_paper']:.3f} | {r['paper_top1']:.1f} |")
    return "\n".join(lines) + "\n"


def write_table3(out: Path, rows: list[dict]) -> list[Path]:
    """table3.csv, table3.md and table3.png in ``out``."""
    frame = pd.DataFrame(rows)
    write_frame(out / "table3.csv", frame)
    write_text(out / "table3.md", table3_markdown(rows))
    plot_table3(frame, out / "table3.png")
    return [out / "table3.csv", out / "table3.md", out / "table3.png"]
