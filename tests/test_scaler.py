"""Eq. 3 and the reference rounding rules."""

from __future__ import annotations

import math
import re

import pytest

from scalesearch import Multipliers, Stage, StageTable, Stem, compound, resolve, scale_table
from scalesearch.errors import ScalesearchError
from scalesearch.scaling.scaler import (
    check_coefficients,
    check_phi,
    formula_flops_ratio,
    round_channels,
    round_image_size,
    round_repeats,
)


@pytest.mark.parametrize("c,w,expected", [
    (32, 1.0, 32), (32, 1.1, 32), (32, 1.2, 40), (1280, 1.4, 1792), (112, 1.1, 120),
    (40, 1.1, 48), (16, 0.25, 8), (24, 1.8, 40), (320, 2.0, 640),
])
def test_round_channels_reference_rule(c, w, expected):
    """new = max(8, int(c·w + 4) // 8 · 8), +8 if below 0.9·c·w."""
    assert round_channels(c, w) == expected


def test_round_channels_ten_percent_bump():
    # 12·1.0 = 12 → nearest multiple of 8 is 16 (int(16)//8*8); 20 → 24; 10 → 8 loses 20% → 16
    assert round_channels(10, 1.0) == 16
    assert round_channels(8, 0.5) == 8


def test_round_repeats_is_ceil_without_float_noise():
    assert round_repeats(3, 1.1) == 4
    assert round_repeats(1, 1.2) == 2
    assert round_repeats(5, 1.4) == 7  # 1.4·5 = 7.000000000000001 in floating point
    assert round_repeats(2, 0.3) == 1


@pytest.mark.parametrize("size", [224, 240, 260, 300, 380, 456, 528, 600, 672])
def test_published_image_sizes_round_trip(size):
    assert round_image_size(224, size / 224) == size


def test_compound_is_eq3():
    m = compound(2.0, 1.2, 1.1, 1.15)
    assert (m.depth, m.width, m.resolution) == pytest.approx((1.44, 1.21, 1.3225))
    assert m.flops_factor == pytest.approx(formula_flops_ratio(2.0, 1.2, 1.1, 1.15))
    assert formula_flops_ratio(1.0, 1.2, 1.1, 1.15) == pytest.approx(1.92, abs=0.01)
    assert formula_flops_ratio(3.0, 1.2, 1.1, 1.15) == pytest.approx(
        2**3 * (1.2 * 1.1**2 * 1.15**2 / 2) ** 3)


def test_scale_table_is_pure():
    base = resolve("efficientnet-b0").table
    scaled = scale_table(base, Multipliers(2.0, 1.5, 1.3))
    assert base.stages[0].repeats == 1 and base.stem.channels == 32
    assert scaled.stages[0].repeats == 2 and scaled.stem.channels == 48
    assert scaled.image_size == 292


def test_coefficient_checks():
    assert check_coefficients(1.2, 1.1, 1.15) == []  # 1.92: within the 5% warning band
    assert any("deviates" in w for w in check_coefficients(1.0, 1.0, 1.3))  # 1.69: warns
    with pytest.raises(ScalesearchError, match="≥ 1"):
        check_coefficients(0.9, 1.2, 1.2)
    with pytest.raises(ScalesearchError, match="away from 2"):
        check_coefficients(2.0, 1.5, 1.5)
    assert check_coefficients(2.0, 1.5, 1.5, force=True)  # forced: warnings only


def test_phi_range():
    check_phi(-4.0)
    check_phi(10.0)
    for bad in (-4.5, 10.5, math.nan, math.inf):
        with pytest.raises(ScalesearchError, match=r"outside the supported range \[-4, 10\]"):
            check_phi(bad)


@pytest.mark.parametrize("make, message", [
    (lambda: Stage("mbconv", 0, 16), "must be ≥ 1"),
    (lambda: Stage("mbconv", 1, 16, se=2), "se in [0, 1]"),
    (lambda: StageTable("t", Stem(8), (Stage("dsconv", 1, 8),), act="gelu"), "activation"),
    (lambda: StageTable("t", Stem(8), ()), "at least one stage"),
])
def test_bad_tables_raise_scalesearch_error(make, message):
    with pytest.raises(ScalesearchError, match=re.escape(message)):
        make()


def test_bad_plugin_table_is_one_line_exit_2(cli, tmp_path):
    (tmp_path / "net.py").write_text("from scalesearch import Stage, StageTable, Stem\n"
                                     "NET = StageTable('t', Stem(8), (Stage('dsconv', 0, 8),))\n")
    code, out, err = cli("scale", "--baseline", f"{tmp_path / 'net.py'}:NET")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "must be ≥ 1" in err


def test_stage_table_has_no_with_classes():
    """Removed as unused: the class count is set by ``TableBaseline.scaled(num_classes=)``."""
    assert not hasattr(StageTable, "with_classes")
    table = resolve("resnet50").scaled(num_classes=7)
    assert table.num_classes == 7
