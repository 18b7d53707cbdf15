"""``scalesearch fidelity``: retrain a finished search's best and random candidates at a higher
fidelity and report whether the proxy's ranking holds (docs/search.md, "Fidelity")."""

from __future__ import annotations

import argparse

from scalesearch.cli.common import add_format, print_json
from scalesearch.options import add_fidelity_args
from scalesearch.settings.search import EPOCHS_FACTOR, SIZE_FACTOR, FidelityConfig
from scalesearch.util.fmt import mean_spread, render_table

_D = FidelityConfig()
EXAMPLES = f"""examples:
  scalesearch fidelity runs/b0                         # top {_D.top} + {_D.random} random, \
{EPOCHS_FACTOR}x epochs, {SIZE_FACTOR}x size
  scalesearch fidelity runs/b0 --top 6 --random 0 --epochs 20 --seeds 3
  scalesearch fidelity runs/b0 --resume                # after Ctrl-C / kill
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fidelity`` subcommand."""
    p = sub.add_parser(
        "fidelity", help="check a search's ranking against a longer, larger-image training",
        description="Retrain the K best and M random candidates of the search in RUN_DIR with "
        "more epochs and a larger proxy image size (Ray Tune, resumable), then compare the two "
        "rankings: Kendall τ, Spearman ρ, same winner, winner in the reference's tied set. "
        "Writes RUN_DIR/fidelity/: trials.csv, fidelity.csv, result.json, fidelity.png.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder of a finished `scalesearch search`")
    add_fidelity_args(p)
    add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``scalesearch fidelity``: retrain, compare the rankings and print the verdict; exit
    status 1 when the check is incomplete."""
    from scalesearch.experiments import run_fidelity_options

    result = run_fidelity_options(args.run_dir, args).result
    status = 0 if result["complete"] else 1
    if args.format == "json":
        print_json(result)
        return status
    print(render_table([dict(alpha=c["alpha"], beta=c["beta"], gamma=c["gamma"],
                             proxy=mean_spread(c["proxy_mean"], c["proxy_std"]),
                             reference=mean_spread(c["reference_mean"], c["reference_std"]),
                             ref_tied="yes" if c["reference_tied"] else "")
                        for c in sorted(result["candidates"], key=lambda c: -c["proxy_mean"])]))
    lo, hi = result["kendall_tau_ci95"]
    print(f"\nKendall τ = {result['kendall_tau']:.2f} (95% bootstrap interval [{lo:.2f}, "
          f"{hi:.2f}]: {result['tau_verdict']}), Spearman ρ = {result['spearman_rho']:.2f} "
          f"over {len(result['candidates'])} candidates (reference: "
          f"{result['reference_epochs']:g} epochs at {result['reference_proxy_size']} px, "
          f"{result['seeds']} seed(s))")
    print(f"same winner: {'yes' if result['same_winner'] else 'no'} (search "
          f"{tuple(result['search_winner'])}, reference {tuple(result['reference_winner'] or ())})"
          f"; search's winner in the reference's tied set: "
          f"{'yes' if result['winner_in_tied'] else 'no'}")
    from scalesearch.coefsearch.reliability import describe

    for side in ("proxy", "reference"):
        print(f"{side} ranking: {describe(result[f'{side}_reliability'])}")
    print(f"wrote {result['out']}/: trials.csv fidelity.csv result.json fidelity.png "
          "report.html")
    print(f"report (one page to open or send): {result['report']}")
    return status
