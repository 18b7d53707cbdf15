"""Matplotlib for result figures: headless backend, imported only when a plot is drawn, and
PNGs written atomically (temp file + rename) like every other result file."""

from __future__ import annotations

from pathlib import Path

from scalesearch.util.io import atomic_open


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display on CI or servers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG atomically, close it, return the path."""
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120, bbox_inches="tight")
    pyplot().close(fig)
    return path
