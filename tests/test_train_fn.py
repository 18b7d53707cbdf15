"""A user's training function (issue 37) drives the search: sha continues a survivor from the
state it saved (or retrains it, and says so), a function that raises fails its candidate × seed
and the search goes on, one that fails everywhere stops after the first round."""

from __future__ import annotations

import collections
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TINY = ["--baseline", f"{EXAMPLES / 'tinynet.py'}:TINY", "--beta-range", "1:1",
        "--grid-step", "0.1", "--no-match-flops", "--flops-tolerance", "0.5",
        "--proxy-size", "32", "--num-train", "32", "--num-val", "16", "--batch-size", "16",
        "--family-phi", "1", "--seeds", "2"]
SHA = ["--epochs", "3", "--scheduler", "sha", "--min-epochs", "1", "--reduction-factor", "2"]

COUNTING = '''
import torch

LOG, SAVE = {log!r}, {save!r}
FAIL = {fail}


def train(trial):
    state = trial.load()
    start = state["epoch"] if state else 0
    opt = torch.optim.SGD(trial.model.parameters(), lr=0.01)
    x = torch.rand(4, 3, trial.image_size, trial.image_size)
    for epoch in range(start + 1, trial.epochs + 1):
        m = trial.multipliers
        with open(LOG, "a") as f:
            f.write(f"{{m.depth:g}},{{m.resolution:g}},{{trial.seed}},{{epoch}}\\n")
        if FAIL(m):
            raise ValueError("boom at depth %g\\nsecond line" % m.depth)
        loss = trial.model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if SAVE:
            trial.save({{"epoch": epoch, "model": trial.model.state_dict()}})
        trial.report(epoch, 10 * m.depth + trial.seed + epoch, loss=loss.item())
'''


def _trainer(tmp_path: Path, save: bool = True, fail: str = "lambda m: False") -> Path:
    path = tmp_path / "mytrain.py"
    path.write_text(COUNTING.format(log=str(tmp_path / "epochs.log"), save=save, fail=fail))
    return path


def _trained(tmp_path: Path) -> collections.Counter:
    lines = (tmp_path / "epochs.log").read_text().split()
    return collections.Counter(tuple(line.split(",")) for line in lines)


@pytest.mark.slow
def test_sha_never_retrains_a_survivor_that_saves_its_state(cli, tmp_path):
    train = _trainer(tmp_path)
    code, _, err = cli("search", *TINY, *SHA, "--train", f"{train}:train", "--out",
                       tmp_path / "s")
    assert code == 0, err
    trained = _trained(tmp_path)
    assert set(trained.values()) == {1}, trained  # every (candidate, seed, epoch) once
    rows = pd.read_csv(tmp_path / "s" / "trials.csv")
    assert rows["epochs"].max() == 3 and rows["epochs"].min() < 3  # survivors and cut ones
    assert len(trained) == rows["epochs"].sum()  # epochs trained = epochs recorded
    assert "saves no state" not in err


@pytest.mark.slow
def test_sha_retrains_a_survivor_whose_function_saves_nothing_and_says_so(cli, tmp_path):
    train = _trainer(tmp_path, save=False)
    code, _, err = cli("search", *TINY, *SHA, "--train", f"{train}:train", "--out",
                       tmp_path / "s")
    assert code == 0, err
    assert max(_trained(tmp_path).values()) > 1  # a survivor's epoch 1 trained again
    assert err.count("the training function saves no state (trial.save)") == 1


@pytest.mark.slow
def test_a_function_that_raises_fails_its_candidate_and_the_search_goes_on(cli, tmp_path):
    train = _trainer(tmp_path, fail="lambda m: m.depth > 1.5")
    code, out, err = cli("search", *TINY, "--epochs", "1", "--train", f"{train}:train",
                         "--out", tmp_path / "s")
    assert code == 0, err
    rows = pd.read_csv(tmp_path / "s" / "trials.csv")
    failed = rows[rows["status"] == "failed"]
    assert len(failed) and (failed["depth"] > 1.5).all() and (rows["status"] == "ok").any()
    assert set(failed["error"]) == {f"ValueError: boom at depth {d:g}" for d in failed["depth"]}


def test_a_function_that_fails_everywhere_stops_after_the_first_round(cli, tmp_path):
    train = _trainer(tmp_path, fail="lambda m: True")
    code, _, err = cli("search", *TINY, "--epochs", "1", "--max-concurrent", "1",
                       "--train", f"{train}:train", "--out", tmp_path / "s")
    last = err.strip().splitlines()[-1]
    assert code == 1 and last.startswith(
        "scalesearch search: error: the training function failed on every trial of the first "
        "1 candidate(s), so the search stopped: ValueError: boom at depth"), err
    grid = len(pd.read_json(tmp_path / "s" / "search.json", typ="series")["space"]
               ["candidates"])
    assert grid > 1 and len({k[:2] for k in _trained(tmp_path)}) < grid  # not the whole grid


def test_a_study_says_which_training_file_it_runs_and_refuses_a_module(tmp_path):
    from scalesearch.errors import ScalesearchError
    from scalesearch.study import _plugin_files, load_study

    study = tmp_path / "s.yaml"
    body = f"kind: compare\nbaseline: {EXAMPLES / 'tinynet.py'}:TINY\ntrain: TRAIN\n"
    study.write_text(body.replace("TRAIN", f"{EXAMPLES / 'plain_loop.py'}:train"))
    assert _plugin_files(load_study(study)) == [EXAMPLES / "tinynet.py",
                                                EXAMPLES / "plain_loop.py"]
    study.write_text(body.replace("TRAIN", "this:s"))  # would import the standard library's
    with pytest.raises(ScalesearchError, match=r"train 'this:s': a study names the built-in "
                       r"training \(proxy\) or a file"):
        load_study(study)


def test_a_fidelity_check_runs_a_search_s_trainer_file_only_when_named_again(tmp_path):
    from scalesearch.coefsearch.fidelity import check_trusted_trainer
    from scalesearch.errors import ScalesearchError

    spec = f"{EXAMPLES / 'plain_loop.py'}:train"
    with pytest.raises(ScalesearchError, match="names the training function .* name it again "
                       "with --train"):
        check_trusted_trainer(tmp_path, spec, None, trust=False)
    with pytest.raises(ScalesearchError, match="is not the training function the search"):
        check_trusted_trainer(tmp_path, spec, "other.py:train", trust=False)
    check_trusted_trainer(tmp_path, spec, spec, trust=False)  # named again
    check_trusted_trainer(tmp_path, spec, None, trust=True)
    check_trusted_trainer(tmp_path, "proxy", None, trust=False)  # the built-in imports no file


@pytest.mark.slow
def test_a_training_function_file_reaches_the_workers_of_a_two_node_cluster(cli, tmp_path,
                                                                            monkeypatch):
    """--address: the function's file is named by its absolute path (portable_spec), which
    every node of a one-machine cluster reads; the epochs it logged were trained there."""
    import ray
    from ray.cluster_utils import Cluster

    _trainer(tmp_path)
    monkeypatch.chdir(tmp_path)  # a relative spec: the workers' folder is not this one
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        code, _, err = cli("search", *TINY, "--epochs", "1", "--seeds", "1", "--train",
                           "mytrain.py:train", "--address", cluster.address, "--out",
                           tmp_path / "s")
        assert code == 0, err
        assert "(2 CPUs, 1 per trial" in err
        rows = pd.read_csv(tmp_path / "s" / "trials.csv")
        assert (rows["status"] == "ok").all() and len(_trained(tmp_path)) == len(rows)
    finally:
        ray.shutdown()
        cluster.shutdown()
