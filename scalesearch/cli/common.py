"""Output helpers shared by subcommands (option declarations: :mod:`scalesearch.options`)."""

from __future__ import annotations

import argparse
import json
import sys


def add_format(parser: argparse.ArgumentParser, choices=("table", "json")) -> None:
    """Add ``--format`` with ``choices`` (the first is the default)."""
    parser.add_argument("--format", choices=choices, default=choices[0],
                        help=f"output format (default: {choices[0]})")


def print_json(obj: object) -> None:
    """Print ``obj`` to stdout as indented strict JSON (NaN/inf as null)."""
    from scalesearch.util.io import json_safe

    json.dump(json_safe(obj), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
