"""Reading a run folder is safe (issue 34): a path read from trials.csv never leads a deletion
out of the folder; plot, report and fidelity import no code the folder names; every file is
checked against its schema when read (one line naming it), only regular files are read; a
folder of another tool's files of the same names is refused in one line. The damaged folders
are readme_fixtures.py's (runs/plugin, DAMAGED, OTHER); the README rows run the refusals too."""

from __future__ import annotations

import json

import pytest
from readme_fixtures import DAMAGED, make_fixtures

from scalesearch.coefsearch.halving import drop_checkpoint
from scalesearch.coefsearch.trials import TrialStore
from scalesearch.errors import ScalesearchError
from scalesearch.training.runfiles import JSON_FILES, problem


@pytest.fixture
def runs(tmp_path, monkeypatch):
    make_fixtures(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def victim(tmp_path):
    (tmp_path / "victim" / "sub").mkdir(parents=True)
    (tmp_path / "victim" / "sub" / "thesis.tex").write_text("years of work")
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    return tmp_path / "victim"


@pytest.mark.parametrize("stored", ["checkpoints/../../victim/sub", "{victim}/sub",
                                    "checkpoints/link/sub"])
def test_a_checkpoint_out_of_the_run_is_refused_never_removed(tmp_path, victim, stored):
    run = tmp_path / "run"
    (run / "checkpoints" / "link").symlink_to(victim)
    stored = stored.format(victim=victim)
    with pytest.raises(ScalesearchError, match=r"trials.csv: checkpoint .* is not inside the "
                                               r"run's checkpoints/ folder"):
        drop_checkpoint(run, stored)
    assert (victim / "sub" / "thesis.tex").read_text() == "years of work"
    row = dict(alpha=1.2, beta=1.1, gamma=1.15, seed=0, status="paused", checkpoint=stored)
    TrialStore(run / "trials.csv").append([row])  # as a damaged or forged file holds it
    with pytest.raises(ScalesearchError, match=r"trials.csv row 2: checkpoint .* is not inside"):
        TrialStore(run / "trials.csv")


def test_a_checkpoint_inside_the_run_is_removed_with_its_trial_folder(tmp_path, victim):
    trial = tmp_path / "run" / "checkpoints" / "epoch1" / "trial_0"
    (trial / "checkpoint_000").mkdir(parents=True)
    drop_checkpoint(tmp_path / "run", "checkpoints/epoch1/trial_0/checkpoint_000")
    assert not trial.exists() and (tmp_path / "run" / "checkpoints" / "epoch1").is_dir()


@pytest.mark.parametrize("command", ["plot", "report"])
def test_reading_a_plugin_search_imports_nothing(runs, cli, command):
    code, out, err = cli(command, "runs/plugin")
    assert code == 0 and "Traceback" not in err, err
    assert not (runs / "imported.txt").exists()  # evil.py writes it when imported
    assert (runs / "runs" / "plugin" / ("family.png" if command == "plot" else "report.html")
            ).is_file()


class Trained(Exception):
    """Raised where the fidelity check would start training."""


@pytest.fixture
def no_training(monkeypatch):
    def train(*args, **kwargs):
        raise Trained

    monkeypatch.setattr("scalesearch.coefsearch.fidelity.run_trials", train)


def test_fidelity_retrains_a_plugin_only_when_named_or_trusted(runs, no_training):
    import scalesearch

    quiet = dict(log=lambda m: None)
    with pytest.raises(ScalesearchError, match=r"runs/plugin/search.json names the plug-in "
                       r"baseline 'evil.py:TINY': .* name it again with --baseline evil.py:TINY "
                       r"\(or pass --trust-baseline\)"):
        scalesearch.fidelity("runs/plugin", **quiet)
    with pytest.raises(ScalesearchError, match="is not the baseline the search in"):
        scalesearch.fidelity("runs/plugin", baseline="mynet.py:TINY", **quiet)
    assert not (runs / "imported.txt").exists()
    with pytest.raises(Trained):
        scalesearch.fidelity("runs/plugin", baseline="evil.py:TINY", **quiet)
    with pytest.raises(Trained):
        scalesearch.fidelity("runs/plugin", trust_baseline=True, resume=True, **quiet)
    with pytest.raises(Trained):  # an installed baseline needs no naming
        scalesearch.fidelity("runs/b0", **quiet)


READS = {  # command: the files it reads (fidelity: not family.csv)
    "plot": ("best.json", "search.json", "trials.csv", "family.csv"),
    "report": ("best.json", "search.json", "trials.csv", "family.csv"),
    "fidelity": ("best.json", "search.json", "trials.csv"),
}
SAYS = {"cutbest": "best.json is unreadable (", "oddbest": "best.json: alpha is a string, not a "
        "number; not a file this scalesearch wrote", "listconfig": "search.json: config is a "
        "list, not an object", "oddfamily": "family.csv: column source is missing",
        "dirmarker": "search.json is not a regular file", "fifo": "trials.csv is not a regular "
        "file", "zero": "search.json is not a regular file",
        "escape": "trials.csv row 2: checkpoint"}


@pytest.mark.timeout(60)  # a FIFO read whole would block here
@pytest.mark.parametrize("command, name", [(c, n) for c in sorted(READS)
                                           for n in sorted(DAMAGED) if DAMAGED[n][0] in READS[c]])
def test_a_damaged_run_file_is_one_line(runs, cli, no_training, command, name):
    args = [command, f"runs/{name}"] + ["--trust-baseline"] * (command == "fidelity")
    code, out, err = cli(*args)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert SAYS[name] in err, err


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["listconfig", "dirmarker", "zero"])
def test_a_resume_reads_the_marker_checked(runs, cli, name):
    code, out, err = cli("search", "--baseline", "resnet50", "--out", f"runs/{name}", "--resume")
    says = "search.json is a symbolic link" if name == "zero" else SAYS[name]  # refused first
    assert code == 2 and "Traceback" not in err and says in err, err


@pytest.mark.timeout(60)
def test_a_compare_rows_file_that_is_a_fifo_is_refused(tmp_path):
    import os

    from scalesearch.comparison.rows import compare_folder

    tmp_path.joinpath("cmp").mkdir()
    os.mkfifo(tmp_path / "cmp" / "compare.csv")
    with pytest.raises(ScalesearchError, match=r"compare.csv is not a regular file"):
        compare_folder(tmp_path / "cmp").store()  # what compare --resume reads


@pytest.mark.parametrize("folder, command, says", [
    ("other/result", "report", "other/result holds no run"),
    ("other/compare", "report", "compare.csv: column strategy is missing"),
    ("other/compare", "plot", "compare.csv: column strategy is missing"),
    ("other/table3", "report", "table3.csv: column baseline is missing"),
    ("other/table3", "plot", "table3.csv: column baseline is missing"),
    ("other/ragged", "report", "compare.md: table row 2 has 2 cells where the header has 3"),
])
def test_another_tools_folder_is_one_line(runs, cli, folder, command, says):
    code, out, err = cli(command, folder)
    assert code == 2 and "Traceback" not in err and says in err, err


@pytest.mark.parametrize("value, says", [
    ([], "the file is a list, not an object"),
    ({"alpha": True}, "alpha is a boolean, not a number"),
    ({"alpha": 1, "beta": 1, "gamma": 1, "top1_mean": 1, "top1_std": None, "seeds": 1.5},
     "seeds is a number, not a whole number"),
    ({"alpha": 1, "beta": 1, "gamma": 1, "top1_mean": 1, "top1_std": None, "seeds": 1,
      "baseline": "b", "tied": [{"alpha": 1}]}, "tied[0].beta is missing"),
    ({"alpha": 1, "beta": 1, "gamma": 1, "top1_mean": 1, "top1_std": None, "seeds": 1,
      "baseline": "b", "top1_ci95": [1, 2, 3]}, "top1_ci95 has 3 items, not 2"),
])
def test_the_schema_says_what_is_wrong(value, says):
    assert problem(json.loads(json.dumps(value)), JSON_FILES["best.json"]) == says


def test_a_fidelity_check_that_fails_lets_its_folder_go(runs, no_training):
    """A check that raises (here: its training) releases RUN/fidelity, so another thread of the
    process may check the run again instead of being told the folder is busy."""
    import threading

    import scalesearch

    with pytest.raises(Trained):
        scalesearch.fidelity("runs/b0", log=lambda m: None)
    assert (runs / "runs" / "b0" / "fidelity" / "fidelity.json").exists()  # it had started
    caught: list[BaseException] = []

    def again():
        try:
            scalesearch.fidelity("runs/b0", resume=True, log=lambda m: None)
        except BaseException as err:  # the thread's outcome, checked below
            caught.append(err)

    thread = threading.Thread(target=again)
    thread.start()
    thread.join()
    assert [type(e) for e in caught] == [Trained], caught  # not "in use by another run"
