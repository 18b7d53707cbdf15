"""The run folder: its marker file carries a format, an older format is refused in one line
naming the version that reads it, and a resume compares the recipe, never the placement."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from scalesearch import __version__
from scalesearch.coefsearch.trials import search_folder
from scalesearch.comparison.rows import compare_folder
from scalesearch.errors import ScalesearchError
from scalesearch.settings.placement import Placement
from scalesearch.training.rundir import RUN_FORMAT, check_out, marker, read_marker


def test_marker_round_trip_and_format(tmp_path):
    path = tmp_path / "search.json"
    config = {"seeds": 2, "baseline": "resnet50",
              "setup": {"data": "synthetic", "num_train": None, "num_val": None}}
    path.write_text(json.dumps(marker(config, space={"total": 1, "candidates": []})))
    saved = read_marker(path, "search")
    assert saved["format"] == RUN_FORMAT and saved["version"] == __version__
    assert saved["config"] == config and saved["space"] == {"total": 1, "candidates": []}
    folder = search_folder(tmp_path)
    folder.check(config, True)
    with pytest.raises(ScalesearchError, match=r"different settings \(seeds\)"):
        folder.check(dict(config, seeds=3), True)
    # a nested setting is named by its path, a key on either side only counts too (a stored
    # --head-init zero against today's recipe without it)
    nested = dict(config, setup=dict(config["setup"], num_val=10))
    with pytest.raises(ScalesearchError, match=r"different settings \(setup\.num_val\)"):
        folder.check(nested, True)
    less = dict(config, setup={k: v for k, v in config["setup"].items() if k != "data"})
    with pytest.raises(ScalesearchError, match=r"different settings \(setup\.data\)"):
        folder.check(less, True)


@pytest.mark.parametrize("saved, reader", [
    ({"config": {"seeds": 2}}, "scalesearch 0.1.0"),  # format 1 wrote no "format"
    ({"format": RUN_FORMAT + 1, "config": {}}, "a newer scalesearch"),
])
def test_another_format_is_refused_naming_its_reader(tmp_path, saved, reader):
    (tmp_path / "compare.json").write_text(json.dumps(saved))
    with pytest.raises(ScalesearchError) as err:
        compare_folder(tmp_path).check({"seeds": 2}, True)
    text = str(err.value)
    assert f"run-folder format {saved.get('format', 1)}" in text and reader in text
    assert f"reads format {RUN_FORMAT}" in text and "\n" not in text


def test_compare_resume_compares_the_recipe_not_the_placement():
    from scalesearch.settings.compare import CompareConfig

    cfg = CompareConfig("mobilenet-v2", (2.0,))
    moved = replace(cfg, placement=Placement("auto", 4, 0.5, 2), setup=replace(
        cfg.setup, train=replace(cfg.setup.train, device="cuda", compile=True,
                                 max_memory_gb=3.0)))
    assert moved.recipe() == cfg.recipe() and "placement" not in cfg.recipe()
    longer = replace(cfg, setup=replace(cfg.setup, train=replace(cfg.setup.train, epochs=9)))
    assert longer.recipe() != cfg.recipe()
    amp = replace(cfg, setup=replace(cfg.setup, train=replace(cfg.setup.train, amp="fp16")))
    assert amp.recipe() != cfg.recipe()  # mixed precision changes the numbers


def test_search_resume_compares_the_recipe_and_reads_a_0_2_0_folder():
    """The search's placement (address, CPUs and GPUs per trial) is not in search.json; a
    0.2.0 folder's flat placement keys and its candidates' ``flops_ratio`` (then: at γ) are
    read back."""
    from scalesearch.coefsearch.space import Candidate
    from scalesearch.settings.search import SearchConfig

    cfg = SearchConfig("efficientnet-b0", seeds=3)
    moved = replace(cfg, placement=Placement("auto", 4, 0.5))
    assert moved.to_dict() == cfg.to_dict() and "placement" not in cfg.to_dict()
    assert replace(cfg, seeds=2).to_dict() != cfg.to_dict()
    old = dict(cfg.to_dict(), address="auto", cpus_per_trial=2, gpus_per_trial=0.0)
    assert SearchConfig.from_dict(old) == cfg
    cand = dict(alpha=1.2, beta=1.1, gamma=1.15, flops_ratio=2.23, matched_resolution=1.1,
                matched_ratio=2.01, product=2.0, aliases=[[1.2, 1.1, 1.16]])
    back = Candidate.from_dict(cand)
    assert (back.nominal_ratio, back.trained_ratio, back.aliases) == (2.23, 2.01,
                                                                      ((1.2, 1.1, 1.16),))
    now = Candidate.from_dict(dict(back.to_dict(), flops_ratio=2.01))  # a trials.csv row
    assert now == replace(back, aliases=())


def test_a_row_store_keeps_finished_rows_replaces_paused_ones_and_says_what_is_left(tmp_path):
    from scalesearch.comparison.rows import CompareRows

    folder = compare_folder(tmp_path / "c")
    store = folder.start({"seeds": 2})
    assert store.rows == [] and (tmp_path / "c" / "compare.json").exists()
    net = dict(baseline="resnet50", depth=1.0, width=1.0, resolution=1.0, flops=1,
               flops_ratio=2.0)  # compare.csv's schema (scalesearch.training.runfiles)
    jobs = [dict(strategy=s, target_ratio=2.0, seed=k) for s in ("width", "depth")
            for k in (0, 1)]
    store.append([dict(jobs[0], status="paused", top1=1.0, **net),
                  dict(jobs[1], status="ok", top1=2.0, **net)])
    store.append([dict(jobs[0], status="ok", top1=3.0, **net),
                  dict(jobs[1], status="ok", top1=9.0, **net)])
    again = CompareRows(folder.rows_path)  # what a resume reads back
    assert {(r["seed"], r["top1"]) for r in again.rows} == {(0, 3.0), (1, 2.0)}
    assert again.left(jobs) == jobs[2:]  # the finished row was kept, the paused one replaced
    with pytest.raises(ScalesearchError, match="already holds a comparison"):
        folder.check({"seeds": 2}, resume=False)


HOLD = """import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, str(os.getpid()).encode())
print("held", flush=True)
time.sleep(20)
"""


def test_a_folder_another_run_holds_is_refused_naming_its_pid(tmp_path):
    """Item 8: a run's lock file (.lock) refuses a second run into its folder, at check and at
    start, naming the holder's PID; once the holder dies the folder starts (and this process
    may start it again)."""
    import os
    import subprocess
    import sys

    out = tmp_path / "run"
    out.mkdir()
    search_folder(out).check({"seeds": 1}, False)
    assert not (out / ".lock").exists()  # checking creates nothing
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out / ".lock")],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "held\n"
        busy = rf"^{out} is in use by another run \(pid {proc.pid}\); wait for it or choose"
        with pytest.raises(ScalesearchError, match=busy):
            search_folder(out).check({"seeds": 1}, False)
        with pytest.raises(ScalesearchError, match=busy):
            search_folder(out).start({"seeds": 1})
        assert not (out / "search.json").exists()
    finally:
        proc.kill()
        proc.wait()
    recipe = {"seeds": 1, "baseline": "resnet50",
              "setup": {"data": "synthetic", "num_train": None, "num_val": None}}
    folder = search_folder(out)
    folder.check(recipe, False)
    folder.start(recipe, space={"candidates": []})  # search.json's schema needs a grid
    assert (out / ".lock").read_text() == f"{os.getpid()}\n"
    again = search_folder(out)
    again.check(recipe, True)  # the same process re-enters its own lock
    again.start(recipe, space={"candidates": []})


def test_a_fresh_start_checks_again_under_the_lock(tmp_path):
    """Two fresh runs that both passed check: the one that starts second is refused."""
    first, second = search_folder(tmp_path / "x"), search_folder(tmp_path / "x")
    first.check({"seeds": 1}, False)
    second.check({"seeds": 1}, False)
    first.start({"seeds": 1})
    with pytest.raises(ScalesearchError, match="already holds a search"):
        second.start({"seeds": 1})


def test_an_out_folder_inside_the_data_is_refused(cli, tmp_path):
    """Issue 23 item 15: plots written into a class folder become training images next run."""
    data = tmp_path / "photos"
    (data / "train" / "cat").mkdir(parents=True)
    out = data / "train" / "cat" / "runs"
    for command in (["search", "--baseline", "efficientnet-b0"],
                    ["compare", "--baseline", "mobilenet-v1", "--flops-ratio", "2"]):
        code, _, err = cli(*command, "--data", data, "--out", out)
        assert code == 2 and f"--out {out} lies inside --data {data}" in err, err
        assert not out.exists()
    check_out(tmp_path / "runs", str(data))  # beside the data: fine
    check_out(data / "runs", "synthetic")  # the embedded data has no folder
