"""The check that a run folder's optuna.db holds what its trials.csv holds (issue 24 §2), read
here with pandas and optuna alone, not through scalesearch's own readers."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd

KEY = ["alpha", "beta", "gamma"]
STATES = {"ok": "COMPLETE", "stopped": "PRUNED", "paused": "PRUNED", "failed": "FAIL",
          "rejected": "FAIL"}


def check_study(run_dir: Path) -> optuna.Study:
    """One trial per candidate of trials.csv, none twice; each with its α, β, γ, the state its
    status gives, the mean top-1 of its scored seeds as value (a minimised study: the metric's
    own sign, trials.csv holding −metric), its seeds, and the per-epoch mean of the seeds'
    histories as intermediate values."""
    study = optuna.load_study(study_name="scalesearch",
                              storage=f"sqlite:///{run_dir / 'optuna.db'}")
    sign = -1 if study.direction == optuna.study.StudyDirection.MINIMIZE else 1
    rows = pd.read_csv(run_dir / "trials.csv")
    groups = {tuple(round(v, 6) for v in k): g for k, g in rows.groupby(KEY)}
    trials = {tuple(round(t.params[k], 6) for k in KEY): t for t in study.trials}
    assert len(study.trials) == len(trials) == len(groups)  # nothing lost, nothing twice
    assert set(trials) == set(groups)
    for key, g in groups.items():
        t = trials[key]
        best_status = next(s for s in ("ok", "paused", "stopped", "failed", "rejected")
                           if (g["status"] == s).any())
        assert t.state.name == STATES[best_status], (key, t.state, best_status)
        assert t.user_attrs["seeds"] == sorted(g["seed"])
        scored = g[g["status"].isin(["ok", "stopped", "paused"])]["top1"].dropna()
        if t.state.name == "FAIL":
            assert t.value is None
        else:
            assert abs(t.value - sign * scored.mean()) < 1e-6, (key, t.value, scored.mean())
        histories = [[float(x) if x else None for x in str(h).split(";")]
                     for h in g["history"].dropna()]
        for epoch, value in t.intermediate_values.items():
            at = [h[epoch - 1] for h in histories if len(h) >= epoch and h[epoch - 1] is not None]
            assert abs(value - sign * sum(at) / len(at)) < 1e-6
    return study
