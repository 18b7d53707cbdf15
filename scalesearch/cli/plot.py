"""``scalesearch plot``: redraw the PNGs of a compare, search or study folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from scalesearch.errors import ScalesearchError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``plot`` subcommand."""
    p = sub.add_parser("plot", help="regenerate the plots of a compare/search/study folder",
                       description="Redraw every PNG from the CSVs in DIR (compare.csv, "
                       "table3.csv, trials.csv) without training.")
    p.add_argument("dir", help="folder written by compare, search or study")
    p.set_defaults(func=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    """``scalesearch plot``: redraw the PNGs of a compare/search/study folder and print
    their paths."""
    from scalesearch.experiments import plot_dir

    folder = Path(args.dir)
    if not folder.is_dir():
        raise ScalesearchError(f"not a folder: {folder}")
    written = plot_dir(folder)
    if not written:
        raise ScalesearchError(f"no compare.csv (trained), table3.csv or trials.csv in {folder}")
    for path in written:
        print(path)
    return 0
