"""The records that cross modules are typed, their file schemas written once: a trials.csv row
(trials.TrialRow), best.json (report.Best), a ranking line (report.Ranked), family.csv
(report.Member) and the search's summary (session.SearchSummary), which the CLI reads by
field."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from scalesearch.coefsearch import results as report
from scalesearch.coefsearch import session, trials

PACKAGE = Path(__file__).resolve().parents[1] / "scalesearch"


def test_trials_csv_is_written_in_the_typed_rows_columns(tmp_path):
    store = trials.TrialStore(tmp_path / "trials.csv")
    store.append([dict(alpha=1.2, beta=1.1, gamma=1.15, seed=0, top1=50.0, epochs=2,
                       status="ok")])
    header = (tmp_path / "trials.csv").read_text().splitlines()[0].split(",")
    assert header == list(trials.TrialRow.__annotations__) == list(trials.COLUMNS)
    assert {"top1", "alpha"} <= trials.FLOATS and {"seed", "epochs"} <= trials.INTS
    assert not trials.FLOATS & trials.INTS
    (row,) = trials.TrialStore(tmp_path / "trials.csv").rows
    assert row["seed"] == 0 and isinstance(row["top1"], float) and row["loss"] is None


def test_the_ranking_and_the_json_summary_keep_their_columns():
    assert report.COLUMNS == list(report.Ranked.__annotations__)
    assert [f.name for f in dataclasses.fields(session.SearchSummary)] == [
        "best", "ranking", "family", "reliability", "out", "space", "trials_run",
        "remaining", "seconds", "plan", "failures", "report"]


def test_the_cli_reads_the_search_summary_by_field():
    """No ``summary[...]`` / ``summary.get(...)`` in cli/search.py: the summary is a
    SearchSummary, its fields attributes a type checker sees."""
    tree = ast.parse((PACKAGE / "cli" / "search.py").read_text())
    by_key = [node.lineno for node in ast.walk(tree)
              if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
              and node.value.id == "summary"
              or isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and isinstance(node.func.value, ast.Name) and node.func.value.id == "summary"
              and node.func.attr == "get"]
    assert by_key == []
    assert "run_search_options(args).record" in (PACKAGE / "cli" / "search.py").read_text()
