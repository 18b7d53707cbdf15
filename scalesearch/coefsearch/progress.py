"""The driver's view of a Ray Tune run of the search: progress lines, and every trial's rows
written to trials.csv as it reports them (the resume state)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from scalesearch.coefsearch.budget import Pace
from scalesearch.coefsearch.halving import drop_checkpoint, stored_path
from scalesearch.coefsearch.space import Candidate
from scalesearch.coefsearch.trainable import RUNNING, TrialContext, base_row, candidate_of
from scalesearch.coefsearch.trials import TrialStore
from scalesearch.settings.search import SearchConfig
from scalesearch.training.proxy import EVAL_IMAGES
from scalesearch.util.fmt import ranked_value, score_digits
from scalesearch.util.status import Status


def _coef(d: dict) -> str:
    return f"α={d['alpha']:g} β={d['beta']:g} γ={d['gamma']:g}"


class Progress:
    """Ray Tune callback: a line per epoch report, rows of finished trials to trials.csv, and
    (synchronous halving) the rows of paused candidates with their latest checkpoint."""

    def __init__(self, cfg: SearchConfig, store: TrialStore, total: int, context: TrialContext,
                 log: Callable[[str], None], pace: Pace | None = None,
                 first_round: int = 1):
        from ray import tune

        outer = self

        class Callback(tune.Callback):
            def on_trial_result(self, iteration, trials, trial, result, **info):
                outer.report(result)

            def on_trial_complete(self, iteration, trials, trial, **info):
                outer.finish(trial.last_result or {})

            def on_trial_error(self, iteration, trials, trial, **info):
                outer.crashed(trial)

            def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
                outer.checkpointed(trial.last_result or {}, checkpoint.path)

        self.cfg, self.store, self.total, self.context, self.log = cfg, store, total, context, log
        self.count, self.callback, self.start = 0, Callback(), time.perf_counter()
        self.latest: dict[tuple, str] = {}  # candidate → its newest checkpoint (stored path)
        self.pace = pace  # --budget's plan, judged as trials finish
        if pace:
            pace.trials_begin()
        self.first_round = first_round  # candidates trained at once: the first round
        self.trained: list[bool] = []  # per finished candidate: did any seed train?
        self.first_error: str | None = None
        self.said_unsaved = False

    def _elapsed(self) -> str:
        return f"{time.perf_counter() - self.start:.0f} s"

    def _value(self, value: float, top1: str = "val top-1") -> str:
        """A stored score as the logs say it: "val top-1 71.2%" (``top1`` names it), or the
        --metric's name ("-mse -0.031" under --mode min: trials.csv's sign)."""
        return ranked_value(self.cfg.setup.ranked, value, top1)

    def report(self, result: dict) -> None:
        """Log a line for an epoch report of a running trial."""
        rows = result.get("rows") or []
        if result.get("unsaved") and not self.said_unsaved:
            self.said_unsaved = True
            self.log("  the training function saves no state (trial.save): a candidate that "
                     "goes on to the next rung retrains from epoch 0")
        if not rows or result.get("final") or not result.get("epoch"):
            return
        score = result.get("score")
        setup = self.cfg.setup  # the built-in's validation scores at a rung read a subset
        subset = f", {EVAL_IMAGES}-image val subset" \
            if setup.builtin and not setup.ranks_unevaluated else ""
        top1 = (f"{self._value(score)} (mean of {len(rows)} seed(s){subset})"
                if score is not None and score == score else "trained")
        self.log(f"  {_coef(rows[0])}: epoch {result['epoch']}/{result.get('epochs')}  {top1}"
                 f"  ({self._elapsed()})")

    def _rows(self, result: dict) -> list[dict]:
        """The report's rows as stored: a running row reads as its scheduler says (paused with
        the candidate's newest checkpoint, or stopped before its last epoch)."""
        rows = [dict(r) for r in result.get("rows") or []]
        running = self.cfg.schedule.running
        for r in rows:
            if r["status"] == RUNNING:
                r["status"] = running
            r["checkpoint"] = self.latest.get(Candidate.key_of(r)) \
                if r["status"] == Status.PAUSED else None
            r["rung"] = self.cfg.rung(r.get("epochs") or 0) if r["status"] != Status.REJECTED \
                else None
        return rows

    def _stored_checkpoint(self, key: tuple) -> str | None:
        """The checkpoint trials.csv names for a candidate (a resumed run's earlier rung)."""
        return next((r["checkpoint"] for r in self.store.rows if r.get("checkpoint")
                     and Candidate.key_of(r) == key), None)

    def checkpointed(self, result: dict, path: str) -> None:
        """Ray persisted a candidate's checkpoint: store its rows as paused there, and delete
        the checkpoint it replaces (a survivor's previous rung)."""
        rows = result.get("rows") or []
        if not rows:
            return
        out, key = self.store.path.parent, Candidate.key_of(rows[0])
        first = not self.latest
        previous, self.latest[key] = self.latest.get(key), stored_path(out, path)
        previous = previous or self._stored_checkpoint(key)
        if first:
            self.log(f"  checkpoints: {_megabytes(Path(path)):.0f} MB per candidate on disk "
                     "(deleted once it stops or finishes)")
        self.store.append(self._rows(result))  # first: a kill here leaves a usable path
        if previous and Path(previous).parent != Path(self.latest[key]).parent:
            drop_checkpoint(out, previous)

    def finish(self, result: dict) -> None:
        """Store a completed trial's rows in trials.csv (a finished candidate's checkpoint is
        deleted) and log its top-1, pause, rejection or failure."""
        rows = self._rows(result)
        paused = any(r["status"] == Status.PAUSED for r in rows)
        if rows and not paused:  # finished: its checkpoint is spent
            key = Candidate.key_of(rows[0])
            drop_checkpoint(self.store.path.parent,
                            self.latest.pop(key, None) or self._stored_checkpoint(key))
        self.store.append(rows)
        if not rows:
            return
        r = rows[0]
        if r["status"] == Status.REJECTED:
            self.log(f"[rejected] {_coef(r)}: {r['error']}")
            return
        trained = any(x["status"] != Status.FAILED for x in rows)
        if trained or result.get("function_failed"):  # a failed build, a NaN: the candidate's
            self.trained.append(trained)
        self.first_error = self.first_error or next(
            (x.get("error") for x in rows if x["status"] == Status.FAILED), None)
        scores = [x["top1"] for x in rows if x.get("top1") is not None]
        if paused:
            self.log(f"  {_coef(r)}: paused at rung {r['rung']} after epoch {r['epochs']}, "
                     f"mean {self._value(statistics.fmean(scores))}  ({self._elapsed()})")
            return
        self.count += 1
        if self.pace:
            self.pace.finished(self.count, self.total, self.log)
        text = (self._value(statistics.fmean(scores), "top-1") if scores else "failed: "
                f"{r.get('error')}")
        if len(scores) > 1:
            text += (f" ± {statistics.stdev(scores):.{score_digits(self.cfg.setup.ranked)}f} "
                     f"({len(scores)} seeds)")
        if r["status"] == Status.STOPPED:
            text += f", stopped by ASHA after {r['epochs']} epoch(s) (rung {r['rung']})"
        self.log(f"[{self.count}/{self.total}] {_coef(r)}: {text}  ({self._elapsed()})")

    def hopeless(self) -> str | None:
        """Once the first round of candidates finished with every seed's training function
        raising (a bug in it: not a network that failed to build, nor a non-finite loss or a
        bad report, which are a candidate's outcome and leave the search going): the first
        error (the search stops); else None."""
        if len(self.trained) >= self.first_round and not any(self.trained):
            return self.first_error or "every trial failed"
        return None

    def crashed(self, trial) -> None:
        """A trial Ray itself lost (worker died): its pending seeds are recorded as failed."""
        from scalesearch.scaling.registry import resolve

        rows = (trial.last_result or {}).get("rows")
        if not rows:
            baseline = resolve(self.context.baseline)
            cand, _ = candidate_of(trial.config, self.context, baseline)
            rows = [base_row(baseline, cand, s) for s in self.context.seeds]
        self.finish({"rows": [dict(r, status=Status.FAILED, error=f"Ray trial error: "
                                   f"{trial.error_file}") for r in rows]})


def _megabytes(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
