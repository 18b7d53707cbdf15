"""``scalesearch search``: the φ=1 grid search of §3.3 step 1 (docs/search.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scalesearch.cli.common import add_format, print_json
from scalesearch.coefsearch.answer import headline, surface_line, tied_rule
from scalesearch.options import add_search_args
from scalesearch.util.fmt import (
    human,
    is_top1,
    mean_spread,
    percent,
    render_table,
    score_digits,
)
from scalesearch.util.status import Status

if TYPE_CHECKING:  # the records the search returns (imported when it runs: Ray, Optuna)
    from scalesearch.coefsearch.results import Best, Ranked

EXAMPLES = """examples:
  scalesearch search --baseline efficientnet-b0 --out runs/b0            # embedded data
  scalesearch search --baseline mobilenet-v2 --data path/to/photos --seeds 2
  scalesearch search --baseline resnet50 --sampler tpe --trials 8 --address auto
  scalesearch search --baseline efficientnet-b0 --address auto --gpus-per-trial 0.5 --batch-size 256
  scalesearch search --baseline efficientnet-b0 --out runs/b0 --resume   # after Ctrl-C / kill
  scalesearch scale --baseline efficientnet-b0 --phi 3 --coefficients runs/b0/best.json
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``search`` subcommand."""
    p = sub.add_parser(
        "search", help="find α, β, γ at φ=1 by proxy-training candidates (Ray Tune + Optuna)",
        description="Step 1 of compound scaling (§3.3): fix φ=1, train every candidate "
        "(α, β, γ) with α·β²·γ² ≈ 2 briefly at a reduced image size, keep the most accurate. "
        "Writes trials.csv, best.json (for `scale --coefficients`), family.csv, search.png and "
        "family.png into --out.", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_search_args(p)
    add_format(p)
    p.set_defaults(func=run)


def _mean_std(r: Ranked, digits: int) -> str:
    mean = r["top1_mean"]
    if mean is None or mean != mean:  # NaN: every seed failed
        return Status.FAILED
    return mean_spread(mean, r["top1_std"], digits)


def _ci(r: Ranked, digits: int) -> str:
    lo, hi = r.get("ci_lo"), r.get("ci_hi")
    return "" if lo is None or lo != lo else f"[{lo:.{digits}f}, {hi:.{digits}f}]"


def ranking_table(rank: list[Ranked], ranked: object = None) -> str:
    """The ranking: candidates, cost (FLOPs, activations, latency), evidence; ``ranked``:
    best.json's (None or "top-1": val top-1)."""
    rows, digits = [], score_digits(ranked)
    for r in rank:
        row = dict(alpha=r["alpha"], beta=r["beta"], gamma=r["gamma"],
                   ratio=round(r["flops_ratio"], 3), acts=_round(r.get("activations_ratio")),
                   px=r["image_size"], params=human(r["params"]))
        ms = r.get("latency_ms")
        if ms is not None and ms == ms:  # measured (not NaN)
            row["ms"] = round(ms, 2)
        row.update({"epochs": r["epochs"], "status": r["status"],
                    _header(ranked): _mean_std(r, digits), "ci95": _ci(r, digits)})
        own = r.get("own_mean")
        if own is not None and own == own:  # another --metric ranked: the function's own score
            row["own_score"] = round(own, 1)
        if r.get("score_mean") is not None and r["score_mean"] != r["top1_mean"] and \
                r["score_mean"] == r["score_mean"]:
            row["score"] = round(r["score_mean"], 2)
        row.update(p_best=percent(r["p_best"]), seeds=r["seeds"], failed=r["failed"] or "")
        rows.append(row)
    return render_table(rows)


def _header(ranked: object) -> str:
    """The ranked value's column: "top1", or the --metric ("-mse" under --mode min)."""
    return "top1" if is_top1(ranked) else str(ranked)


def _round(v, digits: int = 3):
    return None if v is None or v != v else round(v, digits)


def tied_lines(best: Best) -> list[str]:
    """The tied-set table and the one line that says whether the winner is separated."""
    if not best["tied"]:
        return ["one seed per candidate: seed noise is not measured, so the tied set and "
                "p_best are unknown (search with --seeds 2 or more)"]
    ranked = dict(best).get("ranked")
    lines = ["", f"tied set ({tied_rule(best)}: probability of being the best, under the seed "
             "noise pooled over candidates, or a candidate's own where larger):",
             render_table([dict(alpha=t["alpha"], beta=t["beta"], gamma=t["gamma"],
                                **{_header(ranked): mean_spread(t["top1_mean"], t["top1_std"],
                                                                score_digits(ranked))},
                                p_best=f"{100 * t['p_best']:.1f}%", seeds=t["seeds"])
                           for t in best["tied"]])]
    lines += stopped_lines(best)
    if best.get("unranked_failed"):
        lines.append(f"{len(best['unranked_failed'])} candidate(s) failed to train and are "
                     "unranked: they did not lose, they were not measured (failed trainings "
                     "above); the winner is not separated from them")
    if best["separated"]:
        lines.append(f"the winner is separated: no other candidate has {tied_rule(best)}, at "
                     "the end or at the rung where it was stopped")
    elif len(best["tied"]) > 1:
        lines.append(f"{len(best['tied'])} candidates are statistically tied; chosen by "
                     f"--tie-break {best['tie_break']}")
    else:
        lines.append("the winner is alone in the tied set, but not separated: stopped "
                     "candidates above were not ruled out when they were stopped")
    return lines


def reliability_lines(reliability: dict) -> list[str]:
    """How reproducible the ranking is, at every rung and among the finished candidates
    (docs/search.md, "Reliability")."""
    from scalesearch.coefsearch.reliability import describe

    lines = [f"rung {r['rung']} (epoch {r['epoch']}): {describe(r)}"
             for r in reliability.get("rungs", [])]
    return ["", "reliability (does a second training seed confirm the order?):", *lines,
            f"finished candidates: {describe(reliability['final'])}"]


def stopped_lines(best: Best) -> list[str]:
    """How many candidates the scheduler stopped, where, by how much they missed the cut, and
    those the seeds could not rule out at that rung (docs/search.md)."""
    lines = [f"stopped at rung {s['rung']} (epoch {s['epoch']}): {s['stopped']} candidate(s), "
             f"{s['missed_min']:.1f}–{s['missed_max']:.1f} points below the cut "
             f"({s['cut']:.1f}% mean val top-1 on the rung's subset)"
             for s in best.get("stopped", [])]
    if best.get("not_ruled_out"):
        lines += [f"not ruled out ({tied_rule(best)} among every candidate at the rung where "
                  "it stopped):", render_table([dict(alpha=c["alpha"], beta=c["beta"],
                                                 gamma=c["gamma"], rung=c["rung"],
                                                 rung_p_best=percent(c["rung_p_best"]),
                                                 missed_by=round(c["missed_by"], 1))
                                            for c in best["not_ruled_out"]])]
    return lines


def run(args: argparse.Namespace) -> int:
    """``scalesearch search``: run the φ=1 search (§3.3 step 1) and print the ranking, the
    family and the best (α, β, γ); exit status 1 when interrupted or nothing trained."""
    from scalesearch.experiments import run_search_options

    summary = run_search_options(args).record
    status = 1 if summary.remaining else 0  # interrupted: results so far, then --resume
    best = summary.best
    if args.format == "json":
        print_json(summary.to_dict())
        return status if best else 1
    rank = summary.ranking
    print(f"φ=1 search: {summary.space}; {len(rank)} trained; {summary.seconds:.0f} s")
    print(ranking_table(rank, dict(best or {}).get("ranked")))
    failures = summary.failures
    if failures:
        print("\nfailed trainings:")
        print(render_table(failures))
    if best is None:
        reason = failures[0]["error"] if failures else "no trial finished"
        print(f"\nno candidate trained successfully ({reason}); no best.json written",
              file=sys.stderr)
        print(f"report: {summary.report}")
        return 1
    family = summary.family or []
    top = max((f["phi"] for f in family), default=1)
    print(f"\nfamily (φ = {'1' if top == 1 else f'1…{top}'}), found vs paper coefficients:")
    print(render_table([dict(phi=f["phi"], source=f["source"], d=f["depth"], w=f["width"],
                             px=f["image_size"], params=human(f["params"]),
                             flops=human(f["flops"], "FLOPs"), ratio=f["flops_ratio"])
                        for f in sorted(family, key=lambda f: (f["phi"], f["source"]))]))
    written = sorted(p.name + "/" * p.is_dir() for p in Path(args.out).iterdir()
                     if not p.name.startswith("."))
    print(f"\nwrote {args.out}/: {' '.join(written)}")
    print("\n".join(tied_lines(best)))
    print("\n".join(reliability_lines(summary.reliability)))
    model = surface_line(best)
    if model:
        print(model)
    if best["ranks"] == "does not rank":
        print("no winner found (the ranking does not reproduce); the pick is a tie-break's")
    ranked = best.get("ranked") or "top-1"  # --metric (and --mode min: "-NAME")
    spread = mean_spread(best["top1_mean"], best["top1_std"], score_digits(ranked))
    print(f"{headline(best)}; {ranked} {spread}"
          f"{'%' * (ranked == 'top-1')}, {best['seeds']} seed(s) → {args.out}/best.json")
    print(f"report (one page to open or send): {summary.report}")
    return status
