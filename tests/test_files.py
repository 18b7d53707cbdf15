"""Files a command writes or reads that are not what they seem (issue 23): the atomic writer
refuses targets that are not regular files, and checkpoints never run code they name."""

from __future__ import annotations

import os

import pytest

from scalesearch.errors import ScalesearchError
from scalesearch.io import write_text

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
