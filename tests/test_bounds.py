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


@pytest.mark.timeout(60)
def test_a_network_beyond_the_size_bound_is_refused_before_it_is_built():
    """scale --alpha 1000 --force did not answer in 60 s; --force does not lift the bound."""
    with pytest.raises(ScalesearchError, match="16,000 blocks.*beyond the size scalesearch "
                                               "builds \\(10,000 blocks"):
        scalesearch.scale("resnet50", phi=1, alpha=1000, force=True)
    with pytest.raises(ScalesearchError, match="blocks.*beyond"):  # α^φ = 1e100
        scalesearch.scale("resnet50", phi=10, alpha=1e10, force=True)
    with pytest.raises(ScalesearchError, match="overflow a float"):
        scalesearch.scale("resnet50", phi=10, alpha=1e40, force=True)
    with pytest.raises(ScalesearchError, match="2,048,000 channels"):
        scalesearch.scale("resnet50", width=1000)
    with pytest.raises(ScalesearchError, match="parameters, beyond the 2,000,000,000"):
        scalesearch.scale("resnet50", width=30)  # 16 blocks of ≤ 61,440 channels: 21 G params


def test_the_block_bound_has_its_edge():
    from dataclasses import replace

    from scalesearch.errors import MAX_BLOCKS
    from scalesearch.scaling.arch import Stage
    from scalesearch.scaling.registry import resolve

    table = resolve("resnet50").table
    at = replace(table, stages=(Stage("bottleneck", MAX_BLOCKS, 64, expand=0.25),))
    at.check_size()
    with pytest.raises(ScalesearchError, match="10,001 blocks"):
        replace(at, stages=(Stage("bottleneck", MAX_BLOCKS + 1, 64, expand=0.25),)).check_size()


@pytest.mark.timeout(60)
def test_a_checkpoint_of_a_huge_table_is_refused_not_built(tmp_path):
    """load_checkpoint of a table with repeats 10⁷ hung building it."""
    import torch

    path, _ = scalesearch.scale("mobilenet-v1").save(tmp_path / "m.pt")
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["table"]["stages"][0]["repeats"] = 10**7
    torch.save(ckpt, path)
    with pytest.raises(ScalesearchError, match="10,000,012 blocks"):
        scalesearch.load_checkpoint(path)
    ckpt["config"]["table"]["stages"][0]["repeats"] = 1
    for stage in ckpt["config"]["table"]["stages"][-2:]:
        stage["channels"] = 99_000  # a 99,000² pointwise conv: 9.8 G parameters
    torch.save(ckpt, path)
    with pytest.raises(ScalesearchError, match="parameters, beyond the 2,000,000,000"):
        scalesearch.load_checkpoint(path)


def test_a_plugin_beyond_the_parameter_bound_is_refused_before_allocation():
    """A network that is not a stage table is counted on the meta device first."""
    import torch

    from scalesearch.scaling.counter import count

    with pytest.raises(ScalesearchError, match="parameters, beyond"):
        count(lambda: torch.nn.Linear(50_000, 50_000), 32)


def test_a_family_stops_before_a_member_beyond_the_size_bound():
    """A winner with α = 2 at φ = 10 is 16,384 blocks deep: the family ends before it (with a
    warning) instead of failing the search that found it."""
    from scalesearch.coefsearch.family import family
    from scalesearch.scaling.registry import resolve

    with pytest.warns(UserWarning, match="family \\(found\\) stops before φ=10"):
        rows = family(resolve("resnet50"), (2.0, 1.0, 1.0), phis=(1, 10))
    assert [(r["source"], r["phi"]) for r in rows] == [("found", 1), ("paper", 1),
                                                        ("paper", 10)]


def test_a_bracket_end_beyond_the_size_bound_does_not_fail_a_solve(monkeypatch):
    """compare's depth bracket reaches 2 × the target: an end beyond the bound counts as more
    FLOPs than any target, so the answer inside the bound is still found."""
    from scalesearch.comparison.strategies import solve_strategy
    from scalesearch.scaling import arch, counter
    from scalesearch.scaling.registry import resolve

    monkeypatch.setattr(arch, "MAX_BLOCKS", 100)  # resnet50's 16 blocks × 8 (the bracket) = 128
    counter.measure.cache_clear()
    counter._counter.cache_clear()
    try:
        point = solve_strategy(resolve("resnet50"), "depth", 4.0)
    finally:
        counter.measure.cache_clear()
        counter._counter.cache_clear()
    assert point.flops_ratio == pytest.approx(4.0, rel=0.1)
