"""``scalesearch compare``: scaling strategies at matched FLOPs (docs/compare.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from scalesearch.cli.common import add_format, print_json
from scalesearch.errors import ScalesearchError
from scalesearch.options import (
    add_compare_args,
)
from scalesearch.training.rundir import check_out
from scalesearch.util.fmt import human, mean_spread, render_table

EXAMPLES = """examples:
  scalesearch compare --baseline resnet50 --paper-table3 --no-train --format json
  scalesearch compare --baseline efficientnet-b0 --flops-ratio 2 4 --no-train
  scalesearch compare --baseline mobilenet-v2 --flops-ratio 3 --seeds 2 --out runs/cmp
  scalesearch compare --baseline mobilenet-v2 --strategies compound,fast,nonuniform \\
      --max-image-size 256 --latency --no-train
  scalesearch plot runs/cmp
  scalesearch study studies/b0_synthetic.yaml
  scalesearch compare --baseline resnet50 --flops-ratio 4 8 --seeds 3 --address auto \\
      --gpus-per-trial 0.5 --out runs/cmp-cluster
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand."""
    p = sub.add_parser(
        "compare", help="compare scaling strategies (depth, width, resolution, compound, fast, "
        "nonuniform) at matched FLOPs",
        description="For each target FLOPs ratio, every strategy solves its own multiplier so "
        "the measured FLOPs of the rounded network land closest to ratio × baseline (Table 3, "
        "Figure 8); then each network is proxy-trained with the same budget, unless --no-train.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_compare_args(p)
    p.add_argument("--paper-table3", action="store_true", help="the paper's own Table 3 "
                   "multipliers (Table 7 for efficientnet-b0), our FLOPs beside the paper's")
    add_format(p, ("table", "json", "markdown"))
    p.set_defaults(func=run_compare_cmd)

def _table3(args: argparse.Namespace) -> int:
    from scalesearch.comparison.strategies import paper_rows
    from scalesearch.comparison.table3 import table3_markdown, write_table3
    from scalesearch.scaling.registry import resolve

    if not args.no_train:
        raise ScalesearchError("--paper-table3 reproduces the FLOPs column: add --no-train "
                               "(the paper's top-1 is ImageNet; train with `compare --flops-"
                               "ratio` instead)")
    rows = paper_rows(resolve(args.baseline))
    check_out(args.out)
    if args.out:
        write_table3(Path(args.out), rows)
    if args.format == "json":
        print_json(rows)
    elif args.format == "markdown":
        print(table3_markdown(rows), end="")
    else:
        print(render_table([dict(strategy=r["strategy"], d=r["depth"], w=r["width"],
                                 r=r["resolution"], px=r["image_size"],
                                 params=human(r["params"]), flops=human(r["flops"], "FLOPs"),
                                 paper=human(r["paper_flops"], "FLOPs"),
                                 **{"ours/paper": round(r["flops_vs_paper"], 3)}) for r in rows]))
        for r in rows:
            if r["note"]:
                print(f"note ({r['strategy']}): {r['note']}")
    return 0


def run_compare_cmd(args: argparse.Namespace) -> int:
    """``scalesearch compare``: the strategies at matched FLOPs (Table 3), or with
    ``--paper-table3`` the paper's own multipliers counted; prints the summary."""
    from scalesearch.comparison.summary import markdown
    from scalesearch.experiments import run_compare_options

    if args.paper_table3:
        return _table3(args)
    result = run_compare_options(args)
    summary, out = result.summary, result.out
    name = summary["baseline"].iloc[0]  # the resolved baseline's name
    if args.format == "json":
        print_json(summary.to_dict("records"))
    elif args.format == "markdown":
        print(markdown(summary, name), end="")
    else:
        cols = ["strategy", "target_ratio", "depth", "width", "resolution", "image_size",
                "params", "flops", "flops_ratio", "activations_ratio"]
        cols += ["latency_ms"] if "latency_ms" in summary and summary["latency_ms"].notna().any() \
            else []
        cols += ["top1_mean", "top1_std", "seeds"] if "top1_mean" in summary else []
        rows = summary[cols].to_dict("records")
        for r in rows:
            r["params"], r["flops"] = human(r["params"]), human(r["flops"], "FLOPs")
            r["flops_ratio"], r["activations_ratio"] = (round(r["flops_ratio"], 3),
                                                        round(r["activations_ratio"], 3))
            if "latency_ms" in r:
                r["latency_ms"] = round(r["latency_ms"], 2)
            if "top1_mean" in r:  # '42.9 ± 1.2', or '42.9' where one seed measured no spread
                mean, std = r.pop("top1_mean"), r.pop("top1_std")
                r["top1"] = mean_spread(mean, std) if mean == mean else "failed"
        print(render_table(rows))
        if out:
            print(f"\nwrote {out}/: {' '.join(result.paths)}")
    return 1 if summary.attrs.get("remaining") else 0  # interrupted: --resume continues it
