"""``scalesearch report``: write a run folder's ``report.html`` again from its files."""

from __future__ import annotations

import argparse

from scalesearch.cli.common import add_format, print_json

EXAMPLES = """examples:
  scalesearch report runs/b0                  # a search: also fidelity/ and compare runs in it
  scalesearch report runs/cmp --format json   # {"report": ..., "bytes": ..., "kind": ...}
  scalesearch report studies/results/b0_synthetic
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    p = sub.add_parser(
        "report", help="write report.html: one self-contained page for a run folder",
        description="Read the files of a search, fidelity, compare or study folder and write "
        "RUN_DIR/report.html (atomically): the answer with its evidence, the tables, the plots "
        "embedded, the settings, versions and timings, and links to the reports of the runs "
        "it holds (written first). The page loads nothing from the network.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder written by search, fidelity, "
                   "compare or study")
    add_format(p, ("text", "json"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``scalesearch report``: print the path written (or its JSON description)."""
    from scalesearch.report.page import write_report
    from scalesearch.report.sections import folder_kind

    path = write_report(args.run_dir)
    if args.format == "json":
        print_json(dict(report=str(path), bytes=path.stat().st_size,
                        kind=folder_kind(path.parent)))
    else:
        print(path)
    return 0
