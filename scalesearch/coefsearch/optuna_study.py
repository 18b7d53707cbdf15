"""``optuna.db``: the search's candidates as an Optuna study (SQLite, ``RDBStorage``), so that
Optuna's own tools browse them: ``optuna-dashboard sqlite:///RUN/optuna.db``,
``optuna.load_study`` and ``optuna.visualization``.

One trial per candidate of ``trials.csv``: its α, β, γ (``FloatDistribution`` over the search
ranges), its value (the objective's mean over the seeds — mean top-1 unless ``--objective``
says otherwise), the per-epoch mean val top-1 of its seeds as intermediate values, and as user
attributes the seeds, the 95% interval, p_best, tied and its status. Finished → ``COMPLETE``,
stopped by a rung → ``PRUNED`` (valued at the rung where it stopped, as Optuna values a pruned
trial), failed or rejected → ``FAIL``.

``trials.csv`` stays the source of truth: the study is rebuilt from it whole into a temp file
and renamed over the old one each time the search writes its reports (:mod:`scalesearch.util.io`),
so a killed and resumed run never duplicates or loses a trial in it.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import cast

from scalesearch.coefsearch.space import Candidate
from scalesearch.coefsearch.trials import history_at
from scalesearch.errors import WriteError
from scalesearch.settings.search import Ranges
from scalesearch.util.io import atomic_path
from scalesearch.util.status import Status

STUDY_FILE = "optuna.db"
STUDY_NAME = "scalesearch"
KEY = ("alpha", "beta", "gamma")
# attributes of the ranking row each trial carries (report.COLUMNS' names)
EVIDENCE = ("top1_mean", "top1_std", "ci_lo", "ci_hi", "p_best", "tied", "flops_ratio",
            "resolution", "image_size", "params", "epochs", "rung", "images", "seconds")


def storage_url(run_dir: str | Path) -> str:
    """The study's RDB URL (what ``optuna.load_study`` and ``optuna-dashboard`` take)."""
    return f"sqlite:///{(Path(run_dir) / STUDY_FILE).resolve()}"


def load(run_dir: str | Path):
    """The run folder's study (``optuna.Study``)."""
    import optuna

    return optuna.load_study(study_name=STUDY_NAME, storage=storage_url(run_dir))


def _plain(v: object) -> object:
    """A JSON-able attribute value: numpy scalars as Python ones, NaN as None."""
    v = getattr(v, "item", lambda: v)()
    return None if isinstance(v, float) and math.isnan(v) else v


def _status(rank: dict | None, rows: list[dict]) -> str:
    """finished / stopped at rung k / paused at epoch k / failed / rejected."""
    if rank is None:
        return "rejected" if all(r["status"] == Status.REJECTED for r in rows) else "failed"
    status = rank["status"]
    if status == Status.STOPPED:
        return f"stopped at rung {int(rank['rung'])}"
    if status == Status.PAUSED:
        return f"paused at epoch {int(rank['epochs'])}"
    return "finished" if status == Status.OK else "failed"


def _intermediate(rows: list[dict], sign: int = 1) -> dict[int, float]:
    """{epoch: mean val top-1 (or sign × the stored --metric) of the seeds evaluated after
    it}."""
    last = max((r.get("epochs") or 0 for r in rows), default=0)  # a rejected row has none
    out = {}
    for epoch in range(1, last + 1):
        scores = [s for r in rows if (s := history_at(r, epoch)) is not None]
        if scores:
            out[epoch] = sign * statistics.fmean(scores)
    return out


def _trial(rows: list[dict], rank: dict | None, distributions: dict, sign: int = 1):
    from optuna.trial import TrialState, create_trial

    status = _status(rank, rows)
    state = (TrialState.COMPLETE if status == "finished" else TrialState.FAIL
             if status in ("failed", "rejected") else TrialState.PRUNED)
    value = cast(float | None, _plain(rank["score_mean"])) if rank is not None else None
    value = None if value is None else sign * value  # --mode min: the metric's own sign
    attrs = {k: _plain(rank[k]) for k in EVIDENCE} if rank is not None else {}
    errors = sorted({r["error"] for r in rows if r.get("error")})
    return create_trial(
        state=state, value=None if state == TrialState.FAIL else value,
        params={k: rows[0][k] for k in KEY}, distributions=distributions,
        intermediate_values=_intermediate(rows, sign),
        user_attrs=dict(attrs, status=status, seeds=sorted(r["seed"] for r in rows),
                        top1_per_seed={str(r["seed"]): r.get("top1") for r in rows},
                        **({"error": errors[0]} if errors else {})))


def write_study(out: Path, rows: list[dict], ranking: list[dict], ranges: Ranges,
                attrs: dict) -> Path:
    """Rebuild ``out/optuna.db`` from ``rows`` (trials.csv) and the ranking's evidence, one
    trial per candidate in the order trials.csv first holds them; ``attrs``: the study's user
    attributes (baseline, data, chance, …). Returns the file's path."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import SQLAlchemyError

    by_key: dict[tuple, list[dict]] = {}
    for r in rows:
        by_key.setdefault(Candidate.key_of(r), []).append(r)
    ranked = {Candidate.key_of(r): r for r in ranking}
    distributions = {}
    for k in KEY:  # the search ranges, widened to hold every stored value (a resumed run's)
        values = [r[k] for r in rows]
        lo, hi = getattr(ranges, k)
        distributions[k] = FloatDistribution(min([lo, *values]), max([hi, *values]))
    metric, mode = attrs.get("metric") or "top1", attrs.get("mode") or "max"
    sign = -1 if mode == "min" else 1
    trials = [_trial(sorted(g, key=lambda r: r["seed"]), ranked.get(key), distributions, sign)
              for key, g in by_key.items()]
    path = Path(out) / STUDY_FILE
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with atomic_path(path) as tmp:
        try:
            storage = optuna.storages.RDBStorage(f"sqlite:///{tmp}")
            study = optuna.create_study(storage=storage, study_name=STUDY_NAME,
                                        direction="minimize" if sign < 0 else "maximize")
            study.set_metric_names([metric])  # optuna-dashboard's name for the objective
            for name, value in attrs.items():
                study.set_user_attr(name, _plain(value))
            study.add_trials(trials)
            storage.engine.dispose()  # every connection closed before the rename
        except (SQLAlchemyError, StorageInternalError) as err:  # "database or disk is full"
            cause = getattr(err, "orig", None) or err.__cause__ or err
            raise WriteError(f"cannot write {path}: {str(cause).splitlines()[0]}") from None
    return path
