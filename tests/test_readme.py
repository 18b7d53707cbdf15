"""The README's bad-input table is true: every row is run in-process, in a folder holding the
files it names (readme_fixtures.py), and must exit with the row's code and print the row's
message (``…`` marks varying parts). A refusal (exit 2) prints one error line, last, and writes
nothing; rows with exit 0 or 1 that train are slow."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest
from readme_fixtures import make_fixtures, snapshot

README = Path(__file__).resolve().parents[1] / "README.md"
PROGRESS = re.compile(r"building the candidate grid|\d+ grid points; constraint")  # a search's


def _rows() -> list[tuple[str, str, int]]:
    text = README.read_text()
    section = text.split("## Bad input: what the CLI refuses", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) != 3 or not cells[2].isdigit():
            continue
        command = re.match(r"`(scalesearch [^`]*)`", cells[0])
        message = re.match(r"`([^`]*)`", cells[1])
        assert command and message, f"README row without a command or message: {line}"
        rows.append((command[1], message[1], int(cells[2])))
    return rows


ROWS = _rows()


def _param(command: str, message: str, code: int):
    trains = code != 2 and command.split()[1] == "search"
    marks = [pytest.mark.slow, pytest.mark.timeout(600)] if trains else \
        [pytest.mark.timeout(60)]
    return pytest.param(command, message, code, marks=marks, id=command[12:])


def test_the_table_covers_every_command():
    assert len(ROWS) >= 80
    assert {cmd.split()[1] for cmd, _, _ in ROWS} >= {"scale", "search", "compare", "fidelity",
                                                       "plot", "study"}


@pytest.mark.parametrize("command,message,code", [_param(*r) for r in ROWS])
def test_readme_bad_input_row(cli, tmp_path, monkeypatch, command, message, code):
    make_fixtures(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    got, out, err = cli(*shlex.split(command)[1:])
    assert got == code and "Traceback" not in err, err
    for part in message.split("…"):
        assert part.strip() in out + err, (part, err)
    if code != 2:
        return
    lines = err.strip().splitlines()
    assert out == "" and "error: " in lines[-1], err
    assert all(PROGRESS.match(line) for line in lines[:-1]), err
    assert snapshot(tmp_path) == before  # a refusal writes nothing


CLI_ONLY = {"command", "func", "format", "paper_table3"}  # output and CLI-only modes


def _api_call(command: str):
    """The Python call of a search, compare or fidelity row: the CLI's parser reads the flags
    (a row it refuses is about parsing text, which the API never does), and every value that
    differs from the parser's default becomes a keyword; None for other rows."""
    import scalesearch
    from scalesearch.cli.main import build_parser

    argv = shlex.split(command)[1:]
    if argv[0] not in ("search", "compare", "fidelity"):
        return None
    parser = build_parser()
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # the CLI's own row says it
            args = vars(parser.parse_args(argv))
    except SystemExit:
        return None
    sub = parser._subparsers._group_actions[0].choices[argv[0]]
    given = {k: v for k, v in args.items() if k not in CLI_ONLY and v != sub.get_default(k)}
    if args.get("paper_table3"):
        return None
    if argv[0] == "fidelity":
        run_dir = given.pop("run_dir")
        return lambda: scalesearch.fidelity(run_dir, log=lambda m: None, **given)
    return lambda: getattr(scalesearch, argv[0])(log=lambda m: None, **given)


API_ROWS = [r for r in ROWS if r[2] == 2 and _api_call(r[0])]


def test_the_python_api_shares_most_rows():
    assert len(API_ROWS) >= 40


@pytest.mark.parametrize("command,message,code", [_param(*r) for r in API_ROWS])
def test_readme_bad_input_row_from_python(tmp_path, monkeypatch, command, message, code):
    """The same row through ``scalesearch.search/compare/fidelity(**kwargs)``: the same
    ScalesearchError message, nothing written (the API validates in the config dataclasses,
    as the CLI does)."""
    from scalesearch.errors import ScalesearchError

    make_fixtures(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScalesearchError) as err:
        _api_call(command)()
    for part in message.split("…"):
        assert part.strip() in str(err.value), (part, str(err.value))
    assert snapshot(tmp_path) == before
