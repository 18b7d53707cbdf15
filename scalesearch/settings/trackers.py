"""Experiment trackers as Ray Tune callbacks (``--log-to tensorboard,mlflow``), on the trackers'
own public APIs: tensorboardX's ``SummaryWriter`` writes TensorBoard event files to
``RUN/tensorboard/<run name>/``, and ``MlflowClient`` logs to MLflow, by default to
``sqlite:///RUN/mlruns/mlflow.db`` (MLflow's own file store is in maintenance mode: MLflow 3
refuses ``./mlruns`` folders unless told to).

One run per candidate (a comparison: per network × seed), named after it, with α, β, γ (or the
network's d, w, px) as parameters; the step is the epoch, so the
rungs of synchronous halving — separate Ray Tune runs — continue one run per candidate. Logged
after every evaluated epoch: ``top1`` (the mean val top-1 over the seeds; the --metric's
name and sign with a training function of your own) and each seed's ``top1/seedN`` and
``loss/seedN``. Both trackers are optional extras: a missing one is refused
in one line that names the ``pip install`` to run.

A tracker is one entry of :data:`TRACKERS` (name → the package it needs, its extra, its help,
its callback's factory); ``--log-to`` validates against it. The module imports no other
scalesearch module (the settings read its map), only the trackers' own libraries, lazily.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scalesearch.settings.placement import Tracking

TENSORBOARD_DIR, MLFLOW_DIR = "tensorboard", "mlruns"
Describe = Callable[[dict], tuple[str, dict]]  # a trial's config → (run name, parameters)


def mlflow_tracking_uri(tracking: Tracking, out: Path) -> str:
    """``--mlflow-uri``, else a SQLite file in ``out/mlruns/`` (the folder is created)."""
    if tracking.mlflow_uri:
        return tracking.mlflow_uri
    (out / MLFLOW_DIR).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(out / MLFLOW_DIR).resolve()}/mlflow.db"

def callbacks(tracking: Tracking, out: Path, describe: Describe, command: str) -> list:
    """Ray Tune callbacks for the chosen trackers (``--log-to``'s order); each names a trial's
    run ``describe``'s way."""
    return [TRACKERS[name].callback(tracking, Path(out), describe, command)
            for name in tracking.log_to]


def tracked(result: dict) -> dict[str, float]:
    """What a tracker logs of a trial's report (module docstring): at an epoch the trial did
    not evaluate (score NaN) only the epoch, which is every metric's step."""
    rows = result.get("rows") or []
    epoch = result.get("epoch") or max((r.get("epochs") or 0 for r in rows), default=0)
    out: dict[str, float] = {"epoch": epoch}
    score = result.get("score")
    if score is not None and not math.isfinite(score):
        return out
    name, sign = result.get("metric") or "top1", result.get("sign") or 1  # --metric, --mode
    if score is not None and "key" in result:  # a search trial's mean over its seeds
        out[name] = sign * score  # the user's sign (trials.csv holds sign × it)
    for r in rows:
        for metric, factor in ((name, sign), ("loss", 1)):
            v = r.get("top1" if metric == name else metric)
            if isinstance(v, int | float) and math.isfinite(v):
                out[f"{metric}/seed{r['seed']}"] = factor * v
    return out


def _tensorboard(tracking: Tracking, out: Path, describe: Describe, command: str):
    from ray import tune
    from tensorboardX import SummaryWriter

    class TensorBoard(tune.Callback):
        """Event files under ``root/<run name>/`` (tensorboardX's ``SummaryWriter``): a later
        rung's trial, a new Ray Tune run, adds an event file to its candidate's folder."""

        def __init__(self):
            self.writers: dict[str, SummaryWriter] = {}

        def on_trial_result(self, iteration, trials, trial, result, **info):
            name = describe(trial.config)[0]
            if name not in self.writers:
                self.writers[name] = SummaryWriter(str(root / name), flush_secs=30)
            metrics = tracked(result)
            step = int(metrics["epoch"])
            for tag, value in metrics.items():
                self.writers[name].add_scalar(tag, value, step)

        def on_experiment_end(self, trials, **info):
            for writer in self.writers.values():
                writer.close()
            self.writers.clear()

    root = out / TENSORBOARD_DIR
    return TensorBoard()


def _mlflow(tracking: Tracking, out: Path, describe: Describe, command: str):
    """The MLflow experiment is the run folder's name, tagged with its path."""
    import mlflow
    from mlflow.entities import Metric
    from ray import tune

    class MLflow(tune.Callback):
        """One MLflow run per candidate (``MlflowClient``): a later rung (a new Ray trial) or
        a resumed run finds the run of that name and continues it."""

        def __init__(self):
            self.client = mlflow.MlflowClient(tracking_uri)
            found = self.client.get_experiment_by_name(experiment_name)
            self.experiment = found.experiment_id if found else \
                self.client.create_experiment(experiment_name)
            self.runs: dict[str, str] = {}  # run name → MLflow run id

        def run_id(self, config: dict) -> str:
            name, params = describe(config)
            if name not in self.runs:
                found = self.client.search_runs([self.experiment],
                                                f"attributes.run_name = '{name}'",
                                                max_results=1)
                if found:
                    self.runs[name] = found[0].info.run_id
                else:
                    run = self.client.create_run(self.experiment, run_name=name, tags=tags)
                    self.runs[name] = run.info.run_id
                    for key, value in params.items():
                        self.client.log_param(run.info.run_id, key, value)
            return self.runs[name]

        def on_trial_start(self, iteration, trials, trial, **info):
            self.run_id(trial.config)

        def on_trial_result(self, iteration, trials, trial, result, **info):
            metrics = tracked(result)
            step, now = int(metrics["epoch"]), int(time.time() * 1000)
            self.client.log_batch(self.run_id(trial.config), metrics=[
                Metric(key, value, now, step) for key, value in metrics.items()])

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.client.set_terminated(self.run_id(trial.config), "FINISHED")

        def on_trial_error(self, iteration, trials, trial, **info):
            self.client.set_terminated(self.run_id(trial.config), "FAILED")

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its table-creation lines
    logging.getLogger("alembic").setLevel(logging.WARNING)
    tracking_uri, experiment_name = mlflow_tracking_uri(tracking, out), out.resolve().name
    tags = {"scalesearch.command": command, "scalesearch.run_dir": str(out.resolve())}
    return MLflow()


@dataclass(frozen=True)
class Tracker:
    """An entry of :data:`TRACKERS`: the package it needs, the extra that installs it, where
    it logs (``--log-to``'s help), and its Ray Tune callback's factory."""

    package: str
    extra: str
    help: str
    callback: Callable[[Tracking, Path, Describe, str], Any]


TRACKERS = {
    "tensorboard": Tracker("tensorboardX", "tensorboard", "OUT/tensorboard/", _tensorboard),
    "mlflow": Tracker("mlflow", "mlflow", "OUT/mlruns/ unless --mlflow-uri", _mlflow),
}
