"""Bad input, round two (issue 17): refusals made up front, the files training would skip, a
ranking of trials that failed early, FLOPs-target warnings, and no spread from one seed."""

from __future__ import annotations

import math
import warnings

import pandas as pd
import pytest
from readme_fixtures import TINY, make_fixtures

from scalesearch.cli.search import ranking_table
from scalesearch.coefsearch.results import ranking
from scalesearch.comparison.strategies import solve_strategies
from scalesearch.comparison.summary import markdown
from scalesearch.data import FolderStream, check_data, load_data
from scalesearch.data.scan import report_data, scan_folder
from scalesearch.errors import ScalesearchError
from scalesearch.scaling.registry import resolve
from scalesearch.settings.recipe import ProxySetup
from scalesearch.training.proxy import check_proxy_size, smallest_proxy_size
from scalesearch.util.fmt import mean_spread

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("resolutions, smallest", [
    ([(1.0, 4)], 6),  # 6 px → nearest multiple of 4 is 8
    ([(1.0, 1)], 8),  # a matched size keeps its exact px
    ([(1.5, 4)], 4),  # 4 · 1.5 = 6 → 8
    ([(1.0, 4), (1.5, 4)], 6),  # the smallest resolution decides
    ([(1.0, 8)], 1),  # a divisor of 8 never rounds below 8 px
])
def test_smallest_proxy_size(resolutions, smallest):
    assert smallest_proxy_size(resolutions) == smallest


def test_a_proxy_size_too_small_is_refused_with_the_smallest_that_works():
    r50 = resolve("resnet50")
    with pytest.raises(ScalesearchError, match="the smallest proxy size it can take is 6$"):
        check_proxy_size(r50, [(1.0, None), (1.3, None)], 5)
    check_proxy_size(r50, [(1.0, None), (1.3, None)], 6)  # accepted: 8 px and 8 px


def test_search_api_refuses_an_output_path_that_is_a_file(tmp_path):
    import scalesearch

    (tmp_path / "afile").write_text("keep")
    with pytest.raises(ScalesearchError, match="is a file, not a folder"):
        scalesearch.search("efficientnet-b0", out=tmp_path / "afile" / "sub")
    assert (tmp_path / "afile").read_text() == "keep"


def test_single_class_is_refused(tmp_path):
    """The data check that search and compare both run (the README rows run the CLI)."""
    make_fixtures(tmp_path)
    with pytest.raises(ScalesearchError, match="needs ≥ 2 classes; .* has 1 \\(a\\)"):
        check_data(str(tmp_path / "oneclass"))


def test_scan_names_the_files_training_skips_in_each_split(tmp_path):
    make_fixtures(tmp_path)
    data = str(tmp_path / "badfiles")
    train, val = scan_folder(data)
    assert (train.checked, train.unreadable, train.not_images) == (7, ("a/bad.jpg",),
                                                                    ("a/notes.txt",))
    assert (val.checked, val.skipped) == (4, 0)
    lines = []
    assert report_data(ProxySetup(data=data), lines.append) == {"train": 2, "val": 0}
    assert lines == ["warning: 2 file(s) skipped in train (1 unreadable, 1 not images; e.g. "
                     "a/bad.jpg, a/notes.txt)"]
    capped = scan_folder(data, num_train=2)  # only the files training reads are decoded
    assert capped[0].checked == 2


def test_a_streamed_split_is_scanned_up_front_too(tmp_path):
    make_fixtures(tmp_path)
    data = str(tmp_path / "badfiles")
    train, _ = load_data(data, 16, max_memory_gb=1e-9)
    assert isinstance(train, FolderStream)  # would feed bad.jpg as a grey image
    assert scan_folder(data)[0].unreadable == ("a/bad.jpg",)


def _row(status, top1=None, seed=0, **extra):
    return dict(alpha=1.2, beta=1.1, gamma=1.15, product=2.0, flops_ratio=2.0, seed=seed,
                status=status, top1=top1, params=1, epochs=0, rung=None, **extra)


def test_ranking_of_trials_that_failed_before_their_row_was_complete():
    """A seed that failed in the model factory has no image_size, images or seconds."""
    rank = ranking([_row("failed", error="boom"), _row("failed", seed=1, error="boom")])
    assert len(rank) == 1
    r = rank.iloc[0]
    assert (r["status"], r["failed"], r["seeds"]) == ("failed", 2, 0)
    assert math.isnan(r["top1_mean"]) and not r["tied"]


def test_one_seed_shows_no_spread():
    rank = ranking([_row("ok", 42.9, image_size=32, images=1, seconds=1.0)])
    assert math.isnan(rank.iloc[0]["top1_std"]) and math.isnan(rank.iloc[0]["p_best"])
    table = ranking_table(rank.to_dict("records"))
    assert "42.9" in table and "±" not in table
    assert mean_spread(42.9, float("nan")) == "42.9"
    assert mean_spread(42.94, 1.25) == "42.9 ± 1.2"
    summary = pd.DataFrame([dict(strategy="baseline", target_ratio=1.0, flops=10**9,
                                 flops_ratio=1.0, activations=10**6, activations_ratio=1.0,
                                 params=10**6, image_size=32, top1_mean=42.9,
                                 top1_std=float("nan"), seeds=1, depth=1, width=1,
                                 resolution=1)])
    assert "| 42.9 (n=1) |" in markdown(summary, "net")


def test_a_compare_row_off_its_flops_target_is_named_in_a_warning(tmp_path):
    (tmp_path / "tiny32.py").write_text(TINY.format(size=32))
    net = resolve(f"{tmp_path / 'tiny32.py'}:TINY")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        points = solve_strategies(net, [4.0], ("depth", "width", "resolution", "compound", "fast"))
    said = " ".join(str(w.message) for w in caught)
    assert "fast ×4: measured FLOPs ratio 4.49×" in said
    for p in points[1:]:  # every row within 3% of its target, or named
        assert abs(p.flops_ratio / 4 - 1) <= 0.03 or f"{p.strategy} ×4:" in said, p
