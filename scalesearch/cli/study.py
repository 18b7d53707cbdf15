"""``scalesearch study``: run an experiment described by a YAML file (studies/README.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from scalesearch.options import add_study_args, placement_from_args, tracking_from_args
from scalesearch.training.rundir import check_out


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``study`` subcommand."""
    p = sub.add_parser("study", help="run an experiment described by a YAML file",
                       description="Run studies/NAME.yaml (a compare or paper-table3 "
                       "experiment) and write into results/NAME/ beside the file.")
    p.add_argument("file", help="study YAML, e.g. studies/b0_synthetic.yaml")
    p.add_argument("--out", help="output folder (default: results/NAME next to the YAML)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted study")
    add_study_args(p)
    p.set_defaults(func=run_study)


def run_study(args: argparse.Namespace) -> int:
    """``scalesearch study``: run a study YAML and print the paths it wrote."""
    from scalesearch.study import run_study

    check_out(args.out)
    for path in run_study(Path(args.file), Path(args.out) if args.out else None, args.resume,
                          placement_from_args(args), tracking_from_args(args)):
        print(path)
    return 0
