"""The examples/ training functions (README, "Your own training") run as the README shows:
a dense-prediction search ranked by mIoU, a --mode min regression, a plain PyTorch loop
driving a comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SMALL = ["--beta-range", "1:1", "--grid-step", "0.1", "--no-match-flops",
         "--flops-tolerance", "0.5", "--proxy-size", "32", "--num-train", "32",
         "--num-val", "16", "--batch-size", "16", "--epochs", "1", "--family-phi", "1",
         "--seeds", "2", "--lr", "0.01"]


def _study(out: Path):
    import optuna

    return optuna.load_study(study_name=None, storage=f"sqlite:///{out / 'optuna.db'}")


def _search(cli, example: str, metric: str, mode: str, out: Path) -> str:
    """Search examples/EXAMPLE.py's NET trained by its train, as the README shows; stdout."""
    spec = f"{EXAMPLES / example}"
    code, stdout, err = cli("search", "--baseline", f"{spec}:NET", "--train", f"{spec}:train",
                            "--metric", metric, "--mode", mode, *SMALL, "--out", out)
    assert code == 0, err
    return stdout


def test_segmentation_is_ranked_by_miou_and_every_report_says_so(cli, tmp_path):
    seg, out = f"{EXAMPLES / 'segmentation.py'}", tmp_path / "seg"
    stdout = _search(cli, "segmentation.py", "miou", "max", out)
    best = json.loads((out / "best.json").read_text())
    assert (best["metric"], best["mode"], best["ranked"]) == ("miou", "max", "miou")
    rows = pd.read_csv(out / "trials.csv")
    assert (rows["status"] == "ok").all() and rows["top1"].between(0, 100).all()
    assert f"; miou {best['top1_mean']:.1f}" in stdout.splitlines()[-2]  # the answer line
    assert stdout.splitlines()[1].split()[9] == "miou"  # the ranking's column header
    assert "miou" in (out / "report.html").read_text()
    study = _study(out)
    assert study.metric_names == ["miou"] and study.direction.name == "MAXIMIZE"
    saved = json.loads((out / "search.json").read_text())
    assert saved["config"]["setup"]["trainer"] == f"{seg}:train"
    assert saved["trainer_fingerprint"]["file"] == seg


def test_a_lower_is_better_metric_ranks_with_mode_min(cli, tmp_path):
    out = tmp_path / "reg"
    _search(cli, "regression.py", "mse", "min", out)
    rows = pd.read_csv(out / "trials.csv")
    assert (rows["top1"] < 0).all()  # -mse: higher is better for every decision
    means = rows.groupby(["alpha", "beta", "gamma"])["top1"].mean()
    best = json.loads((out / "best.json").read_text())
    # trials.csv keeps 6 decimals, so its mean is within 5e-7 of best.json's unrounded one
    assert best["ranked"] == "-mse" and best["top1_mean"] == pytest.approx(
        means.loc[tuple(best[k] for k in ("alpha", "beta", "gamma"))], rel=0, abs=5e-7)
    study = _study(out)
    assert study.direction.name == "MINIMIZE" and study.metric_names == ["mse"]
    assert study.best_value == pytest.approx(-means.max())  # the user's sign, the lowest mse


def test_a_plain_pytorch_loop_trains_every_strategy_of_a_comparison(cli, tmp_path):
    out = tmp_path / "cmp"
    code, _, err = cli("compare", "--baseline", f"{EXAMPLES / 'tinynet.py'}:TINY",
                       "--train", f"{EXAMPLES / 'plain_loop.py'}:train", "--flops-ratio", "2",
                       "--strategies", "depth,width", "--proxy-size", "32", "--num-train",
                       "32", "--num-val", "16", "--batch-size", "16", "--epochs", "1",
                       "--seeds", "1", "--out", out)
    assert code == 0, err
    rows = pd.read_csv(out / "compare.csv")
    assert len(rows) == 3 and (rows["status"] == "ok").all()  # baseline, depth, width
    assert rows["top1"].between(0, 100).all()


@pytest.mark.slow
def test_fidelity_retrains_with_the_search_s_function_and_its_mode(cli, tmp_path):
    """The reference trains with the same function (named again: --train) at a higher budget
    and ranks with the search's --mode min."""
    reg = f"{EXAMPLES / 'regression.py'}"
    out = tmp_path / "reg"
    _search(cli, "regression.py", "mse", "min", out)
    code, _, err = cli("fidelity", out, "--baseline", f"{reg}:NET", "--top", "2",
                       "--random", "0", "--epochs", "2", "--seeds", "2")
    assert "name it again with --train" in err and code == 2, err
    code, _, err = cli("fidelity", out, "--baseline", f"{reg}:NET", "--train", f"{reg}:train",
                       "--top", "2", "--random", "0", "--epochs", "2", "--seeds", "2")
    assert code == 0, err
    rows = pd.read_csv(out / "fidelity" / "trials.csv")
    assert (rows["status"] == "ok").all() and (rows["top1"] < 0).all()  # -mse, as the search
    assert (rows["epochs"] == 2).all()
