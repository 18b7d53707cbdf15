"""φ=1 search: filters, Ray Tune + Optuna end to end, failures, determinism, resume, cluster."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from functools import partial

import pandas as pd
import pytest
from conftest import kill_when
from optuna_check import check_study
from scipy.stats import kendalltau, spearmanr
from winner_check import check_answer

from scalesearch.coefsearch import runner
from scalesearch.coefsearch.space import build_space, within
from scalesearch.coefsearch.trials import TrialStore
from scalesearch.errors import ScalesearchError
from scalesearch.scaling.counter import count, flops_ratio
from scalesearch.scaling.registry import resolve
from scalesearch.scaling.scaler import compound
from scalesearch.settings.search import Ranges

# Two candidates on B0 (α=1.9, alias α=2, and γ=1.4, with β fixed at 1), trained at γ (no
# FLOPs matching), tiny data: a few seconds per search after Ray starts. The family stops at
# φ = 1 (φ = 2 where a test reads it): its members are counted at every image size the FLOPs
# match tries, and at φ = 3 the α = 1.9 winner's family took 23 of a tiny search's 56 s.
TINY = ["--baseline", "efficientnet-b0", "--beta-range", "1:1", "--grid-step", "0.1",
        "--no-match-flops", "--proxy-size", "32", "--num-train", "48", "--num-val", "24",
        "--epochs", "1", "--batch-size", "16", "--family-phi", "1"]


def test_measured_filter_drops_what_the_formula_keeps():
    """α=1.2, β=1.3, γ=1: α·β²·γ² = 2.028 passes, but ceil-rounded repeats make B0 2.5× as
    expensive — the measured filter must drop it."""
    b0 = resolve("efficientnet-b0")
    ranges = Ranges(alpha=(1.2, 1.2), beta=(1.3, 1.3), gamma=(1.0, 1.0), step=0.1)
    assert flops_ratio(b0, compound(1, 1.2, 1.3, 1.0)) > 2.4
    space = build_space(b0, ranges, tolerance=0.05, flops_tolerance=0.25, match_flops=False)
    assert (space.total, space.removed_formula, space.removed_measured) == (1, 0, 1)
    assert space.candidates == ()
    loose = build_space(b0, ranges, tolerance=0.05, flops_tolerance=0.6, match_flops=False)
    assert [c.key for c in loose.candidates] == [(1.2, 1.3, 1.0)]


def test_grid_filters_by_formula_and_measurement():
    b0 = resolve("efficientnet-b0")
    space = build_space(b0, Ranges(step=0.1), tolerance=0.05, flops_tolerance=0.25,
                        match_flops=False)
    assert space.total == 11 * 6 * 6
    base = count(b0.build, b0.image_size).flops  # fresh counters: no cache shared with the space
    for c in space.candidates:
        assert within(c.product, 0.05) and abs(c.nominal_ratio - 2) <= 0.25
        fresh = count(partial(b0.build, c.alpha, c.beta), b0.scaled_image_size(c.gamma))
        assert c.nominal_ratio == pytest.approx(fresh.flops / base)
    assert (space.removed_formula + space.removed_measured + len(space.candidates)
            + space.merged) == space.total


def test_trial_store_dedups_and_reloads(tmp_path):
    store = TrialStore(tmp_path / "t.csv")
    row = dict(alpha=1.0, beta=1.0, gamma=1.4, seed=0, top1=50.0, status="ok", loss=math.nan)
    store.append([row, dict(row, seed=1)])
    store.append([dict(row, top1=99.0)])  # same (α, β, γ, seed): ignored
    again = TrialStore(tmp_path / "t.csv")
    assert [(r["seed"], r["top1"], r["loss"]) for r in again.rows] == [(0, 50.0, None),
                                                                       (1, 50.0, None)]


def _metrics(path):
    df = pd.read_csv(path).sort_values(["alpha", "beta", "gamma", "seed"])
    return df[["alpha", "beta", "gamma", "seed", "image_size", "flops", "top1", "loss",
               "status"]].reset_index(drop=True)


@pytest.mark.slow
def test_search_end_to_end_and_coefficients_round_trip(cli, tmp_path):
    out = tmp_path / "s"
    code, stdout, err = cli("search", *TINY, "--family-phi", "2", "--seeds", "2", "--out", out)
    assert code == 0, err
    assert "3 candidates left, 2 distinct networks" in err and "[2/2]" in err
    rows = _metrics(out / "trials.csv")
    assert len(rows) == 4 and set(rows["status"]) == {"ok"}
    assert sorted(map(tuple, rows[["alpha", "gamma"]].drop_duplicates().values)) == [
        (1.0, 1.4), (1.9, 1.0)]
    assert set(rows.loc[rows["gamma"] == 1.4, "image_size"]) == {44}  # round(32 × 1.4)
    best = json.loads((out / "best.json").read_text())
    check_answer(best, pd.read_csv(out / "trials.csv"))  # recomputed from the rows
    assert best["seeds"] == 2 and best["baseline"] == "efficientnet-b0"
    for key in ("top1_ci95", "p_best", "separated", "tie_break", "tied"):
        assert key in best
    assert best["tie_break"] == "p_best" and len(best["top1_ci95"]) == 2
    page = (out / "report.html").read_text()  # the run's one page, its path the last line
    assert stdout.strip().splitlines()[-1].endswith(str(out / "report.html"))
    assert "The answer" in page and 'src="data:image/png' in page  # contents: test_htmlreport
    assert len(check_study(out).trials) == 2  # optuna.db: one trial per candidate
    fingerprint = json.loads((out / "search.json").read_text())["baseline_fingerprint"]
    assert fingerprint["params"] == count(lambda: resolve("efficientnet-b0").build(), 224).params
    assert best["tied"] and all(t["p_best"] >= 0.02 for t in best["tied"])
    if (best["alpha"], best["gamma"]) == (1.9, 1.0):
        assert best["aliases"] == [[2.0, 1.0, 1.0]]
    separated = "the winner is separated: no other candidate has p_best ≥ 2%"
    tied = f"{len(best['tied'])} candidates are statistically tied; chosen by --tie-break"
    assert best["separated"] == (len(best["tied"]) == 1)  # what the seeds measured decides
    assert (separated in stdout, tied in stdout) == (best["separated"], not best["separated"])
    for png in ("search.png", "family.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    family = pd.read_csv(out / "family.csv")
    assert sorted(set(family["source"])) == ["found", "paper"] and len(family) == 4  # φ 1…2
    code, stdout, _ = cli("scale", "--baseline", "efficientnet-b0", "--phi", "1",
                          "--coefficients", out / "best.json", "--format", "json")
    scaled = json.loads(stdout)
    assert code == 0 and (scaled["alpha"], scaled["gamma"]) == (best["alpha"], best["gamma"])
    found_phi1 = family[(family["source"] == "found") & (family["phi"] == 1)].iloc[0]
    assert scaled["flops"] == found_phi1["flops"]


@pytest.mark.slow
def test_same_seed_same_metrics(cli, tmp_path):
    for name in ("a", "b"):
        assert cli("search", *TINY, "--out", tmp_path / name)[0] == 0
    pd.testing.assert_frame_equal(_metrics(tmp_path / "a" / "trials.csv"),
                                  _metrics(tmp_path / "b" / "trials.csv"))


NAN_NET = '''
import torch
from torch import nn
from scalesearch.scaling.scalable import Scalable


class Net(nn.Module):
    """depth = number of 3×3 convs after the stem; deeper than 1.5 diverges on purpose."""

    def __init__(self, width, depth, num_classes):
        super().__init__()
        convs = [nn.Conv2d(width, width, 3, padding=1) for _ in range(round(depth))]
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), *convs)
        self.fc, self.diverge = nn.Linear(width, num_classes), depth > 1.5

    def forward(self, x):
        y = self.fc(torch.relu(self.body(x)).mean((2, 3)))
        return y * float("nan") if self.diverge else y


class Diverging(Scalable):
    name, image_size = "diverging", 32

    def build(self, depth=1.0, width=1.0, *, num_classes=None, dropout=None, drop_path=None):
        return Net(round(8 * width), depth, num_classes or 10)


NET = Diverging()
'''


@pytest.mark.slow
def test_nan_trial_is_recorded_as_failed_and_the_search_goes_on(cli, tmp_path):
    (tmp_path / "net.py").write_text(NAN_NET)
    args = [a if a != "efficientnet-b0" else f"{tmp_path / 'net.py'}:NET" for a in TINY]
    code, stdout, err = cli("search", *args, "--out", tmp_path / "s", "--flops-tolerance", "0.5",
                            "--format", "json")
    assert code == 0, err

    def strict(name):
        raise AssertionError(f"{name} in JSON output")

    summary = json.loads(stdout, parse_constant=strict)
    failed = {r["alpha"] > 1.5: r["failed"] for r in summary["ranking"]}
    assert failed == {True: 2, False: 0}  # both seeds of the deep candidate diverged
    assert summary["ranking"][-1]["top1_mean"] is None  # NaN became null, ranked last
    rows = pd.read_csv(tmp_path / "s" / "trials.csv")
    deep = rows[rows["alpha"] > 1.5].iloc[0]
    assert deep["status"] == "failed" and "non-finite loss" in deep["error"]
    assert rows[rows["alpha"] == 1.0].iloc[0]["status"] == "ok"
    assert json.loads((tmp_path / "s" / "best.json").read_text())["alpha"] < 1.5


ALWAYS_NAN = NAN_NET.replace("depth > 1.5", "True")


@pytest.mark.slow
def test_a_search_whose_trials_all_fail_ends_with_a_clean_report(cli, tmp_path):
    (tmp_path / "net.py").write_text(ALWAYS_NAN)
    args = [a if a != "efficientnet-b0" else f"{tmp_path / 'net.py'}:NET" for a in TINY]
    out = tmp_path / "s"
    code, stdout, err = cli("search", *args, "--out", out, "--flops-tolerance", "0.5")
    assert code == 1 and "Traceback" not in err
    assert "failed trainings:" in stdout and "non-finite loss" in stdout
    assert err.strip().splitlines()[-1].startswith("no candidate trained successfully")
    assert not (out / "best.json").exists()
    code, stdout, _ = cli("search", *args, "--out", out, "--flops-tolerance", "0.5",
                          "--resume", "--format", "json")
    assert code == 1 and json.loads(stdout)["best"] is None


@pytest.mark.slow
def test_resume_after_kill_loses_and_duplicates_nothing(tmp_path):
    out = tmp_path / "s"
    # three candidates on the γ axis (α=β=1 not in range: 1.4 only) → widen: α and γ free
    args = [sys.executable, "-m", "scalesearch.cli.main", "search", *TINY, "--seeds", "2",
            "--cpus-per-trial", "2", "--out", str(out)]
    kill_when(args, lambda: (out / "trials.csv").exists()
              and len(TrialStore(out / "trials.csv").rows) >= 2)
    before = TrialStore(out / "trials.csv").rows
    assert 2 <= len(before) < 4
    assert not (out / "best.json").exists()
    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    after = TrialStore(out / "trials.csv").rows
    keys = [(r["alpha"], r["beta"], r["gamma"], r["seed"]) for r in after]
    assert len(keys) == len(set(keys)) == 4
    assert after[:len(before)] == before  # finished trials were kept, not retrained
    assert len(check_study(out).trials) == 2


# B0 whose networks stall once a first candidate is recorded, while the file "hold" exists:
# a Ctrl-C then always lands with one candidate finished and the other in flight.
HELD_NET = '''
import time
from pathlib import Path

import torch

from scalesearch.scaling.scalable import TableBaseline
from scalesearch_baselines.efficientnet import EFFICIENTNET_B0

HERE = Path(__file__).parent


def _stall(module, args):  # training steps only: the driver's FLOPs counting runs no_grad
    while torch.is_grad_enabled() and (HERE / "hold").exists() and (
            HERE / "s" / "trials.csv").exists():
        (HERE / "stalled").touch()
        time.sleep(0.2)


class Held(TableBaseline):
    def build(self, depth=1.0, width=1.0, **kw):
        model = super().build(depth, width, **kw)
        model.register_forward_pre_hook(_stall)
        return model


NET = Held(EFFICIENTNET_B0.table)
'''


@pytest.mark.slow
@pytest.mark.timeout(1800)  # two searches; a busy 2-core machine gives a trial minutes
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])  # SIGTERM: issue 23 item 15
def test_ctrl_c_keeps_finished_trials_and_says_how_to_resume(tmp_path, stop):
    out = tmp_path / "s"
    (tmp_path / "held.py").write_text(HELD_NET)
    (tmp_path / "hold").touch()
    tiny = [a if a != "efficientnet-b0" else f"{tmp_path / 'held.py'}:NET" for a in TINY]
    args = [sys.executable, "-m", "scalesearch.cli.main", "search", *tiny, "--seeds", "2",
            "--cpus-per-trial", "2", "--out", str(out)]  # one candidate at a time
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 900
    while time.time() < deadline and proc.poll() is None and not (out / "trials.csv").exists():
        time.sleep(0.2)
    time.sleep(1)  # the driver is back in Tune's loop, the second candidate stalled
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=600)  # it writes the reports (family) before exiting
    assert proc.returncode == 1, err  # interrupted during trials: 1, not 130 (README)
    assert "--resume" in err and "Traceback" not in err and "SIGTERM" not in err
    assert len(TrialStore(out / "trials.csv").rows) == 2  # the first candidate's two seeds
    if stop == signal.SIGTERM:
        return  # the folder a stop leaves is the same either way: SIGINT's run resumes it
    (tmp_path / "hold").unlink()
    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    keys = [(r["alpha"], r["gamma"], r["seed"]) for r in TrialStore(out / "trials.csv").rows]
    assert len(keys) == len(set(keys)) == 4


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_compare_stopped_before_a_training_finished_says_how_to_resume(tmp_path):
    """Issue 34: SIGTERM while the first trainings stall (no compare.csv yet) gave a
    FileNotFoundError traceback; now the line that says --resume, exit 1."""
    (tmp_path / "held.py").write_text(HELD_NET)
    (tmp_path / "hold").touch()
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "trials.csv").touch()  # HELD_NET stalls from the first step
    out = tmp_path / "c"
    args = [sys.executable, "-m", "scalesearch.cli.main", "compare", "--baseline",
            f"{tmp_path / 'held.py'}:NET", "--flops-ratio", "2", "--strategies", "width",
            "--seeds", "1", "--proxy-size", "32", "--num-train", "16", "--num-val", "8",
            "--epochs", "1", "--batch-size", "16", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 400
    while time.time() < deadline and proc.poll() is None and \
            not (tmp_path / "stalled").exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == (f"scalesearch compare: interrupted: {out} keeps what "
                                            "finished; continue with --resume"), err
    assert (out / "compare.json").exists() and not (out / "compare.csv").exists()


@pytest.mark.slow
def test_address_joins_a_multi_node_cluster(cli, tmp_path):
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        code, _, err = cli("search", *TINY, "--out", tmp_path / "s", "--address",
                           cluster.address, "--seeds", "1")
        assert code == 0, err
        assert "(2 CPUs, 1 per trial" in err
        assert len(pd.read_csv(tmp_path / "s" / "trials.csv")) == 2
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.mark.parametrize("extra, message", [
    (["--sampler", "tpe"], "needs a budget"),
    (["--trials", "3"], "use it with --sampler tpe"),
    (["--alpha-range", "0.5:2"], "alpha range"),
    (["--alpha-range", "1-2"], "LOW:HIGH"),
    (["--tolerance", "0"], "tolerance must be in"),
    (["--data", "/no/such/folder"], "data folder not found"),
    (["--resume"], "nothing to resume"),
    (["--baseline", "nonsense-net"], "unknown baseline"),
    (["--scheduler", "asha"], "--min-epochs must be"),  # 1 epoch leaves no rung
    (["--scheduler", "asha", "--epochs", "3", "--reduction-factor", "1"], "reduction-factor"),
    (["--scheduler", "hyperband"], "invalid choice"),
    (["--tie-break", "random"], "invalid choice"),
    (["--objective", "mnas"], "needs exactly one target"),
    (["--target-latency", "5"], "needs the mnas objective"),
    (["--objective", "mnas", "--target-flops", "-1"], "must be a finite number > 0, got -1"),
])
@pytest.mark.timeout(60)  # a refusal: seconds, never a search
def test_bad_input_exits_2_without_writing(cli, tmp_path, extra, message):
    code, _, err = cli("search", *TINY, "--out", tmp_path / "s", *extra)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s" / "trials.csv").exists()


@pytest.mark.slow
def test_out_folder_guards(cli, tmp_path):
    out = tmp_path / "s"
    assert cli("search", *TINY, "--out", out)[0] == 0
    code, _, err = cli("search", *TINY, "--out", out)
    assert code == 2 and "--resume" in err
    code, _, err = cli("search", *TINY, "--out", out, "--resume", "--epochs", "2")
    assert code == 2 and "different settings (setup.train.epochs)" in err
    code, _, err = cli("search", *TINY, "--out", out, "--resume")
    assert code == 0 and "nothing left to train" in err


@pytest.mark.timeout(60)  # a refusal: seconds, never a search
def test_imagefolder_class_mismatch_is_an_up_front_error(cli, tmp_path):
    from PIL import Image

    for split, cls in (("train", "a"), ("train", "b"), ("val", "a"), ("val", "c")):
        (tmp_path / "d" / split / cls).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "d" / split / cls / "x.png")
    code, _, err = cli("search", *TINY, "--data", tmp_path / "d", "--out", tmp_path / "s")
    assert code == 2 and "classes differ" in err


@pytest.mark.parametrize("command", ["search", "compare"])
@pytest.mark.timeout(60)  # a refusal: seconds, never a search
def test_all_unreadable_images_is_an_up_front_error(cli, tmp_path, command):
    """Issue 12: such a folder used to start Ray and fail every trial; now exit 2 at once."""
    for split in ("train", "val"):
        for cls in ("a", "b"):
            (tmp_path / "d" / split / cls).mkdir(parents=True)
            (tmp_path / "d" / split / cls / "x.jpg").write_bytes(b"\xff\xd8 truncated")
    args = TINY if command == "search" else ["--baseline", "mobilenet-v1", "--flops-ratio", "2"]
    code, out, err = cli(command, *args, "--data", tmp_path / "d", "--out", tmp_path / "s")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "no readable image in" in err and "train (2 files" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
@pytest.mark.realdata
def test_search_on_flower_photos(cli, tmp_path, real_dataset):
    data = real_dataset("flower_photos")
    code, _, err = cli("search", *TINY, "--data", data, "--out", tmp_path / "s",
                       "--num-train", "40", "--num-val", "20")
    assert code == 0, err
    rows = pd.read_csv(tmp_path / "s" / "trials.csv")
    # the default ranks by the mean training loss (kept negated under --mode min) and keeps
    # the val top-1 beside it as own_score
    assert set(rows["status"]) == {"ok"} and rows["own_score"].between(0, 100).all()
    assert (-rows["top1"]).between(0.01, 10).all()


@pytest.mark.slow
def test_asha_stops_are_recorded_and_a_sigkilled_run_resumes(tmp_path):
    """ASHA (a rung at epoch 1 of 2) over four FLOPs-matched candidates × 2 seeds, killed after
    the first candidate: the resumed run loses and duplicates nothing, stopped candidates are
    recorded as such, and progress lines come from inside the trials."""
    out = tmp_path / "s"
    args = [sys.executable, "-m", "scalesearch.cli.main", "search",
            *[a for a in TINY if a != "--no-match-flops"], "--epochs", "2", "--scheduler",
            "asha", "--min-epochs", "1", "--seeds", "2", "--cpus-per-trial", "2",
            "--num-val", "96", "--out", str(out)]  # 24 images scored every candidate alike
    kill_when(args, lambda: (out / "trials.csv").exists()
              and len(TrialStore(out / "trials.csv").rows) >= 2)
    before = TrialStore(out / "trials.csv").rows
    assert 2 <= len(before) < 8 and not (out / "best.json").exists()
    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    # progress from inside a trial: the default score, the mean training loss (no val subset)
    assert "epoch 1/2  -sotl " in resumed.stderr and "val subset" not in resumed.stderr
    after = TrialStore(out / "trials.csv").rows
    keys = [(r["alpha"], r["beta"], r["gamma"], r["seed"]) for r in after]
    assert len(keys) == len(set(keys)) == 8
    assert after[:len(before)] == before
    states = {t.state.name for t in check_study(out).trials}  # stopped ones pruned in optuna.db
    assert states == {"COMPLETE", "PRUNED"}
    stopped = [r for r in after if r["status"] == "stopped"]
    finished = [r for r in after if r["status"] == "ok"]
    assert stopped and finished
    assert {(r["epochs"], r["rung"]) for r in stopped} == {(1, 0)}
    assert {(r["epochs"], r["rung"]) for r in finished} == {(2, 1)}
    for r in after:  # FLOPs matching: every candidate trains at 2× ± 3% measured FLOPs
        assert r["matched_resolution"] >= 1 and abs(r["flops_ratio"] / 2 - 1) <= 0.03
        assert len(r["history"].split(";")) == r["epochs"]
        losses = [float(x) for x in r["train_loss"].split(";")]  # each epoch's, resumed too
        assert len(losses) == r["epochs"] and all(0 < x < math.inf for x in losses)
    best = json.loads((out / "best.json").read_text())
    assert best["scheduler"] == "asha"
    assert (best["alpha"], best["beta"], best["gamma"]) in {
        (r["alpha"], r["beta"], r["gamma"]) for r in finished}


@pytest.mark.slow
def test_fidelity_on_a_tiny_search(cli, tmp_path):
    """Four FLOPs-matched candidates (enough val images that their scores are not all equal)."""
    out = tmp_path / "s"
    matched = [a for a in TINY if a != "--no-match-flops"]
    assert cli("search", *matched, "--num-val", "60", "--out", out)[0] == 0
    code, stdout, err = cli("fidelity", out, "--top", "3", "--random", "1", "--epochs", "2",
                            "--proxy-size", "40", "--format", "json")
    assert code == 0, err
    result = json.loads(stdout)
    table = pd.read_csv(out / "fidelity" / "fidelity.csv")  # τ, ρ recomputed from the file
    assert result["kendall_tau"] == pytest.approx(
        kendalltau(-table["proxy_rank"], table["reference_mean"]).statistic)
    assert result["spearman_rho"] == pytest.approx(
        spearmanr(-table["proxy_rank"], table["reference_mean"]).statistic)
    lo, hi = result["kendall_tau_ci95"]
    assert -1 <= lo <= hi <= 1
    # 4 candidates: the reference's own order is unmeasured, so it cannot judge the proxy
    assert result["reference_reliability"]["verdict"] == "unmeasured"
    assert result["proxy_reliability"]["candidates"] == 4
    assert result["tau_verdict"] == "cannot judge: the reference does not rank reproducibly"
    best = json.loads((out / "best.json").read_text())
    assert result["search_winner"] == [best["alpha"], best["beta"], best["gamma"]]
    tied = [[r.alpha, r.beta, r.gamma] for r in table.itertuples() if r.reference_tied]
    assert result["reference_winner"] in tied
    assert result["same_winner"] == (result["search_winner"] == result["reference_winner"])
    assert result["winner_in_tied"] == (result["search_winner"] in tied)
    assert len(result["candidates"]) == 4
    assert {"alpha", "beta", "gamma", "proxy_mean", "proxy_std", "reference_mean",
            "reference_std"} <= set(result["candidates"][0])
    assert (result["reference_epochs"], result["reference_proxy_size"]) == (2, 40)
    folder = out / "fidelity"
    for name in ("trials.csv", "fidelity.csv", "result.json"):
        assert (folder / name).exists()
    assert (folder / "fidelity.png").read_bytes()[:4] == b"\x89PNG"
    rows = pd.read_csv(folder / "trials.csv")  # 2× the proxy size, at each matched resolution
    assert len(rows) == 8 and (rows["image_size"] == (40 * rows["resolution"]).round()).all()
    again = ["fidelity", out, "--top", "3", "--random", "1", "--epochs", "2", "--proxy-size",
             "40"]
    code, _, err = cli(*again)
    assert code == 2 and "--resume" in err
    code, _, err = cli(*again, "--resume")
    assert code == 0 and "nothing left to train" in err
    code, _, err = cli("fidelity", tmp_path / "nothing")
    assert code == 2 and "holds no search" in err


EDITABLE_NET = '''
from dataclasses import replace

from scalesearch.scaling.scalable import TableBaseline
from scalesearch_baselines.efficientnet import EFFICIENTNET_B0

NET = TableBaseline(replace(EFFICIENTNET_B0.table, divisor=DIVISOR))
'''


def test_a_resume_refuses_a_baseline_edited_since_the_run_began(tmp_path):
    """Issue 23 item 9: trials.csv must never mix two networks under one name."""
    from scalesearch.coefsearch.session import _same_baseline
    from scalesearch.coefsearch.trials import search_folder
    from scalesearch.training.rundir import marker
    from scalesearch.util.io import write_json

    net = tmp_path / "net.py"
    net.write_text(EDITABLE_NET.replace("DIVISOR", "8"))
    folder = search_folder(tmp_path / "s")
    (tmp_path / "s").mkdir()
    began = _same_baseline(folder, resolve(f"{net}:NET"), resume=False)
    recipe = dict(config={"baseline": f"{net}:NET", "setup": {  # search.json's schema
        "data": "synthetic", "num_train": None, "num_val": None}}, space={"candidates": []})
    write_json(folder.marker_path, marker(**recipe, baseline_fingerprint=began))
    assert _same_baseline(folder, resolve(f"{net}:NET"), resume=True) == began  # unchanged
    net.write_text(EDITABLE_NET.replace("DIVISOR", "16"))  # other channel counts, same name
    with pytest.raises(ScalesearchError, match=r"is not the network .* began with \(params "
                       f"{began['params']:,} → "):
        _same_baseline(folder, resolve(f"{net}:NET"), resume=True)
    with pytest.raises(ScalesearchError, match="is not the network"):
        _same_baseline(folder, resolve("mobilenet-v1"), resume=True)
    write_json(folder.marker_path, marker(**recipe))  # from before fingerprints: resumes
    assert _same_baseline(folder, resolve("mobilenet-v1"), resume=True)["name"] == "mobilenet-v1"


def test_preloaded_rungs_cut_a_new_trial():
    """Pins the one use of Ray Tune internals (runner.preload_rungs, Ray 2.60's ASHA brackets):
    a resumed ASHA cuts a new trial against the stored scores at the rung, through the
    scheduler's public callbacks; without them, the same first arrival continues."""
    from types import SimpleNamespace

    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    def scheduler(stored: dict):
        sched = ASHAScheduler(time_attr="epoch", metric="score", mode="max", max_t=3,
                              grace_period=1, reduction_factor=2)
        runner.preload_rungs(sched, lambda m: stored if m == 1 else {})
        return sched

    def decide(sched, name: str, score: float) -> str:
        trial = SimpleNamespace(trial_id=name)
        sched.on_trial_add(None, trial)
        return sched.on_trial_result(None, trial, {"epoch": 1, "score": score})

    stored = {(1.0, 1.0, 1.4): 50.0, (1.2, 1.1, 1.15): 60.0, (1.9, 1.0, 1.0): 70.0,
              (1.0, 1.2, 1.15): 80.0}
    assert decide(scheduler(stored), "low", 10.0) == TrialScheduler.STOP
    assert decide(scheduler(stored), "high", 90.0) == TrialScheduler.CONTINUE
    assert decide(scheduler({}), "low", 10.0) == TrialScheduler.CONTINUE  # nothing to cut by


def test_the_trial_context_is_typed_frozen_and_crosses_to_a_worker_intact(tmp_path):
    """Issue 25 item 2: the context a trial reads is a frozen dataclass (no string keys), it
    pickles as Ray ships it, and a rung is the same context with its target."""
    import dataclasses
    import pickle

    from scalesearch.coefsearch.trainable import TrialContext, candidate_of
    from scalesearch.settings.search import SearchConfig

    cfg = SearchConfig("efficientnet-b0", ranges=Ranges(beta=(1.0, 1.0), step=0.1),
                       match_flops=False, seeds=2)
    b0 = resolve(cfg.baseline)
    space = build_space(b0, cfg.ranges, cfg.tolerance, cfg.flops_tolerance, cfg.match_flops)
    context = runner.trial_context(cfg, space, TrialStore(tmp_path / "trials.csv"))
    assert isinstance(context, TrialContext) and pickle.loads(pickle.dumps(context)) == context
    assert context.seeds == (0, 1) and context.done == frozenset()
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'done'"):
        context.done = frozenset()
    first = space.candidates[0]
    assert candidate_of({"index": 0}, context, b0) == (first, None)
    assert runner.describe_trial(context, {"index": 0})[1] == dict(
        zip(("alpha", "beta", "gamma"), first.key, strict=True))
    rung = dataclasses.replace(context, checkpoint=True)
    assert (rung.checkpoint, rung.candidates) == (True, context.candidates)
