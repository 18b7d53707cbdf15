"""Upper bounds on counts (issue 23 item 3): a count far beyond any real run is refused up
front, at the bound's edge, before anything is built or written."""

from __future__ import annotations

import math

import pytest

import scalesearch
from scalesearch.errors import MAX_CLASSES, MAX_GRID_POINTS, MAX_SEEDS, ScalesearchError
from scalesearch.settings.compare import CompareConfig
from scalesearch.settings.search import Ranges
from scalesearch.study import run_study


def test_compare_seeds_are_bounded():
    assert CompareConfig("resnet50", seeds=MAX_SEEDS).seeds == MAX_SEEDS
    with pytest.raises(ScalesearchError, match="--seeds must be a whole number in 1…100, got 101"):
        CompareConfig("resnet50", seeds=MAX_SEEDS + 1)


def test_num_classes_is_bounded_before_anything_is_built():
    with pytest.raises(ScalesearchError, match="--num-classes must be a whole number in "
                                               "1…100000, got 100001"):
        scalesearch.scale("resnet50", num_classes=MAX_CLASSES + 1)
    with pytest.raises(ScalesearchError, match="got 0"):
        scalesearch.scale("resnet50", num_classes=0)


def test_the_grid_is_bounded_before_it_is_listed():
    assert Ranges().axis("alpha")[-1] == 2.0  # the default grid: 21 × 11 × 11
    side = round(MAX_GRID_POINTS ** (1 / 3))  # 100 points per axis: exactly the limit
    Ranges(alpha=(1, 1 + (side - 1) * 0.5), beta=(1, 1 + (side - 1) * 0.5),
           gamma=(1, 1 + (side - 1) * 0.5), step=0.5)
    with pytest.raises(ScalesearchError, match=r"the grid has 1,010,000 points \(limit "
                                               r"1,000,000\)"):
        Ranges(alpha=(1, 1 + side * 0.5), beta=(1, 1 + (side - 1) * 0.5),
               gamma=(1, 1 + (side - 1) * 0.5), step=0.5)
    with pytest.raises(ScalesearchError, match="alpha range needs 1 <= low <= high"):
        Ranges(alpha=(1, math.inf))


@pytest.mark.parametrize("line,message", [
    ("seeds: 1000000000000", "--seeds must be a whole number in 1…100, got 1000000000000"),
    ("seeds: 2.7", "seeds: 2.7 is not valid"),  # was read as 2
    ("max_concurrent: 5000", "--max-concurrent must be a whole number in 1…1024, got 5000"),
    ("workers: 5000", "--max-concurrent must be a whole number in 1…1024, got 5000"),
])
def test_study_counts_are_bounded_before_anything_is_written(tmp_path, monkeypatch, line,
                                                            message):
    def train(*args, **kwargs):
        raise AssertionError("the study went on to train")

    monkeypatch.setattr("scalesearch.comparison.run.run_compare", train)
    path = tmp_path / "s.yaml"
    path.write_text(f"kind: compare\nbaseline: resnet50\n{line}\n")
    with pytest.raises(ScalesearchError, match=message):
        run_study(path)
    assert list(tmp_path.iterdir()) == [path]
