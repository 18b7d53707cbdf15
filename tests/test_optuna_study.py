"""optuna.db (issue 24 §2): the committed flower_photos sha search (13 finished and stopped
candidates) rebuilt into an Optuna study and read back with optuna; a rebuild (what --resume
does) duplicates nothing; optuna.visualization and optuna-dashboard read the file. The searches
of test_search.py check the study that a real (and a SIGKILLed, resumed) search leaves."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from optuna_check import check_study

from scalesearch.coefsearch.optuna_study import STUDY_FILE, load, write_study
from scalesearch.coefsearch.results import ranking
from scalesearch.coefsearch.stats import TIE_P
from scalesearch.coefsearch.trials import TrialStore
from scalesearch.settings.search import Ranges

SEARCH = Path(__file__).resolve().parents[1] / "studies" / "results" / \
    "search_mobilenetv2_flowers_sha"


@pytest.fixture
def run_dir(tmp_path):
    out = tmp_path / "flowers_sha"
    shutil.copytree(SEARCH, out)
    return out


def _write(out: Path) -> None:
    rows = TrialStore(out / "trials.csv").rows
    meta = json.loads((out / "best.json").read_text())
    rank = ranking(rows, rungs=meta.get("rungs"), chance=meta.get("chance"))
    write_study(out, rows, rank.to_dict("records"), Ranges(), dict(baseline=meta["baseline"]))


def test_the_study_holds_trials_csv_and_a_rebuild_duplicates_nothing(run_dir):
    _write(run_dir)
    study = check_study(run_dir)
    states = {t.state.name for t in study.trials}
    assert states == {"COMPLETE", "PRUNED"}  # the sha run stopped some candidates
    assert study.user_attrs["baseline"] == "mobilenet-v2"
    finished = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert abs(sum(t.user_attrs["p_best"] for t in finished) - 1) < 1e-3  # over the finishers
    assert all(t.user_attrs["tied"] == (t.user_attrs["p_best"] >= TIE_P) for t in finished)
    assert all(t.user_attrs["ci_lo"] < t.value < t.user_attrs["ci_hi"] for t in finished)
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert all(t.user_attrs["status"].startswith("stopped at rung") for t in pruned)
    _write(run_dir)  # a resumed search rebuilds the file
    assert len(check_study(run_dir).trials) == len(study.trials)
    assert not list(run_dir.glob(f".{STUDY_FILE}.*"))  # no temp file left behind


def test_a_rejected_sample_is_a_failed_trial(run_dir, tmp_path):
    """TPE's rejected samples reach the study as the trainable reported them: rows that were
    never trained, without epochs or top-1 (CI caught a KeyError on them)."""
    rows = TrialStore(run_dir / "trials.csv").rows
    rejected = dict(alpha=1.9, beta=1.0, gamma=1.02, seed=0, status="rejected",
                    error="measured FLOPs ratio 2.600 outside 2 ± 0.25")
    rank = ranking(rows)
    write_study(tmp_path, [*rows, rejected], rank.to_dict("records"), Ranges(), {})
    (trial,) = [t for t in load(tmp_path).trials if t.params["gamma"] == 1.02]
    assert trial.state.name == "FAIL" and trial.value is None
    assert trial.user_attrs["status"] == "rejected" and "outside 2" in trial.user_attrs["error"]
    assert len(load(tmp_path).trials) == 1 + len({(r["alpha"], r["beta"], r["gamma"])
                                                   for r in rows})


def test_optuna_visualization_builds_from_the_study(run_dir):
    pytest.importorskip("plotly", reason="plotly (the dashboard extra) is not installed")
    import optuna

    _write(run_dir)
    figure = optuna.visualization.plot_parallel_coordinate(load(run_dir),
                                                           params=["alpha", "beta", "gamma"])
    completed = sorted(t.value for t in load(run_dir).trials if t.state.name == "COMPLETE")
    lines = [d for d in figure.data if d.mode == "lines"]  # one line per finished candidate
    assert [c[0] for c in lines[0].customdata] == ["Objective Value", "alpha", "beta", "gamma"]
    drawn = sorted(float(d.customdata[0][1]) for d in lines)
    assert len(drawn) == len(completed) >= 2
    assert all(abs(a - b) < 0.06 for a, b in zip(drawn, completed, strict=True))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_optuna_dashboard_serves_the_study(run_dir):
    pytest.importorskip("optuna_dashboard",
                        reason="optuna-dashboard (pip install 'scalesearch[dashboard]') absent")
    _write(run_dir)
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("optuna-dashboard")),
         f"sqlite:///{run_dir / STUDY_FILE}", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies",
                                            timeout=5) as r:
                    answer = (r.status, json.loads(r.read()))
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "optuna-dashboard did not answer in 60 s"
                time.sleep(0.5)
        status, body = answer
        assert status == 200
        (study,) = body["study_summaries"]
        assert study["study_name"] == "scalesearch"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard/", timeout=5) as r:
            assert r.status == 200 and b"<html" in r.read().lower()
    finally:
        server.terminate()
        server.wait(timeout=30)
