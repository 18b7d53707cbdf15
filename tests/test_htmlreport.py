"""report.html (issue 24 §1): a committed search folder (with its fidelity check and two
comparisons) copied to tmp_path and reported; the page's tables are read back with
html.parser and checked against trials.csv, best.json and compare.csv read here directly."""

from __future__ import annotations

import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from scalesearch.errors import ScalesearchError
from scalesearch.report.page import write_report

RESULTS = Path(__file__).resolve().parents[1] / "studies" / "results"
SEARCH = RESULTS / "search_mobilenetv2_flowers_sha"
KEY = ["alpha", "beta", "gamma"]


class Page(HTMLParser):
    """The tags' attributes, and each table's rows of cell texts, keyed by the table's id."""

    def __init__(self, text: str):
        super().__init__()
        self.attrs: list[tuple[str, dict]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table, self._cell = None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.attrs.append((tag, attrs))
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._table[-1].append(self._cell.strip())
            self._cell = None
        elif tag == "table":
            self._table = None


@pytest.fixture
def search_dir(tmp_path):
    out = tmp_path / "flowers_sha"
    shutil.copytree(SEARCH, out)
    return out


def _expected_ranking(trials: pd.DataFrame) -> list[tuple]:
    """(α, β, γ, status, 'mean ± std') best first, from trials.csv: finished candidates by
    mean top-1, then stopped ones by the rung they reached and their mean there."""
    groups = trials.groupby(KEY)
    table = groups["top1"].agg(["mean", "std", "count"]).join(groups["rung"].max()).join(
        groups["status"].agg(lambda s: "ok" if (s == "ok").any() else s.iloc[0]))
    table = table.reset_index().assign(_o=lambda d: (d["status"] != "ok").astype(int))
    table = table.sort_values(["_o", "rung", "mean"], ascending=[True, False, False])
    return [(r.alpha, r.beta, r.gamma, r.status, f"{r.mean:.1f} ± {r.std:.1f}")
            for r in table.itertuples()]


def test_search_report_holds_the_answer_and_the_ranking(search_dir):
    path = write_report(search_dir)
    assert path == search_dir / "report.html"
    page = Page(path.read_text())
    best = json.loads((search_dir / "best.json").read_text())

    tied = [tuple(float(c) for c in row[:3]) for row in page.tables["tied"][1:]]
    assert tied == [tuple(t[k] for k in KEY) for t in best["tied"]]
    assert [tuple(float(c) for c in r[:3]) for r in page.tables["not-ruled-out"][1:]] == [
        tuple(c[k] for k in KEY) for c in best["not_ruled_out"]]

    ranking = page.tables["ranking"]
    head, rows = ranking[0], ranking[1:]
    col = {name: i for i, name in enumerate(head)}
    got = [(float(r[0]), float(r[1]), float(r[2]), r[col["status"]], r[col["top-1 %"]])
           for r in rows]
    assert got == _expected_ranking(pd.read_csv(search_dir / "trials.csv"))
    chosen = [r for r in rows if "chosen" in r]
    assert [tuple(float(c) for c in r[:3]) for r in chosen] == [
        (best["alpha"], best["beta"], best["gamma"])]


def test_search_report_sections_and_links(search_dir):
    text = write_report(search_dir).read_text()
    for heading in ("The answer", "Ranking", "Plots", "The family, found beside the paper",
                    "Timings", "Settings as run", "Versions and machine"):
        assert f">{heading}" in text, heading
    family = Page(text).tables["family"]
    assert {"found", "paper"} <= set(family[0])
    page = Page(text)
    hrefs = {a["href"] for tag, a in page.attrs if tag == "a"}
    for sub in ("fidelity", "compare_found", "compare_paper"):
        assert f"./{sub}/report.html" in hrefs
        assert (search_dir / sub / "report.html").is_file()  # the link leads somewhere
    assert "these are of the environment that rendered this report" in text


def test_the_page_is_self_contained(search_dir):
    page = Page(write_report(search_dir).read_text())
    images = [a["src"] for tag, a in page.attrs if tag == "img"]
    assert len(images) >= 3  # search.png, family.png, pareto_activations.png
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not [tag for tag, _ in page.attrs if tag in ("script", "link", "iframe")]
    for tag, attrs in page.attrs:
        for name in ("src", "href"):
            assert not str(attrs.get(name, "")).startswith(("http://", "https://", "//")), tag
    assert "@media print" in (search_dir / "report.html").read_text()


def test_compare_report_has_table3_and_the_flops_check(search_dir):
    folder = search_dir / "compare_found"
    page = Page(write_report(folder).read_text())
    rows = pd.read_csv(folder / "compare.csv").drop_duplicates(["strategy", "target_ratio"])
    table3 = page.tables["table3"]
    assert table3[0][0] == "model" and len(table3) - 1 == len(rows)
    check = page.tables["flops-check"]
    measured = {r[0]: float(r[2]) for r in check[1:]}
    assert measured == {r.strategy: round(r.flops_ratio, 3) for r in rows.itertuples()}
    off = {r[0]: r[3] for r in check[1:]}
    assert off["width"] == f"{100 * (4.0107552284259205 / 4 - 1):+.1f}%"


@pytest.mark.parametrize("study", ["mobilenetv2_flowers", "b0_synthetic", "table3_flops"])
def test_study_results_folders(tmp_path, study):
    folder = tmp_path / study
    shutil.copytree(RESULTS / study, folder)
    page = Page(write_report(folder).read_text())
    assert page.tables["table3"][1:]
    assert any(a.get("href") == "./README.md" for tag, a in page.attrs if tag == "a")


def test_refusals_leave_no_report(cli, tmp_path, search_dir):
    code, out, err = cli("report", str(tmp_path / "nothing"))
    assert (code, out) == (2, "") and err.count("\n") == 1 and "is not a folder" in err
    (tmp_path / "empty").mkdir()
    code, out, err = cli("report", str(tmp_path / "empty"))
    assert code == 2 and err.count("\n") == 1 and "holds no run" in err
    assert list((tmp_path / "empty").iterdir()) == []
    trials = search_dir / "trials.csv"
    trials.write_text(trials.read_text().replace(",26.0,", ",abc,", 1))
    code, out, err = cli("report", str(search_dir))
    assert code == 2 and "trials.csv row 2: top1 is not a number" in err
    assert not (search_dir / "report.html").exists()


def test_cli_prints_the_path_or_json(cli, search_dir):
    code, out, err = cli("report", str(search_dir / "fidelity"))
    assert code == 0 and out.strip() == str(search_dir / "fidelity" / "report.html")
    code, out, err = cli("report", str(search_dir), "--format", "json")
    got = json.loads(out)
    assert code == 0 and got["kind"] == "search"
    assert got["bytes"] == os.path.getsize(got["report"]) > 100_000


def test_an_interrupted_write_keeps_the_old_report(search_dir, monkeypatch):
    old = write_report(search_dir).read_text()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ScalesearchError, match=r"cannot write .*report.html: disk full$"):
        write_report(search_dir, recurse=False)  # one line (issue 34), the old page kept
    assert (search_dir / "report.html").read_text() == old
    assert not list(search_dir.glob(".report.html.*"))  # no temp file left


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(ScalesearchError, match="holds no run"):
        write_report(tmp_path)


def test_a_search_with_no_training_recorded_gets_a_page_that_says_so(search_dir):
    """A search whose trials never reported (trials.csv absent, no best.json) still ends with
    its page: the search writes report.html whatever it found."""
    for name in ("trials.csv", "best.json"):
        (search_dir / name).unlink()
    page = write_report(search_dir, recurse=False).read_text()
    assert "No training is recorded yet" in page and "Settings" in page
