"""Experiment trackers through Ray Tune's own logger callbacks (``--log-to tensorboard,mlflow``):
``TBXLoggerCallback`` writes TensorBoard event files to ``RUN/tensorboard/<run name>/``, and
``MLflowLoggerCallback`` logs to MLflow, by default to ``sqlite:///RUN/mlruns/mlflow.db`` (MLflow's
own file store is in maintenance mode: MLflow 3 refuses ``./mlruns`` folders unless told to).

One run per candidate (a comparison: per network × seed), named after it, with α, β, γ (or the
network's d, w, px) as parameters; the step is the epoch (Ray's ``timesteps_total``), so the
rungs of synchronous halving — separate Ray Tune runs — continue one run per candidate. Logged
after every evaluated epoch: ``top1`` (the mean val top-1 over the seeds) and each seed's
``top1/seedN`` and ``loss/seedN``. Both trackers are optional extras: a missing one is refused
in one line that names the ``pip install`` to run.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scalesearch.errors import ScalesearchError

TRACKERS = {"tensorboard": "tensorboardX", "mlflow": "mlflow"}  # name → module it needs
TENSORBOARD_DIR, MLFLOW_DIR = "tensorboard", "mlruns"
Describe = Callable[[dict], tuple[str, dict]]  # a trial's config → (run name, parameters)


@dataclass(frozen=True)
class Tracking:
    """Which trackers a run logs to, and MLflow's tracking URI (None: ``RUN/mlruns``). Not
    part of what a run computes: a resume may log to other trackers."""

    log_to: tuple[str, ...] | str = ()
    mlflow_uri: str | None = None

    def __post_init__(self) -> None:
        names = self.log_to.split(",") if isinstance(self.log_to, str) else self.log_to
        names = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
        unknown = [n for n in names if n not in TRACKERS]
        if unknown:
            raise ScalesearchError(f"--log-to: unknown tracker {unknown[0]!r}; choose from "
                                   f"{', '.join(TRACKERS)} (comma-separated)")
        if self.mlflow_uri is not None and "mlflow" not in names:
            raise ScalesearchError("--mlflow-uri is where MLflow runs go: add --log-to mlflow")
        for name in names:
            if importlib.util.find_spec(TRACKERS[name]) is None:
                raise ScalesearchError(f"--log-to {name} needs the {TRACKERS[name]} package: "
                                       f"pip install 'scalesearch[{name}]'")
        object.__setattr__(self, "log_to", names)

    def mlflow_tracking_uri(self, out: Path) -> str:
        """``--mlflow-uri``, else a SQLite file in ``out/mlruns/`` (the folder is created)."""
        if self.mlflow_uri:
            return self.mlflow_uri
        (out / MLFLOW_DIR).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(out / MLFLOW_DIR).resolve()}/mlflow.db"

    def callbacks(self, out: Path, describe: Describe, command: str) -> list:
        """Ray Tune callbacks for the chosen trackers; each names a trial's run ``describe``'s
        way. The MLflow experiment is the run folder's name, tagged with its path."""
        found = []
        if "tensorboard" in self.log_to:
            found.append(_tensorboard(out / TENSORBOARD_DIR, describe))
        if "mlflow" in self.log_to:
            logging.getLogger("mlflow").setLevel(logging.WARNING)  # its table-creation lines
            logging.getLogger("alembic").setLevel(logging.WARNING)
            found.append(_mlflow(describe, tracking_uri=self.mlflow_tracking_uri(out),
                                 experiment_name=Path(out).resolve().name,
                                 tags={"scalesearch.command": command,
                                       "scalesearch.run_dir": str(Path(out).resolve())}))
        return found


def tracked(result: dict) -> dict[str, float]:
    """What a tracker logs of a trial's report (module docstring): at an epoch the trial did
    not evaluate (score NaN) only the epoch; ``timesteps_total`` = the epoch, Ray's step."""
    rows = result.get("rows") or []
    epoch = result.get("epoch") or max((r.get("epochs") or 0 for r in rows), default=0)
    out: dict[str, float] = {"epoch": epoch, "timesteps_total": epoch}
    score = result.get("score")
    if score is not None and not math.isfinite(score):
        return out
    if score is not None and "key" in result:  # a search trial's mean over its seeds
        out["top1"] = score
    for r in rows:
        for metric in ("top1", "loss"):
            v = r.get(metric)
            if isinstance(v, int | float) and math.isfinite(v):
                out[f"{metric}/seed{r['seed']}"] = v
    return out


def _tensorboard(root: Path, describe: Describe):
    from ray.tune.logger import TBXLoggerCallback

    class TensorBoard(TBXLoggerCallback):
        """Ray's TBX logger, writing each run under ``root`` by its name, not in the trial's
        own (temporary) folder."""

        def log_trial_start(self, trial):
            if trial in self._trial_writer:
                self._trial_writer[trial].close()
            logdir = root / describe(trial.config)[0]
            logdir.mkdir(parents=True, exist_ok=True)
            self._trial_writer[trial] = self._summary_writer_cls(str(logdir), flush_secs=30)
            self._trial_result[trial] = {}

        def log_trial_result(self, iteration, trial, result):
            super().log_trial_result(iteration, trial, dict(
                tracked(result), training_iteration=result.get("training_iteration", 0)))

    return TensorBoard()


def _mlflow(describe: Describe, **options):
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    class MLflow(MLflowLoggerCallback):
        """Ray's MLflow logger, one MLflow run per candidate: a later rung (a new Ray trial)
        or a resumed run continues the run of that name."""

        def log_trial_start(self, trial):
            if trial in self._trial_runs:
                return
            import mlflow

            name, params = describe(trial.config)
            client = mlflow.MlflowClient(self.tracking_uri)
            found = client.search_runs([self.mlflow_util.experiment_id],
                                       f"attributes.run_name = '{name}'", max_results=1)
            if found:
                self._trial_runs[trial] = found[0].info.run_id
                return
            run = self.mlflow_util.start_run(run_name=name, tags=dict(self.tags))
            self._trial_runs[trial] = run.info.run_id
            self.mlflow_util.log_params(run_id=run.info.run_id, params_to_log=params)

        def log_trial_result(self, iteration, trial, result):
            metrics = tracked(result)
            step = metrics.pop("timesteps_total")
            self.mlflow_util.log_metrics(run_id=self._trial_runs[trial],
                                         metrics_to_log=metrics, step=step)

    return MLflow(**options)
