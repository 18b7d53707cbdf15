"""The README's bad-input table is true: each row with a complete command is run in-process
and must exit with the row's code and print the row's message (``…`` marks varying parts)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _rows() -> list[tuple[str, str, int]]:
    text = README.read_text()
    section = text.split("## Bad input: what the CLI refuses", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(scalesearch [^`]*)` \| `([^`]*)` \| (\d) \|$", section, re.M)
    return [(cmd, msg, int(code)) for cmd, msg, code in rows]


ROWS = _rows()


def test_the_table_covers_every_command():
    assert len(ROWS) >= 30
    assert {cmd.split()[1] for cmd, _, _ in ROWS} >= {"scale", "search", "compare", "plot",
                                                       "study"}


@pytest.mark.parametrize("command,message,code", ROWS, ids=[r[0][12:] for r in ROWS])
def test_readme_bad_input_row(cli, tmp_path, monkeypatch, command, message, code):
    monkeypatch.chdir(tmp_path)  # a refusal writes nothing: the folder stays empty
    got, out, err = cli(*shlex.split(command)[1:])
    assert got == code and out == "" and len(err.strip().splitlines()) == 1, err
    for part in message.split("…"):
        assert part.strip() in err, (part, err)
    assert not any(tmp_path.iterdir())
