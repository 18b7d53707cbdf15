"""Files a command writes or reads that are not what they seem (issue 23): the atomic writer
refuses targets that are not regular files, and checkpoints never run code they name."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from readme_fixtures import TINY

from scalesearch import load_checkpoint, resolve, scale
from scalesearch.errors import ScalesearchError
from scalesearch.scaling.builder import build
from scalesearch.scaling.checkpoint import FORMAT
from scalesearch.util.io import read_small_text, write_text

TINY_TABLE = {}
exec(TINY.format(size=32), TINY_TABLE)  # the README fixtures' three-stage table
TINY_TABLE = TINY_TABLE["TINY"]
SCALE = ("scale", "--baseline", "mobilenet-v2", "--phi", "-4")


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def test_the_writer_refuses_a_fifo_and_a_folder(tmp_path, fifo):
    for target in (fifo, tmp_path):
        with pytest.raises(ScalesearchError, match="not a regular file"):
            write_text(target, "x")
    assert fifo.is_fifo() and list(tmp_path.iterdir()) == [fifo]  # no temp file left


def test_the_writer_refuses_a_parent_that_is_a_file(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(ScalesearchError, match="afile is not a folder"):
        write_text(tmp_path / "afile" / "sub" / "m.pt", "x")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_a_folder_that_takes_no_files_is_one_line():
    with pytest.raises(ScalesearchError, match="cannot write /proc/m.pt: "):
        write_text("/proc/m.pt", "x")


def test_the_writer_still_replaces_a_regular_file(tmp_path):
    write_text(tmp_path / "a.txt", "old")
    assert write_text(tmp_path / "a.txt", "new").read_text() == "new"


@pytest.mark.parametrize("save,message", [
    ("pipe", "refusing to write over pipe: not a regular file"),
    ("pipe.pt", "refusing to write over pipe.json: not a regular file"),  # the summary's name
    ("folder", "refusing to write over folder: not a regular file"),
    ("afile/m.pt", "cannot write afile/m.pt: afile is not a folder"),
    ("x.json", "refusing to save the model as x.json: a .json name is its summary's; "
               "use e.g. x.pt"),
])
def test_scale_save_refuses_in_one_line(cli, tmp_path, monkeypatch, save, message):
    monkeypatch.chdir(tmp_path)
    os.mkfifo("pipe")
    os.mkfifo("pipe.json")
    os.mkdir("folder")
    (tmp_path / "afile").write_text("")
    before = sorted(os.listdir())
    code, out, err = cli(*SCALE, "--save", save)
    assert code == 2 and out == "" and err.strip().splitlines() == [
        f"scalesearch scale: error: {message}"], err
    assert sorted(os.listdir()) == before and (tmp_path / "afile").read_text() == ""


# --- checkpoints: loading never runs code the file names -----------------------------------

PAYLOAD = TINY.format(size=32) + "\nimport pathlib\npathlib.Path({marker!r}).touch()\n"


def _plugin_checkpoint(tmp_path, spec: str) -> Path:
    """A model file as a non-table plug-in's save writes it: no table, only the spec."""
    state = build(resolve(str(tmp_path / "payload.py") + ":TINY").scaled(1, 1)).state_dict()
    (tmp_path / "marker").unlink()  # the fixture's own import
    config = dict(spec=spec, depth=1.0, width=1.0, image_size=32, num_classes=None,
                  dropout=None, table=None)
    path = tmp_path / "plugin.pt"
    torch.save(dict(format=FORMAT, config=config, summary={}, state_dict=state), path)
    return path


@pytest.fixture
def payload(tmp_path, monkeypatch):
    (tmp_path / "payload.py").write_text(PAYLOAD.format(marker=str(tmp_path / "marker")))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("payload", None)


@pytest.mark.parametrize("kind", ["file", "module"])
def test_a_plugin_checkpoint_is_refused_without_trust_spec(payload, kind):
    spec = str(payload / "payload.py:TINY") if kind == "file" else "payload:TINY"
    path = _plugin_checkpoint(payload, spec)
    with pytest.raises(ScalesearchError, match=r"stores no stage table.*trust_spec=True"):
        load_checkpoint(path)
    assert not (payload / "marker").exists()  # payload.py never ran
    model, cfg = load_checkpoint(path, trust_spec=True)  # the caller's choice: it runs
    assert (payload / "marker").exists() and cfg["spec"] == spec
    assert sum(p.numel() for p in model.parameters()) > 0


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


@pytest.fixture
def saved(tmp_path):
    net = scale(TINY_TABLE, num_classes=3)
    net.save(tmp_path / "m.pt")
    return tmp_path / "m.pt", torch.load(tmp_path / "m.pt", weights_only=True)


def test_a_table_checkpoint_loads_without_trust(saved):
    model, cfg = load_checkpoint(saved[0])
    assert cfg["table"] and model(torch.randn(2, 3, 32, 32)).shape == (2, 3)


@pytest.mark.parametrize("damage,message", [
    (lambda c, m: c.pop("config"), "is damaged: KeyError: 'config'"),
    (lambda c, m: c["state_dict"].popitem(), "is damaged: RuntimeError: Error(s) in loading "
                                             "state_dict for TableNet: Missing key(s)"),
    (lambda c, m: c["state_dict"].update({next(iter(c["state_dict"])): torch.zeros(1)}),
     "size mismatch"),
    (lambda c, m: c.update(extra=_Payload(m)), "holds pickled objects other than tensors"),
])
def test_a_damaged_checkpoint_is_one_line(saved, damage, message):
    path, ckpt = saved
    damage(ckpt, path.parent / "marker")
    torch.save(ckpt, path)
    with pytest.raises(ScalesearchError) as err:
        load_checkpoint(path)
    text = str(err.value)
    assert message in text and "\n" not in text and "weights_only=False" not in text, text
    assert not (path.parent / "marker").exists()


def test_a_fifo_checkpoint_is_refused_not_read(fifo):
    with pytest.raises(ScalesearchError, match="not a regular file"):
        load_checkpoint(fifo)


# --- small input files are read with a limit; an empty --out is no folder ------------------

def test_small_inputs_are_read_only_from_regular_files_under_the_limit(tmp_path, fifo):
    for path in ("/dev/zero", tmp_path, fifo):
        with pytest.raises(ScalesearchError, match="is not a regular file"):
            read_small_text(path, "study")
    (tmp_path / "big.yaml").write_text("x" * 101)
    with pytest.raises(ScalesearchError, match="study file .*big.yaml is over 100 bytes"):
        read_small_text(tmp_path / "big.yaml", "study", limit=100)
    assert read_small_text(tmp_path / "big.yaml", "study", limit=101) == "x" * 101
    (tmp_path / "latin.yaml").write_bytes(b"caf\xe9")
    with pytest.raises(ScalesearchError, match="is not UTF-8 text"):
        read_small_text(tmp_path / "latin.yaml", "study")


@pytest.mark.timeout(60)  # /dev/zero read whole would never end
@pytest.mark.parametrize("args,message", [
    (("scale", "--baseline", "resnet50", "--phi", "1", "--coefficients", "/dev/zero"),
     "coefficients file /dev/zero is not a regular file"),
    (("compare", "--baseline", "resnet50", "--no-train", "--coefficients", "/dev/zero"),
     "coefficients file /dev/zero is not a regular file"),
    (("study", "/dev/zero"), "study file /dev/zero is not a regular file"),
    (("search", "--baseline", "resnet50", "--out", ""), "--out '' is empty"),
    (("compare", "--baseline", "resnet50", "--out", " "), "--out ' ' is empty"),
    (("compare", "--baseline", "resnet50", "--paper-table3", "--no-train", "--out", ""),
     "--out '' is empty"),
    (("study", "s.yaml", "--out", ""), "--out '' is empty"),
])
def test_odd_inputs_are_one_line(cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text("kind: paper-table3\nbaselines: [resnet50]\n")
    code, out, err = cli(*args)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err, err
    assert os.listdir() == ["s.yaml"]
