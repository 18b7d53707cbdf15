"""--log-to tensorboard,mlflow (issue 24 §3): the tracker callbacks leave one run per
candidate (per network × seed in a comparison). The runs are read back with MLflow's own
``search_runs`` and TensorBoard's own event reader, and checked against trials.csv and
compare.csv, read here with pandas."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from conftest import TINY_STUDY

from scalesearch.errors import ScalesearchError
from scalesearch.settings.placement import Tracking
from scalesearch.settings.trackers import tracked

mlflow = pytest.importorskip("mlflow", reason="mlflow (pip install 'scalesearch[mlflow]')")
event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="tensorboard (pip install 'scalesearch[tensorboard]')")

KEY = ["alpha", "beta", "gamma"]


def _mlflow_runs(out: Path) -> dict[str, dict]:
    """{run name: {"params": …, "top1": [(step, value)], "metrics": {name: last value}}}."""
    uri = f"sqlite:///{out.resolve()}/mlruns/mlflow.db"
    client = mlflow.MlflowClient(uri)
    (experiment,) = client.search_experiments(filter_string=f"name = '{out.name}'")
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    found = {}
    for run in runs:
        name = run.info.run_name
        assert name not in found, f"two MLflow runs named {name}"
        history = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id,
                                                                         "top1")]
        found[name] = dict(params=run.data.params, metrics=run.data.metrics,
                           top1=sorted(history), tags=run.data.tags)
    return found


def _tensorboard_runs(out: Path, tag: str) -> dict[str, list[tuple[int, float]]]:
    """{run folder: [(step, value)] of ``tag``} from the event files."""
    found = {}
    for folder in sorted((out / "tensorboard").iterdir()):
        acc = event_accumulator.EventAccumulator(str(folder))
        acc.Reload()
        found[folder.name] = sorted((e.step, e.value) for e in acc.Scalars(tag))
    return found


def _name(a: float, b: float, g: float) -> str:
    return f"alpha{a:g}_beta{b:g}_gamma{g:g}"


def _per_epoch_means(group: pd.DataFrame) -> list[tuple[int, float]]:
    """The seeds' mean val top-1 after each epoch, from their ';'-separated histories."""
    histories = [[float(x) for x in h.split(";")] for h in group["history"].astype(str)]
    epochs = max(len(h) for h in histories)
    return [(e + 1, sum(h[e] for h in histories if len(h) > e)
             / sum(len(h) > e for h in histories)) for e in range(epochs)]


def _close(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> bool:
    return [s for s, _ in a] == [s for s, _ in b] and all(
        math.isclose(x, y, abs_tol=1e-3) for (_, x), (_, y) in zip(a, b, strict=True))


@pytest.mark.slow
def test_a_search_logs_every_candidate_to_both_trackers(cli, tmp_path):
    """Synchronous halving (rung at epoch 1 of 3), every epoch evaluated: the candidate that
    goes on continues its MLflow run and its TensorBoard folder in the later rung."""
    out = tmp_path / "tracked"
    code, _, err = cli("search", "--baseline", "efficientnet-b0", "--beta-range", "1:1",
                       "--grid-step", "0.1", "--no-match-flops", "--proxy-size", "32",
                       "--num-train", "48", "--num-val", "24", "--epochs", "3",
                       "--scheduler", "sha", "--min-epochs", "1", "--curves",
                       "--batch-size", "16", "--family-phi", "1", "--seeds", "2",
                       "--log-to", "tensorboard,mlflow", "--metric", "top1", "--out", out)
    assert code == 0, err  # val top-1 (the default, sotl, is logged under its own name)
    trials = pd.read_csv(out / "trials.csv")
    expected = {_name(*k): _per_epoch_means(g) for k, g in trials.groupby(KEY)}
    assert len(expected) == 2 and {len(v) for v in expected.values()} == {1, 3}
    runs = _mlflow_runs(out)
    assert set(runs) == set(expected)
    for (a, b, g), group in trials.groupby(KEY):
        run = runs[_name(a, b, g)]
        assert _close(run["top1"], expected[_name(a, b, g)]), run["top1"]
        assert {k: float(v) for k, v in run["params"].items()} == dict(alpha=a, beta=b,
                                                                       gamma=g)
        for seed, top1 in zip(group["seed"], group["top1"], strict=True):  # the last epoch's
            assert math.isclose(run["metrics"][f"top1/seed{seed}"], top1, abs_tol=1e-4)
        assert run["tags"]["scalesearch.command"] == "search"
    page = (out / "report.html").read_text()  # the page says how to open all three
    assert "sqlite:///optuna.db" in page and "--logdir tensorboard" in page
    assert "sqlite:///mlruns/mlflow.db" in page
    board = _tensorboard_runs(out, "top1")
    assert set(board) == set(expected)
    assert all(_close(board[k], expected[k]) for k in expected), board


@pytest.mark.slow
def test_a_study_logs_every_network_and_seed_to_both_trackers(cli, tmp_path):
    study = tmp_path / "tiny.yaml"
    study.write_text(TINY_STUDY)
    code, _, err = cli("study", study, "--log-to", "mlflow,tensorboard")
    assert code == 0, err
    out = tmp_path / "results" / "tiny"
    rows = pd.read_csv(out / "compare.csv")
    expected = {f"{r.strategy}_x{r.target_ratio:g}_seed{r.seed}": r for r in
                rows.itertuples()}
    assert len(expected) == 2
    runs = _mlflow_runs(out)
    assert set(runs) == set(expected)
    for name, row in expected.items():
        assert math.isclose(runs[name]["metrics"][f"top1/seed{row.seed}"], row.top1,
                            abs_tol=1e-4)
        assert int(runs[name]["params"]["image_size"]) == row.image_size
    for name, points in _tensorboard_runs(out, "top1/seed0").items():
        assert len(points) == 1 and math.isclose(points[0][1], expected[name].top1,
                                                 abs_tol=1e-4)


def test_tracked_logs_only_what_an_epoch_measured():
    rows = [dict(seed=0, top1=20.0, loss=2.0, epochs=1), dict(seed=1, top1=30.0, loss=1.5)]
    assert tracked(dict(epoch=2, score=math.nan, key=[1, 1, 1], rows=rows)) == dict(
        epoch=2)  # an epoch not evaluated: the rows hold stale scores
    assert tracked(dict(epoch=3, score=25.0, key=[1, 1, 1], rows=rows)) == {
        "epoch": 3, "top1": 25.0, "top1/seed0": 20.0,
        "loss/seed0": 2.0, "top1/seed1": 30.0, "loss/seed1": 1.5}
    assert tracked(dict(rows=[dict(seed=2, top1=None, epochs=4, loss=math.inf)])) == dict(
        epoch=4)  # a failed comparison job: nothing measured


@pytest.mark.parametrize("options, says", [
    (dict(log_to="tensorboard,wandb"), "unknown tracker 'wandb'"),
    (dict(log_to="tensorboard", mlflow_uri="http://h:5000"), "add --log-to mlflow"),
])
def test_bad_tracker_options_are_one_line(options, says):
    with pytest.raises(ScalesearchError, match=says):
        Tracking(**options)
    assert Tracking(" mlflow, tensorboard,mlflow").log_to == ("mlflow", "tensorboard")


def test_a_missing_tracker_is_refused_naming_its_install(cli, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlflow" else real(name, *a))
    code, _, err = cli("search", "--log-to", "mlflow", "--out", tmp_path / "s")
    assert code == 2 and not (tmp_path / "s").exists()
    assert err.strip().splitlines() == [
        "scalesearch search: error: --log-to mlflow needs the mlflow package: pip install "
        "'scalesearch[mlflow]'"]
    code, _, err = cli("compare", "--baseline", "resnet50", "--log-to", "tb", "--no-train")
    assert code == 2 and "unknown tracker 'tb'" in err and len(err.strip().splitlines()) == 1


def test_a_new_tracker_is_one_entry_in_the_map(monkeypatch, tmp_path):
    """--log-to validates against trackers.TRACKERS, its help lists the entries, and the
    callbacks come from the entry's factory (what adding a tracker touches: the map)."""
    import argparse

    from scalesearch.settings import trackers
    from scalesearch.settings.fields import add_flags

    made = []
    monkeypatch.setitem(trackers.TRACKERS, "csvlog", trackers.Tracker(
        "csv", "csvlog", "OUT/csvlog/",
        lambda tracking, out, describe, command: made.append((out, command)) or "callback"))
    tracking = Tracking("csvlog")
    assert trackers.callbacks(tracking, tmp_path, lambda c: ("run", {}), "search") == \
        ["callback"] and made == [(tmp_path, "search")]
    parser = argparse.ArgumentParser(formatter_class=lambda prog: argparse.HelpFormatter(
        prog, width=1000))
    add_flags(parser, Tracking)
    assert "tensorboard (OUT/tensorboard/), mlflow (OUT/mlruns/ unless --mlflow-uri);" in \
        parser.format_help()
