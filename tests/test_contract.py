"""The training-function contract (issue 37): the built-in proxy training is one function
behind it, and a user's function is checked as it reports."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TIMING = ["seconds", "images_per_sec"]
NEWER = ["train_loss", "own_score"]  # columns added after the fixtures were written (issue 36)
ACCEPT = ["--baseline", "efficientnet-b0", "--beta-range", "1:1", "--grid-step", "0.1",
          "--no-match-flops", "--proxy-size", "32", "--num-train", "48", "--num-val", "220",
          "--batch-size", "16", "--family-phi", "1", "--seeds", "2"]
PLANS = {"sha": ["--epochs", "3", "--scheduler", "sha", "--min-epochs", "1",
                 "--reduction-factor", "2"],
         "curves": ["--epochs", "2", "--curves"]}


def _rows(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path).drop(columns=[*TIMING, *NEWER], errors="ignore")
    return df.sort_values(["alpha", "beta", "gamma", "seed"]).reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.parametrize("plan", sorted(PLANS))
def test_the_builtin_training_behind_the_contract_changes_no_result(cli, tmp_path, plan):
    """trials.csv of a fixed plan (no --budget) is the one the code before the contract wrote,
    apart from its timing columns. The fixtures ``before_contract_*.trials.csv`` are that old
    code's output (commit 6e351db, generated before anything changed, with these flags):
    ``sha`` covers lockstep seeds, rung checkpoints restored by survivors and the val-subset
    evaluation of the rungs; ``curves`` the subset evaluation of every epoch (220 val
    images > EVAL_IMAGES, so a subset is a subset)."""
    out = tmp_path / plan
    # the fixtures' code knew only val top-1 from the reference head init (its defaults)
    code, _, err = cli("search", *ACCEPT, *PLANS[plan], "--metric", "top1", "--out", out)
    assert code == 0, err
    pd.testing.assert_frame_equal(_rows(out / "trials.csv"),
                                  _rows(FIXTURES / f"before_contract_{plan}.trials.csv"))


def _trial(epochs: int = 2, **fields):
    from scalesearch.scaling.scaler import Multipliers
    from scalesearch.settings.recipe import ProxySetup
    from scalesearch.training.contract import Trial

    return Trial(model=None, image_size=32, multipliers=Multipliers(1, 1, 1), seed=0,
                 device="cpu", epochs=epochs, data="synthetic", settings=ProxySetup(),
                 last_epoch=epochs, **fields)


def _reports(*calls, returns=None):
    """A function making ``calls`` (args, kwargs) to trial.report, then returning."""

    def train(trial):
        for args, kwargs in calls:
            trial.report(*args, **kwargs)
        return returns

    return train


GOOD = [((1, 50.0), {"loss": 1.0}), ((2, 60.0), {})]
BAD_REPORTS = {
    "nan": ([((1, float("nan")), {})], "epoch 1 reported top1=nan: not finite"),
    "inf loss": ([((1, 1.0), {"loss": float("-inf")})], "epoch 1 reported loss=-inf: not finite"),
    "string": ([((1, "high"), {})], "epoch 1 reported top1='high': not a number"),
    "bool": ([((1, True), {})], "epoch 1 reported top1=True: not a number"),
    "none": ([((1,), {})], "epoch 1 reported no top1 (it reported nothing)"),
    "order": ([((2, 1.0), {})], "epoch 2 reported after epoch 0: report every epoch, in order"),
    "repeat": ([((1, 1.0), {}), ((1, 1.0), {})], "epoch 1 reported after epoch 1"),
    "beyond": ([((1, 1.0), {}), ((2, 1.0), {}), ((3, 1.0), {})],
               "epoch 3 reported beyond trial.epochs (2)"),
    "epoch type": ([(("1", 1.0), {})], "trial.report's epoch must be a whole number, got '1'"),
    "nothing": ([], "the training function reported nothing"),
    "short": ([((1, 1.0), {})], "the training function returned after epoch 1 of 2"),
}


@pytest.mark.parametrize("name", sorted(BAD_REPORTS))
def test_a_bad_report_fails_the_trial_in_one_line(name):
    from scalesearch.training.stepper import run_to_end

    calls, message = BAD_REPORTS[name]
    event, _ = run_to_end(_reports(*calls), _trial())
    assert event.kind == "failed" and event.error.startswith(message), event
    assert "\n" not in event.error and not event.crashed


def test_a_returned_value_and_a_raise_fail_with_their_first_line():
    from scalesearch.training.stepper import run_to_end

    event, _ = run_to_end(_reports(*GOOD, returns=0.5), _trial())
    assert event.error.startswith("the training function returned 0.5 instead of reporting")

    def raises(trial):
        raise RuntimeError("CUDA out of memory\nTried to allocate 2 GiB")

    event, _ = run_to_end(raises, _trial())
    assert (event.kind, event.error, event.crashed) == (
        "failed", "RuntimeError: CUDA out of memory", True)


def test_the_metric_is_read_by_name_and_a_metric_never_reported_fails():
    from scalesearch.training.stepper import run_to_end

    calls = [((1,), {"miou": 0.5, "loss": 2.0}), ((2,), {"miou": 0.7})]
    event, reports = run_to_end(_reports(*calls), _trial(metric="miou"))
    assert [r.value for r in reports] == [0.5, 0.7] and event.value == 0.7
    event, _ = run_to_end(_reports(*calls), _trial(metric="iou"))
    assert event.error == ("epoch 1 reported no iou (it reported loss, miou): call "
                           "trial.report(epoch, score) or trial.report(epoch, iou=…)")


def test_an_epoch_the_scheduler_does_not_read_may_go_unscored():
    from scalesearch.training.stepper import run_to_end

    event, reports = run_to_end(_reports(((1,), {}), ((2, 3.0), {})),
                                _trial(scored_epochs=()))
    assert [r.value for r in reports] == [None, 3.0] and event.kind == "report"


def test_seeds_take_turns_and_a_stopped_function_unwinds():
    """Lockstep: a function runs only between advance() and its next report; close() on a
    paused function unwinds it (its finally runs) without running another epoch."""
    from scalesearch.training.stepper import Stepped

    log: list[str] = []

    def train(trial):
        try:
            for epoch in (1, 2):
                log.append(f"{trial.seed}:{epoch}")
                trial.report(epoch, 1.0)
        finally:
            log.append(f"{trial.seed}:end")

    a, b = Stepped(train, _trial()), Stepped(train, _with_seed(_trial(), 1))
    for s in (a, b, a):
        assert s.advance().kind == "report"
    assert log == ["0:1", "1:1", "0:2"]
    assert b.close().kind == "end" and log[-1] == "1:end" and "1:2" not in log
    assert a.close().kind == "end"


def _with_seed(trial, seed):
    trial.seed = seed
    return trial


def test_trainer_specs_resolve_and_a_file_is_fingerprinted(tmp_path):
    from scalesearch.errors import ScalesearchError
    from scalesearch.training import proxy
    from scalesearch.training.contract import (
        check_same_trainer,
        resolve_trainer,
        trainer_fingerprint,
    )

    assert resolve_trainer("proxy") is proxy.train and trainer_fingerprint("proxy") is None
    path = tmp_path / "t.py"
    path.write_text("def train(trial, extra=1):\n    pass\n")
    assert resolve_trainer(f"{path}:train").__name__ == "train"
    before = trainer_fingerprint(f"{path}:train")
    check_same_trainer(before, trainer_fingerprint(f"{path}:train"), tmp_path)
    path.write_text("def train(trial):\n    return None\n")
    with pytest.raises(ScalesearchError, match=r"^--resume: the training function's file .* "
                       r"changed since"):
        check_same_trainer(before, trainer_fingerprint(f"{path}:train"), tmp_path)


def test_a_checkpoint_keeps_a_saved_state_as_a_tensor_and_reads_old_bytes(tmp_path):
    """sha writes a checkpoint after every epoch: the state ``trial.save`` made (bytes) goes
    into it as a uint8 tensor (written and read ~10× faster), and comes back as the same
    bytes; a checkpoint holding bytes (written before) still loads."""
    import io

    import torch

    from scalesearch.coefsearch.trainable import packed, unpacked

    buffer = io.BytesIO()
    torch.save({"w": torch.arange(5.0)}, buffer)
    saved = buffer.getvalue()
    torch.save({"0": dict(trainer=packed(saved))}, tmp_path / "state.pt")
    back = torch.load(tmp_path / "state.pt", weights_only=True)["0"]["trainer"]
    assert isinstance(back, torch.Tensor) and back.dtype == torch.uint8
    assert unpacked(back) == saved
    assert unpacked(saved) == saved and packed(None) is None and unpacked(None) is None


@pytest.mark.slow
def test_the_builtin_ranks_by_its_sum_of_training_losses_by_default(cli, tmp_path):
    """The search's default (``--metric sotl --mode min --head-init zero``): the built-in
    reports ``sotl``, the mean of the epochs' training losses so far (Ru et al.'s sum, per
    epoch), and the search ranks by it — trials.csv's top1 is −sotl, recomputed here from the
    row's own train_loss column."""
    out = tmp_path / "sotl"
    code, printed, err = cli("search", *ACCEPT, "--epochs", "2", "--out", out)
    assert code == 0, err
    setup = json.loads((out / "search.json").read_text())["config"]["setup"]
    assert (setup["metric"], setup["mode"], setup["train"]["head_init"]) == ("sotl", "min",
                                                                            "zero")
    rows = pd.read_csv(out / "trials.csv")
    assert (rows["status"] == "ok").all() and len(rows) >= 4
    epochs = rows["train_loss"].map(lambda s: [float(x) for x in s.split(";")])
    assert (epochs.map(len) == 2).all()
    # train_loss keeps 6 significant digits, top1 6 decimals
    assert rows["top1"].tolist() == pytest.approx([-sum(e) / 2 for e in epochs], abs=1e-5)
    best = json.loads((out / "best.json").read_text())
    assert (best["metric"], best["mode"], best["ranked"]) == ("sotl", "min", "-sotl")
    # a loss is shown to 3 decimals (its candidates differ there), top-1 % to 1
    assert f"; -sotl {best['top1_mean']:.3f}" in printed
    # the built-in's val top-1 is kept beside the ranked value: the same trainings ranked by
    # top-1 score exactly that top-1
    plain = tmp_path / "top1"
    code, _, err = cli("search", *ACCEPT, "--epochs", "2", "--out", plain, "--metric", "top1",
                       "--head-init", "zero")
    assert code == 0, err
    key = ["alpha", "beta", "gamma", "seed"]
    top1 = pd.read_csv(plain / "trials.csv").sort_values(key)
    kept = pd.read_csv(out / "trials.csv").sort_values(key)
    assert top1["own_score"].isna().all()  # nothing kept twice where top-1 is ranked
    assert kept["own_score"].tolist() == top1["top1"].tolist()
    # a guess's top-1 is checked on that val top-1, not on the loss
    final = best["reliability"]["final"]
    assert (final["chance"], final["chance_on"]) == (12.5, "own_score")
    # and shown: a column of the ranking table and of report.html's ranking
    assert "own_score" in printed and "own score" in (out / "report.html").read_text()
    # resumed without its flags, a top-1 folder stays one (the fields left to the default
    # take the folder's values)
    assert "own_score" not in cli("search", *ACCEPT, "--epochs", "2", "--out", plain,
                                  "--resume")[1]
