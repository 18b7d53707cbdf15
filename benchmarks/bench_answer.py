"""Judge a search by its answer against a long reference (issue 36; docs/search.md, "Judging
the answer").

    # R replicates of a search (training seeds 100 + 2r …, sampler seed r), one folder each
    python benchmarks/bench_answer.py run OUT --replicates 5 -- --baseline efficientnet-b0 \\
        --proxy-size 40 --epochs 4 --num-train 160 --num-val 1000
    # score replicate folders against a reference (every trials.csv under it, pooled)
    python benchmarks/bench_answer.py score --reference REF OUT [OUT …] [--rule p_best]

``run`` writes ``OUT/r1 … rR`` (each a search's run folder: trials.csv, best.json,
search.json, and ``wall.json``: the search's own seconds, its training CPU-seconds, the
machine's load when it ended and the CPU kernels it trained with). A replicate with a fixed
plan (no ``--budget``) is deterministic on machines with the same CPU kernels — its scores do
not depend on the machine's load, only its wall does.

``score`` prints, per folder and pick rule, the picks in the reference's tied set with their
95% Clopper–Pearson interval, the reference's best in the replicates' tied sets, median and
90th-percentile regret (reference points), median τ, and the mean wall and training seconds.
``--score loss`` ranks by the validation loss the same evaluation recorded, ``sotl`` by the
mean of the epochs' training losses (trials.csv's train_loss), ``sotl-e`` by the last
epoch's, ``tl1`` by the first epoch's (each negated: lower is better), at equal CPU time
(issue 36 §5). ``--rule recorded`` reads each replicate's best.json; any ``--tie-break``
rule recomputes the pick from its trials.csv; ``model`` takes the pooled surface model's most
likely best (coefsearch/surface.py, reported but not used for the pick: it is not calibrated). The
training share is the trainings' seconds over the slots (one CPU a trial) and the search's
wall (issue 36 §6); ``load ≤`` the highest load met.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from scalesearch.coefsearch.judge import Reference, final_scores, judge, summarize
from scalesearch.coefsearch.results import ranking
from scalesearch.coefsearch.space import Candidate
from scalesearch.coefsearch.stats import SEARCH_OWN_SD
from scalesearch.coefsearch.surface import pick as search_pick
from scalesearch.coefsearch.trials import TrialStore, train_losses
from scalesearch.training.proxy import sotl
from scalesearch.training.runfiles import read_json

SEED_BASE = 100  # replicates train seeds 100 + 2r, …: never the reference's 0–3


def cpu_kernels() -> str:
    """The CPU kernels the trainings use (ATen's capability, oneDNN's cap if set): a fixed
    plan's scores are the same on any machine with the same kernels, not across them (AVX2 and
    AVX-512 sum in another order, and a seeded training diverges)."""
    import torch

    cap = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return torch.backends.cpu.get_cpu_capability() + (f", oneDNN ≤ {cap}" if cap else "")


def run(out: Path, replicates: int, seeds: int, args: list[str]) -> None:
    """R searches, each with its own training seeds and sampler seed."""
    for r in range(1, replicates + 1):
        folder = out / f"r{r}"
        if (folder / "wall.json").exists():
            continue
        cmd = [sys.executable, "-m", "scalesearch.cli.main", "search", *args, "--seeds",
               str(seeds), "--seed-offset", str(SEED_BASE + seeds * (r - 1)),
               "--sampler-seed", str(r), "--out", str(folder), "--format", "json"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"replicate r{r} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
        summary = json.loads(done.stdout)
        rows = TrialStore(folder / "trials.csv").rows
        wall = dict(search_s=summary["seconds"],
                    train_s=round(sum(r_["seconds"] or 0 for r_ in rows), 1),
                    load_1min=round(os.getloadavg()[0], 2), cpus=os.cpu_count(),
                    kernels=cpu_kernels())
        (folder / "wall.json").write_text(json.dumps(wall, indent=1) + "\n")
        print(f"r{r}: {wall}", flush=True)


def reference(folder: Path) -> Reference:
    """Every trials.csv under ``folder``, pooled per candidate."""
    scores: dict = {}
    for path in sorted(folder.rglob("trials.csv")):
        for k, v in final_scores(TrialStore(path).rows).items():
            scores.setdefault(k, []).extend(v)
    return Reference.of(scores)


SEARCH_NOISE = "own" if SEARCH_OWN_SD else "pooled"  # p_best's noise model in the search
SCORES = ("top1", "loss", "sotl", "sotl-e", "tl1")  # what ranks a replicate's candidates (§5)


def _negated(row: dict, score: str) -> float | None:
    """``score``'s value of one row, negated where lower is better."""
    if score == "loss":
        return None if row.get("loss") is None else -row["loss"]
    losses = train_losses(row)
    if losses is None:
        return None
    if score == "tl1":  # every image's loss before any step on it: held out (prequential)
        return -losses[0]
    return -(sotl(losses) if score == "sotl" else losses[-1])


def scored_rows(rows: list[dict], score: str) -> list[dict]:
    """The rows ranked by ``score`` in top-1's place, so p_best, the tied set and the pick are
    computed by the search's own rules on it (same trainings, same CPU seconds): ``top1`` as
    recorded; ``loss``, the validation cross-entropy the same evaluation recorded (at the rung
    for a stopped candidate); ``sotl``, the sum of the epochs' mean training losses (Ru et al.'s
    "sum of training losses") over the epochs trained, divided by their number — what the
    built-in training reports as ``sotl``, so ``--metric sotl --mode min`` picks what this
    scores; ``sotl-e``, the last epoch's (their SoTL-E, E = 1); ``tl1``, the first epoch's,
    where each image's loss is taken before the network has trained on it (a prequential,
    held-out loss: it cannot reward memorising). Each negated: lower is better. A row
    without the score is unscored."""
    if score == "top1":
        return rows
    return [dict(r, top1=_negated(r, score)) for r in rows]


def replicate(folder: Path, ref: Reference, rule: str, score: str = "top1",
              noise: str = SEARCH_NOISE) -> dict:
    """One replicate folder judged under a pick rule (chosen as the search chooses:
    :func:`~scalesearch.coefsearch.surface.pick`) and a ranking score (:func:`scored_rows`),
    with its seconds; {} when the rule has no pick there (``model`` where no model was
    fitted) or the score was not recorded (``sotl`` before trials.csv had train_loss)."""
    rows = scored_rows(TrialStore(folder / "trials.csv").rows, score)
    if all(r.get("top1") is None for r in rows):  # recorded before the score's column
        return {}
    rank = ranking(rows, own_sd=noise == "own")
    records = rank.to_dict("records")
    tied = [r for r in records if r["tied"]]
    if rule == "recorded":
        pick = read_json(folder / "best.json")
    elif rule == "model":  # the pooled model's most likely best (surface.py; not calibrated)
        fitted = [r for r in records if pd.notna(r["model_p_best"])]
        if not fitted:
            return {}
        pick = max(fitted, key=lambda c: (c["model_p_best"], c["score_mean"]))
    else:
        pick = search_pick(tied, rule, pd.notna(tied[0]["p_best"]), rank.attrs["surface"])[0]
    means = {Candidate.key_of(r): r["score_mean"] for r in records if r["status"] == "ok"}
    # τ against the reference's top-1 means: a loss ranks the other way round, negated above
    wall = json.loads((folder / "wall.json").read_text()) if (folder / "wall.json").exists() \
        else {}
    return dict(judge(Candidate.key_of(pick), [Candidate.key_of(r) for r in tied], means, ref),
                **wall)


def score(ref_dir: Path, outs: list[Path], rules: list[str], as_json: bool,
          scores: tuple[str, ...] = ("top1",), noises: tuple[str, ...] = (SEARCH_NOISE,)) -> None:
    ref = reference(ref_dir)
    table = []
    for out in outs:
        if not out.is_dir():
            sys.exit(f"bench_answer.py score: {out}: no such folder")
        # a replicate counts once its search finished (best.json written), not while it runs
        folders = sorted(p for p in out.iterdir() if (p / "best.json").exists()) \
            if not (out / "trials.csv").exists() else [out]
        for rule, by, noise in ((r, b, n) for n in noises for b in scores for r in rules):
            judged = [j for f in folders if (j := replicate(f, ref, rule, by, noise))]
            if not judged:
                continue
            walls = [j["search_s"] for j in judged if "search_s" in j]
            trains = [j["train_s"] for j in judged if "train_s" in j]
            # issue 36 §6: the trainings' seconds over the slots that ran them (1 CPU a trial)
            shares = [j["train_s"] / (j["cpus"] * j["search_s"]) for j in judged
                      if j.get("search_s") and j.get("cpus")]
            loads = [j["load_1min"] for j in judged if "load_1min" in j]
            table.append(dict(summarize(judged), runs=str(out), rule=rule, score=by, noise=noise,
                              search_s=sum(walls) / len(walls) if walls else None,
                              train_s=sum(trains) / len(trains) if trains else None,
                              train_share=sum(shares) / len(shares) if shares else None,
                              load_max=max(loads) if loads else None,
                              replicates_detail=judged))
    if as_json:
        print(json.dumps(dict(reference=dict(
            best=ref.best, tied=sorted(ref.tied), noise_sd=ref.noise_sd, df=ref.df,
            means={str(k): v for k, v in ref.means.items()}), table=table), indent=1))
        return
    print(f"reference: {len(ref.means)} candidates, {min(ref.seeds.values())}–"
          f"{max(ref.seeds.values())} seeds each, noise sd {ref.noise_sd:.1f} (df {ref.df}); "
          f"best {ref.best} {ref.means[ref.best]:.1f}%; tied set "
          + ", ".join(f"{k} {ref.means[k]:.1f}%" for k in sorted(ref.tied, key=ref.means.get,
                                                                  reverse=True)))
    heads = ["runs", "score", "noise", "pick rule", "picks in ref. tied set [95% CI]",
             "ref. best in tied set", "median regret", "p90 regret", "median τ", "search s",
             "training CPU s", "training share", "load ≤"]
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    for t in table:
        lo, hi = t["in_tied_ci95"]
        n = t["replicates"]
        cells = [t["runs"], t["score"], t["noise"], t["rule"],
                 f"{t['in_tied']}/{n} [{lo:.2f}, {hi:.2f}]", f"{t['best_in_tied']}/{n}",
                 f"{t['regret_median']:.1f}", f"{t['regret_p90']:.1f}", f"{t['tau_median']:.2f}",
                 _fmt(t["search_s"], ".0f"), _fmt(t["train_s"], ".0f"),
                 _fmt(t["train_share"], ".0%"), _fmt(t["load_max"], ".1f")]
        print("| " + " | ".join(cells) + " |")


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="R replicates of a search")
    r.add_argument("out", type=Path)
    r.add_argument("--replicates", type=int, default=5)
    r.add_argument("--seeds", type=int, default=2)
    s = sub.add_parser("score", help="judge replicate folders against a reference")
    s.add_argument("--reference", type=Path, required=True)
    s.add_argument("outs", type=Path, nargs="+")
    s.add_argument("--rule", action="append", choices=["recorded", "p_best", "balanced",
                                                       "score", "params", "model"])
    s.add_argument("--score", action="append", choices=SCORES,
                   help="rank each replicate by this (repeatable; default top1): loss is the "
                        "validation loss the same evaluation recorded; sotl, sotl-e, tl1 the "
                        "mean training loss over all, the last, the first epoch (§5)")
    s.add_argument("--noise", action="append", choices=["pooled", "own"],
                   help="p_best's noise per candidate (repeatable; default the search's, "
                        "own): own = the larger of the pooled sd and its own")
    s.add_argument("--format", choices=["table", "json"], default="table")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)  # after "--": the search's flags
    a = p.parse_args(argv[:cut])
    if a.cmd == "run":
        run(a.out, a.replicates, a.seeds, argv[cut + 1:])
        return
    rules, scores = a.rule or ["recorded"], tuple(a.score or ["top1"])
    if "recorded" in rules and scores != ("top1",):
        p.error("--rule recorded reads best.json, which top-1 decided: give --rule with --score")
    score(a.reference, a.outs, rules, a.format == "json", scores,
          tuple(a.noise or [SEARCH_NOISE]))


if __name__ == "__main__":
    main()
