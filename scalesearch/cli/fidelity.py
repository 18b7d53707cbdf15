"""``scalesearch fidelity``: retrain a finished search's best and random candidates at a higher
fidelity and report whether the proxy's ranking holds (docs/search.md, "Fidelity")."""

from __future__ import annotations

import argparse
from pathlib import Path

from scalesearch.cli.common import add_format, finite_float, positive_int, print_json
from scalesearch.fmt import render_table

EXAMPLES = """examples:
  scalesearch fidelity runs/b0                         # top 4 + 2 random, 4x epochs, 2x size
  scalesearch fidelity runs/b0 --top 6 --random 0 --epochs 20 --seeds 3
  scalesearch fidelity runs/b0 --resume                # after Ctrl-C / kill
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fidelity", help="check a search's ranking against a longer, larger-image training",
        description="Retrain the K best and M random candidates of the search in RUN_DIR with "
        "more epochs and a larger proxy image size (Ray Tune, resumable), then compare the two "
        "rankings: Kendall τ, Spearman ρ, same winner, winner in the reference's tied set. "
        "Writes RUN_DIR/fidelity/: trials.csv, fidelity.csv, result.json, fidelity.png.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="folder of a finished `scalesearch search`")
    p.add_argument("--top", type=positive_int, default=4, help="best candidates to retrain (4)")
    p.add_argument("--random", type=int, default=2, help="random other candidates (2)")
    p.add_argument("--epochs", type=finite_float, help="reference epochs (default: 4× the "
                   "search's)")
    p.add_argument("--proxy-size", type=positive_int, help="reference base image size "
                   "(default: 2× the search's)")
    p.add_argument("--seeds", type=positive_int, help="seeds per candidate (default: the "
                   "search's)")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of the random pick (0)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted check")
    r = p.add_argument_group("Ray")
    r.add_argument("--address", help="join a running Ray cluster (default: a local one)")
    r.add_argument("--cpus-per-trial", type=positive_int, help="CPUs per trial (default: the "
                   "search's)")
    add_format(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scalesearch.errors import ScalesearchError
    from scalesearch.search.fidelity import FidelityConfig, run_fidelity

    if args.epochs is not None and args.epochs <= 0:
        raise ScalesearchError(f"--epochs must be positive, got {args.epochs:g}")
    fcfg = FidelityConfig(args.top, args.random, args.epochs, args.proxy_size, args.seeds,
                          args.sample_seed)
    result = run_fidelity(Path(args.run_dir), fcfg, resume=args.resume, address=args.address,
                          cpus_per_trial=args.cpus_per_trial,
                          gpus_per_trial=getattr(args, "gpus_per_trial", None))
    status = 0 if result["complete"] else 1
    if args.format == "json":
        print_json(result)
        return status
    print(render_table([dict(alpha=c["alpha"], beta=c["beta"], gamma=c["gamma"],
                             proxy=f"{c['proxy_mean']:.1f} ± {c['proxy_std']:.1f}",
                             reference=f"{c['reference_mean']:.1f} ± {c['reference_std']:.1f}",
                             ref_tied="yes" if c["reference_tied"] else "")
                        for c in sorted(result["candidates"], key=lambda c: -c["proxy_mean"])]))
    print(f"\nKendall τ = {result['kendall_tau']:.2f}, Spearman ρ = {result['spearman_rho']:.2f} "
          f"over {len(result['candidates'])} candidates (reference: "
          f"{result['reference_epochs']:g} epochs at {result['reference_proxy_size']} px, "
          f"{result['seeds']} seed(s))")
    print(f"same winner: {'yes' if result['same_winner'] else 'no'} (search "
          f"{tuple(result['search_winner'])}, reference {tuple(result['reference_winner'] or ())})"
          f"; search's winner in the reference's tied set: "
          f"{'yes' if result['winner_in_tied'] else 'no'}")
    print(f"wrote {result['out']}/: trials.csv fidelity.csv result.json fidelity.png")
    return status
