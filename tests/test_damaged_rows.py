"""A damaged trials.csv (issue 23, item 10): a bad cell or a binary file is refused in one line
naming the file and the row; a truncated last row (a crash mid-write) is dropped with a warning;
a duplicated (candidate, seed) counts once, the last row kept."""

from __future__ import annotations

import csv
import io
import warnings

import pytest

from scalesearch.coefsearch.trials import COLUMNS, TrialStore, search_folder
from scalesearch.errors import ScalesearchError

ROW = dict(alpha="1.2", beta="1.1", gamma="1.15", seed="0", top1="50.0", status="ok")


def _write(path, rows: list[dict], tail: str = "") -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in COLUMNS})
    path.write_text(buf.getvalue() + tail)


def _seeds(n: int) -> list[dict]:
    return [dict(ROW, seed=str(i)) for i in range(n)]


@pytest.mark.parametrize("column, value, says", [
    ("top1", "abc", "top1 is not a number ('abc')"),
    ("seed", "x", "seed is not a whole number ('x')"),
    ("alpha", "", "alpha is empty"),
])
def test_a_bad_cell_is_refused_naming_the_file_and_row(tmp_path, column, value, says):
    rows = _seeds(3)
    rows[1][column] = value  # the second data row: row 3, the header being row 1
    _write(tmp_path / "trials.csv", rows)
    with pytest.raises(ScalesearchError) as err:
        search_folder(tmp_path).store()
    assert str(err.value) == f"{tmp_path}/trials.csv row 3: {says}; repair or remove the file"


def test_a_short_row_before_the_last_is_refused(tmp_path):
    path = tmp_path / "trials.csv"
    _write(path, _seeds(1), "1.2,1.1,1.15\n" + ",".join(["1"] * len(COLUMNS)) + "\n")
    with pytest.raises(ScalesearchError, match=rf"row 3: 3 fields where the header has "
                                               rf"{len(COLUMNS)}; repair"):
        TrialStore(path)


def test_a_binary_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "trials.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00")
    with pytest.raises(ScalesearchError, match=r"trials.csv is not UTF-8 text"):
        TrialStore(path)
    path.write_bytes(b"\x00\x01\x02,\x03\n\x04")  # decodes, but holds no trials.csv header
    with pytest.raises(ScalesearchError, match=r"trials.csv row 1: .*; repair or remove"):
        TrialStore(path)


@pytest.mark.parametrize("tail", [
    "1.2,1.1,1.15,2.0,1.0",  # cut mid-row: no newline
    "1.2,1.1,1.15,2.0,1.0\n",  # fewer fields than the header
    "1.2,1.1,1.15," + ",".join(["x"] * (len(COLUMNS) - 3)),  # no newline, does not parse
])
def test_a_truncated_last_row_is_dropped_with_a_warning(tmp_path, tail):
    path = tmp_path / "trials.csv"
    _write(path, _seeds(2), tail)
    with pytest.warns(UserWarning, match=r"trials.csv row 4 is truncated \(.*\); dropped, "
                                         "its trial is trained again") as caught:
        rows = TrialStore(path).rows
    assert [r["seed"] for r in rows] == [0, 1] and len(caught) == 1


def test_a_duplicated_row_counts_once_the_last_kept(tmp_path):
    path = tmp_path / "trials.csv"
    _write(path, [dict(ROW, top1="10.0"), dict(ROW, seed="1"), dict(ROW, top1="90.0")])
    with pytest.warns(UserWarning, match="1 duplicated .candidate, seed. row") as caught:
        rows = TrialStore(path).rows
    assert len(caught) == 1
    assert sorted((r["seed"], r["top1"]) for r in rows) == [(0, 90.0), (1, 50.0)]


def test_a_sound_file_reads_without_a_warning(tmp_path):
    path = tmp_path / "trials.csv"
    _write(path, _seeds(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(TrialStore(path).rows) == 2
