"""Issue 34: a run writes only into its own folder — never through a link it did not create,
never into another tool's files or another kind of run — and an OS error on its outputs, an
interrupt or a second thread is one line, not a traceback."""

from __future__ import annotations

import errno
import json
import os
import threading

import pytest

from scalesearch.coefsearch.trials import search_folder
from scalesearch.comparison.rows import compare_folder
from scalesearch.errors import RunIncomplete, ScalesearchError, WriteError
from scalesearch.training import rundir
from scalesearch.training.rundir import RunFolder, marker
from scalesearch.util.io import write_json

# a search's recipe and marker as search.json's schema asks (a resume reads the marker checked)
SEARCH = {"baseline": "resnet50", "setup": {"data": "synthetic", "num_train": None,
                                            "num_val": None}}
GRID = {"space": {"candidates": []}}


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


@pytest.fixture
def victim(tmp_path):
    """A file outside every run folder that a link points at."""
    path = tmp_path / "thesis.tex"
    path.write_text("my thesis\n")
    return path


@pytest.mark.parametrize("resume", [False, True])
def test_a_lock_that_is_a_link_is_refused_and_its_target_untouched(tmp_path, victim, resume):
    out = tmp_path / "run"
    out.mkdir()
    if resume:
        (out / "search.json").write_text(json.dumps(marker({"seeds": 1})))
    (out / ".lock").symlink_to(victim)
    for step in ("check", "start"):
        with pytest.raises(ScalesearchError, match=r"\.lock is not a regular file") as err:
            getattr(search_folder(out), step)({"seeds": 1}, *([resume] if step == "check"
                                                               else []))
        _one_line(err)
    with pytest.raises(ScalesearchError, match="not a regular file"):
        rundir.take_lock(out)
    assert victim.read_text() == "my thesis\n" and (out / ".lock").is_symlink()


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_lock_that_is_not_a_file_is_refused_without_blocking(tmp_path, kind):
    out = tmp_path / "run"
    out.mkdir()
    os.mkfifo(out / ".lock") if kind == "fifo" else (out / ".lock").mkdir()
    with pytest.raises(ScalesearchError, match="not a regular file"):
        search_folder(out).check({"seeds": 1}, False)
    with pytest.raises(ScalesearchError, match="not a regular file"):
        rundir.take_lock(out)


def test_fixed_names_are_replaced_not_written_through(tmp_path, victim):
    """The marker, rows, best.json, plots, optuna.db: written to a new temp file (mkstemp:
    O_EXCL) and renamed over the name, which replaces a link instead of following it."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "best.json").symlink_to(victim)
    write_json(out / "best.json", {"alpha": 1.2})
    assert victim.read_text() == "my thesis\n"
    assert not (out / "best.json").is_symlink() and json.loads((out / "best.json").read_text())


def test_a_resumed_folder_holding_a_link_is_refused(tmp_path, victim):
    """checkpoints/, tensorboard/, mlruns/ are written into by Ray and the trackers: a
    planted link among a run folder's names is refused on --resume."""
    out = tmp_path / "run"
    search_folder(out).start(SEARCH, **GRID)
    (out / "checkpoints").symlink_to(tmp_path)
    with pytest.raises(ScalesearchError, match="checkpoints is a symbolic link") as err:
        search_folder(out).check(SEARCH, True)
    _one_line(err)
    (out / "checkpoints").unlink()
    (out / "mlruns").mkdir()
    (out / "mlruns" / "mlflow.db").symlink_to(victim)  # MLflow's SQLite would write through
    with pytest.raises(ScalesearchError, match="mlflow.db is a symbolic link"):
        search_folder(out).check(SEARCH, True)
    (out / "mlruns" / "mlflow.db").unlink()
    search_folder(out).check(SEARCH, True)
    (out / "fidelity").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ScalesearchError, match="symbolic link inside a run folder"):
        RunFolder(out / "fidelity", "fidelity check", "fidelity.json", "trials.csv",
                  type(search_folder(out).store())).check({}, False)


def test_an_unrelated_non_empty_out_is_refused_naming_what_is_there(tmp_path):
    out = tmp_path / "someones"
    out.mkdir()
    for name in ("best.json", "family.csv", "report.html", "notes.txt"):
        (out / name).write_text("theirs")
    for resume, message in ((False, r"someones is not empty \(best.json, family.csv, notes.txt "
                                    r"and 1 more\) and holds no search"),
                            (True, "nothing to resume")):
        with pytest.raises(ScalesearchError, match=message) as err:
            search_folder(out).check({"seeds": 1}, resume)
        _one_line(err)
    assert {p.read_text() for p in out.iterdir()} == {"theirs"}


def test_an_empty_folder_or_one_a_killed_start_left_is_accepted(tmp_path):
    for name, leftovers in (("empty", ()), ("killed", (".lock", ".search.json.ab12.tmp"))):
        out = tmp_path / name
        out.mkdir()
        for left in leftovers:
            (out / left).write_text("")
        folder = search_folder(out)
        folder.check({"seeds": 1}, False)
        folder.start({"seeds": 1})
        assert (out / "search.json").exists()
        folder.release()


def test_a_folder_of_another_kind_of_run_is_refused(tmp_path):
    search, comparison = tmp_path / "s", tmp_path / "c"
    search_folder(search).start({"seeds": 1})
    compare_folder(comparison).start({"seeds": 1})
    for folder, message in ((compare_folder(search), "s holds a search, not a comparison"),
                            (search_folder(comparison), "c holds a comparison, not a search")):
        for resume in (False, True):
            with pytest.raises(ScalesearchError, match=message) as err:
                folder.check({"seeds": 1}, resume)
            _one_line(err)
    fidelity = RunFolder(search, "fidelity check", "fidelity.json", "trials.csv",
                         type(search_folder(search).store()))
    with pytest.raises(ScalesearchError, match="holds a search, not a fidelity check"):
        fidelity.check({}, False)
    sub = RunFolder(search / "fidelity", "fidelity check", "fidelity.json", "trials.csv",
                    type(search_folder(search).store()))
    sub.check({}, False)  # the search's own sub-output
    sub.start({})


@pytest.mark.parametrize("make, reason", [
    (lambda tmp: (tmp / "loop").symlink_to(tmp / "loop") or tmp / "loop" / "x",
     "Too many levels of symbolic links"),
    (lambda tmp: tmp / ("a" * 300) / "x", "File name too long"),
])
def test_an_out_the_os_cannot_use_is_one_line(tmp_path, make, reason):
    out = make(tmp_path)
    for step in ("check", "start"):
        folder = search_folder(out)
        with pytest.raises(ScalesearchError, match=f"cannot write output folder .*{reason}") \
                as err:
            folder.check({"seeds": 1}, False) if step == "check" else folder.start({"seeds": 1})
        _one_line(err)


def test_a_read_only_out_is_one_line(tmp_path, monkeypatch):
    """Root ignores a folder's mode, so the OS's answer is simulated: mkdir (a new folder
    under a read-only one) and the lock file's open (an existing read-only folder)."""
    from pathlib import Path

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    out = tmp_path / "ro" / "run"
    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(ScalesearchError, match=r"cannot write output folder .*run: Read-only"):
        search_folder(out).start({"seeds": 1})
    monkeypatch.undo()
    out.mkdir(parents=True)
    real_open = os.open

    def open_lock(path, *args, **kwargs):
        if str(path).endswith(rundir.LOCK) and args[0] & os.O_CREAT:
            refuse()
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(rundir.os, "open", open_lock)
    with pytest.raises(ScalesearchError, match="cannot write output folder .*Read-only") as err:
        search_folder(out).start({"seeds": 1})
    _one_line(err)


def test_a_full_disk_is_one_line_naming_the_file(tmp_path, monkeypatch):
    """A writer that hits ENOSPC: one line naming the file, the old file kept."""
    from scalesearch.util.io import write_text

    target = tmp_path / "report.html"
    target.write_text("old")

    def full(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    from scalesearch.util.io import atomic_write

    with pytest.raises(ScalesearchError, match=r"cannot write .*report.html: No space left"):
        atomic_write(target, full)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == [
        "report.html"]
    write_text(target, "new")


def test_sqlite_disk_full_in_write_study_is_one_line(tmp_path, monkeypatch):
    import optuna
    from sqlalchemy.exc import OperationalError

    from scalesearch.coefsearch.optuna_study import STUDY_FILE, write_study
    from scalesearch.settings.search import Ranges

    def full(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(optuna, "create_study", full)
    with pytest.raises(ScalesearchError, match=f"cannot write .*{STUDY_FILE}: database or "
                       "disk is full$") as err:
        write_study(tmp_path, [], [], Ranges(), {})
    _one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_a_search_whose_reports_hit_a_full_disk_exits_1_keeping_trials(monkeypatch, cli,
                                                                         tmp_path):
    """After training: trials.csv is whole, the line says what was not written, exit 1 (the
    README: a run that trained is not a refusal)."""
    import optuna
    from sqlalchemy.exc import OperationalError

    from scalesearch.coefsearch import session

    def full(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    def trained(cfg, space, store, log):
        return 0

    monkeypatch.setattr(session, "run_trials", trained)
    monkeypatch.setattr(optuna, "create_study", full)
    out = tmp_path / "s"
    code, _, err = cli("search", "--baseline", "efficientnet-b0", "--beta-range", "1:1",
                       "--grid-step", "0.1", "--no-match-flops", "--proxy-size", "32",
                       "--num-train", "16", "--num-val", "8", "--epochs", "1",
                       "--family-phi", "1", "--out", out)
    last = err.strip().splitlines()[-1]
    assert code == 1 and "Traceback" not in err, err
    assert "optuna.db: database or disk is full" in last and "trials.csv keeps every" in last
    assert "--resume" in last and not (out / "optuna.db").exists()
    assert issubclass(RunIncomplete, ScalesearchError) and issubclass(WriteError,
                                                                      ScalesearchError)


def test_a_second_thread_into_a_held_folder_is_told_it_is_busy(tmp_path):
    """The lock is per process; within one, a run holds it for its thread until it ends
    (release), so a second thread's search is refused in one line instead of reaching Ray."""
    out = tmp_path / "run"
    started, done = threading.Event(), threading.Event()
    errors = []

    def first():
        folder = search_folder(out)
        folder.check(SEARCH, False)
        folder.start(SEARCH, **GRID)
        started.set()
        done.wait(30)
        folder.release()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert started.wait(30)
        busy = rf"{out} is in use by another run \(pid {os.getpid()}\)"
        for resume in (True, False):
            with pytest.raises(ScalesearchError, match=busy):
                search_folder(out).check(SEARCH, resume)
        with pytest.raises(ScalesearchError, match=busy):
            search_folder(out).start(SEARCH, **GRID)
    except BaseException as err:
        errors.append(err)
    finally:
        done.set()
        thread.join()
    assert not errors, errors
    again = search_folder(out)  # the first run ended: this thread may continue it
    again.check(SEARCH, True)
    again.start(SEARCH, **GRID)
    again.release()


def test_two_threads_searching_into_one_out_one_is_refused(tmp_path, monkeypatch):
    """``scalesearch.search`` from two threads into one --out: the second gets the busy
    line (Ray's 'init twice' AssertionError before)."""
    import scalesearch
    from scalesearch.coefsearch import session

    inside, leave = threading.Event(), threading.Event()

    def trained(cfg, space, store, log):
        inside.set()
        leave.wait(60)
        return 0

    monkeypatch.setattr(session, "run_trials", trained)
    out = tmp_path / "s"
    opts = dict(baseline="efficientnet-b0", beta_range=(1.0, 1.0), grid_step=0.1, match_flops=False,
                proxy_size=32, num_train=16, num_val=8, epochs=1, family_phi=1, out=out,
                log=lambda m: None)
    results = {}

    def run(name, **extra):
        try:
            results[name] = scalesearch.search(**opts, **extra)
        except Exception as err:  # noqa: BLE001 - the test reads it
            results[name] = err

    first = threading.Thread(target=run, args=("first",))
    first.start()
    try:
        while first.is_alive() and not inside.wait(0.5):
            pass
        assert inside.is_set(), results
        run("second", resume=True)
    finally:
        leave.set()
        first.join()
    assert isinstance(results["second"], ScalesearchError), results["second"]
    assert "is in use by another run" in str(results["second"])
    assert not isinstance(results["first"], Exception), results["first"]


AFTER_TRAINING = """import os, signal, sys
from scalesearch.coefsearch import session
session.run_trials = lambda cfg, space, store, log: 0  # the trials are done
real = session.write_study


def stopped(*args, **kwargs):  # a scheduler's stop just after the last trial
    os.kill(os.getpid(), signal.SIGTERM)
    return real(*args, **kwargs)


session.write_study = stopped
from scalesearch.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_after_the_last_trial_exits_1_with_a_line(tmp_path):
    """Once Ray is gone a SIGTERM killed the process silently (143); the README promises an
    interrupted search exit 1 and a line that says --resume."""
    import subprocess
    import sys

    out = tmp_path / "s"
    done = subprocess.run([sys.executable, "-c", AFTER_TRAINING, "search", "--baseline",
                           "efficientnet-b0", "--beta-range", "1:1", "--grid-step", "0.1",
                           "--no-match-flops", "--proxy-size", "32", "--epochs", "1",
                           "--family-phi", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"scalesearch search: interrupted: {out} keeps what finished; continue with --resume")


def test_the_sigterm_handler_before_ray_is_back_after_it(monkeypatch):
    """Ray's init installs its own SIGTERM handler (sys.exit(15), no line); the runtime puts
    back the one it found, not Ray's."""
    import signal

    from scalesearch.settings.placement import Placement
    from scalesearch.training import cluster

    class FakeRay:
        def cluster_resources(self):
            return {"CPU": 2}

    def connect(address):
        signal.signal(signal.SIGTERM, lambda *a: None)  # what ray.init does
        return FakeRay(), False

    def mine(*args):
        pass

    monkeypatch.setattr(cluster, "connect", connect)
    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with cluster.runtime(Placement()):
            assert signal.getsignal(signal.SIGTERM) is cluster._interrupt
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_an_untrained_compare_writes_over_no_one_elses_files(cli, tmp_path):
    """--no-train writes compare.csv and compare.md: into a trained comparison's folder it
    replaced the resume state, into a search's folder its files landed among the search's."""
    args = ["compare", "--baseline", "resnet50", "--flops-ratio", "2", "--strategies", "depth",
            "--no-train", "--out"]
    trained, search = tmp_path / "trained", tmp_path / "search"
    compare_folder(trained).start({"seeds": 1})
    (trained / "compare.csv").write_text("strategy,target_ratio,seed,top1\ndepth,2,0,50\n")
    search_folder(search).start({"seeds": 1})
    for out, shown in ((trained, "compare.json"),
                       (search, "search.json")):
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        code, _, err = cli(*args, out)
        assert code == 2 and f"{out} is not empty (" in err and shown in err, err
        assert "holds no untrained comparison" in err and len(err.strip().splitlines()) == 1
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    fresh = tmp_path / "untrained"
    for _ in range(2):  # an earlier --no-train's folder is its own
        code, _, err = cli(*args, fresh)
        assert code == 0, err
    assert sorted(p.name for p in fresh.iterdir()) == ["compare.csv", "compare.md"]


def test_a_report_page_that_hits_a_full_disk_after_a_run_exits_1(tmp_path, monkeypatch):
    """The page is written after the run trained: a full disk there is 'incomplete' (exit 1,
    the results kept, ``scalesearch report`` later), not a refusal (2)."""
    from scalesearch import experiments

    def full(out):
        raise WriteError(f"cannot write {out}/report.html: No space left on device")

    monkeypatch.setattr("scalesearch.report.page.write_report", full)
    with pytest.raises(RunIncomplete, match=r"report.html: No space left on device; the run's "
                       r"results are kept: make room, then scalesearch report ") as err:
        experiments._report(tmp_path)
    assert err.value.exit_code == 1
