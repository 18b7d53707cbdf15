"""Beyond the paper (issue 11): fast scaling (Dollár et al. 2021), non-uniform depth
(EfficientNetV2-style), the image-size cap, activations ratios."""

from __future__ import annotations

import json
import math
from functools import partial

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from scalesearch.comparison.nonuniform import (
    nonuniform_baseline,
    parse_repeats,
    stage_depths,
    with_repeats,
)
from scalesearch.comparison.strategies import fast_factors, solve_strategy
from scalesearch.errors import ScalesearchError
from scalesearch.scaling.counter import count, measure
from scalesearch.scaling.registry import resolve
from scalesearch.scaling.scalable import Scalable
from scalesearch.settings.compare import CompareConfig

MATCH_TOLERANCE = 0.05  # docs/compare.md: achieved FLOPs ratio within 5% of the target


def test_fast_factors_match_pycls_for_s4_alpha08():
    """pycls scaler.py, "d1_w8_g8_r1" at scale 4: d = 1.149, w = 1.741, r = 1.072."""
    m = fast_factors(4.0, 0.8)
    assert (round(m.depth, 3), round(m.width, 3), round(m.resolution, 3)) == \
        (1.149, 1.741, 1.072)


def _pycls_scaling_factors(weights: dict[str, float], s: float) -> tuple[float, float, float]:
    """pycls's scaling_factors() for d, w, r weights (written out independently)."""
    total = weights["d"] + weights["w"] + weights["r"]
    return (s ** (weights["d"] / total), s ** (weights["w"] / total / 2),
            s ** (weights["r"] / total / 2))


@given(s=st.floats(1.0, 64.0), alpha=st.floats(0.0, 1.0))
def test_fast_factors_multiply_to_s_and_equal_pycls_weights(s, alpha):
    m = fast_factors(s, alpha)
    assert m.depth * m.width**2 * m.resolution**2 == pytest.approx(s, rel=1e-9)
    # α of the growth to width, the rest split equally between depth and resolution
    pycls = _pycls_scaling_factors(dict(d=(1 - alpha) / 2, w=alpha, r=(1 - alpha) / 2), s)
    assert (m.depth, m.width, m.resolution) == pytest.approx(pycls, rel=1e-9)


def test_fast_alpha_one_third_is_uniform_compound():
    m = fast_factors(8.0, 1 / 3)
    assert m.depth == pytest.approx(2.0) and m.width**2 == pytest.approx(2.0)
    assert m.resolution**2 == pytest.approx(2.0)


@pytest.mark.parametrize("name", ["efficientnet-b0", "mobilenet-v2"])
@pytest.mark.parametrize("ratio", [2.0, 4.0])
@pytest.mark.parametrize("strategy", ["fast", "nonuniform"])
def test_new_strategies_land_on_the_target_flops(name, ratio, strategy):
    net = resolve(name)
    base = measure(net, 1.0, 1.0, net.image_size)
    p = solve_strategy(net, strategy, ratio)
    if strategy == "fast":
        assert (p.depth, p.width) == pytest.approx(
            (fast_factors(p.fast_s).depth, fast_factors(p.fast_s).width))
        built, depth = net, p.depth
    else:
        built, depth = with_repeats(net, parse_repeats(p.stage_repeats)), 1.0
    counts = count(partial(built.build, depth, p.width), p.image_size)  # a fresh counter
    assert counts.flops == p.flops and counts.activations == p.activations
    assert abs(counts.flops / base.flops / ratio - 1) <= MATCH_TOLERANCE, p
    assert p.activations_ratio == pytest.approx(counts.activations / base.activations)


@pytest.mark.parametrize("name", ["efficientnet-b0", "mobilenet-v2"])
def test_fast_grows_activations_less_than_compound(name):
    """Dollár et al.: at equal FLOPs, width-heavy dWr adds fewer activations than compound."""
    net = resolve(name)
    fast, comp = (solve_strategy(net, s, 4.0) for s in ("fast", "compound"))
    assert fast.activations_ratio < comp.activations_ratio < 4.0


def test_stage_depths_ramp_with_geometric_mean_d():
    ds = stage_depths(7, 1.5)
    assert ds[0] == 1.0 and ds[-1] == pytest.approx(1.5**2)
    assert ds == sorted(ds)
    assert math.prod(ds) ** (1 / 7) == pytest.approx(1.5)
    assert stage_depths(1, 1.5) == [1.5]


def test_nonuniform_stage_rows_for_mobilenet_v2():
    """d = 1.4 over 7 stages: d_i = 1.4^(i/3), i = 0…6, times layers 1,2,3,4,3,3,1 gives
    1, 2.24, 3.76, 5.60, 4.70, 5.26, 1.96 → rounded 1, 2, 4, 6, 5, 5, 2."""
    net = resolve("mobilenet-v2")
    rows = nonuniform_baseline(net, 1.4).stages(1.0, 1.0)
    stages = [r for r in rows if r["stage"] not in ("stem", "head")]
    assert [r["repeats"] for r in stages] == [1, 2, 4, 6, 5, 5, 2]
    base = [r for r in net.stages(1.0, 1.0) if r["stage"] not in ("stem", "head")]
    assert [r["channels"] for r in stages] == [r["channels"] for r in base]
    uniform = [r["repeats"] for r in net.stages(1.4, 1.0)[1:-1]]
    assert uniform == [2, 3, 5, 6, 5, 5, 2]  # ceil(1.4·layers): every stage grows


def test_nonuniform_point_rebuilds_from_its_stage_repeats():
    net = resolve("efficientnet-b0")
    p = solve_strategy(net, "nonuniform", 4.0)
    rebuilt = with_repeats(net, parse_repeats(p.stage_repeats))
    assert sum(parse_repeats(p.stage_repeats)) > net.table.num_blocks
    assert measure(rebuilt, 1.0, p.width, p.image_size).params == p.params
    first, last = parse_repeats(p.stage_repeats)[0], parse_repeats(p.stage_repeats)[-1]
    assert (first, last) == (1, 2)  # B0's one-block first stage stays, its last grows


class PlainNet(Scalable):
    name, image_size = "plain", 32

    def build(self, depth=1.0, width=1.0, *, num_classes=None, dropout=None, drop_path=None):
        ch = max(8, round(8 * width))
        return nn.Sequential(nn.Conv2d(3, ch, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(ch, num_classes or 10))


def test_nonuniform_needs_a_stage_table():
    with pytest.raises(ScalesearchError, match="needs per-stage repeats: plain"):
        solve_strategy(PlainNet(), "nonuniform", 2.0)


@pytest.mark.parametrize("strategy, split", [
    ("compound", (math.log(1.2), math.log(1.1))),
    ("nonuniform", (math.log(1.2), math.log(1.1))),
    ("resolution", (2.0, 1.0)),  # no d:w share of its own: the uniform one, d = w²
])
def test_cap_reroutes_resolution_growth_to_depth_and_width(strategy, split):
    net = resolve("mobilenet-v2")
    free = solve_strategy(net, strategy, 4.0)
    capped = solve_strategy(net, strategy, 4.0, CompareConfig(net.name, max_image_size=256))
    assert free.image_size > 256 and not free.capped
    assert capped.capped and capped.image_size == 256
    assert capped.depth > free.depth and capped.width > free.width
    assert math.log(capped.depth) / math.log(capped.width) == pytest.approx(split[0] / split[1])
    assert abs(capped.flops_ratio / 4.0 - 1) <= MATCH_TOLERANCE


def test_cap_follows_fast_split_and_leaves_unbound_strategies_alone():
    net = resolve("mobilenet-v2")
    capped = solve_strategy(net, "fast", 4.0, CompareConfig(net.name, max_image_size=228))
    assert capped.capped and capped.image_size == 228
    assert math.log(capped.depth) / math.log(capped.width) == pytest.approx(0.2 / 0.8)
    for s in ("depth", "width"):
        assert solve_strategy(net, s, 4.0, CompareConfig(net.name, max_image_size=228)) == \
            solve_strategy(net, s, 4.0)


def test_compare_json_has_new_strategies_and_ratios(cli):
    code, out, err = cli("compare", "--baseline", "mobilenet-v2", "--flops-ratio", "4",
                         "--strategies", "compound,fast,nonuniform", "--max-image-size", "256",
                         "--no-train", "--format", "json")
    assert code == 0, err
    rows = {r["strategy"]: r for r in json.loads(out)}
    assert list(rows) == ["baseline", "compound", "fast", "nonuniform"]
    assert rows["baseline"]["activations_ratio"] == 1.0
    assert all(r["image_size"] <= 256 for r in rows.values())
    assert rows["compound"]["capped"] and not rows["fast"]["capped"]
    assert rows["nonuniform"]["stage_repeats"].count("-") == 6
    assert all(r["latency_ms"] is None for r in rows.values())  # not asked for


@pytest.mark.parametrize("args, message", [
    (["--strategies", "fast", "--fast-alpha", "1.5"], "fast alpha must be in [0, 1]"),
    (["--max-image-size", "100"], "max image size 100 px is below mobilenet-v2's own 224 px"),
    (["--strategies", "fastest"], "unknown strategy fastest"),
])
def test_bad_new_flags(cli, args, message):
    code, _, err = cli("compare", "--baseline", "mobilenet-v2", "--no-train", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_scale_reports_activations_ratio(cli):
    code, out, err = cli("scale", "--baseline", "efficientnet-b0", "--preset", "b3",
                         "--format", "json")
    d = json.loads(out)
    assert code == 0, err
    assert d["activations_ratio"] == pytest.approx(d["activations"] / d["base"]["activations"])
    assert d["activations_ratio"] > 1
    code, out, _ = cli("scale", "--baseline", "efficientnet-b0", "--preset", "b3")
    assert f"ratio {d['activations_ratio']:.3f}" in out


def test_capped_label_survives_the_csv(cli, tmp_path):
    from scalesearch.comparison.summary import markdown

    code, _, err = cli("compare", "--baseline", "mobilenet-v2", "--flops-ratio", "4",
                       "--strategies", "compound", "--max-image-size", "256", "--no-train",
                       "--out", tmp_path)
    assert code == 0, err
    md = markdown(pd.read_csv(tmp_path / "compare.csv"), "mobilenet-v2")
    assert "compound, image capped at 256 px (d=" in md
    assert md == (tmp_path / "compare.md").read_text()


@pytest.mark.slow
def test_tiny_trained_new_strategies_with_latency(cli, tmp_path):
    """nonuniform networks are rebuilt in the worker from stage_repeats; both Pareto plots."""
    code, _, err = cli("compare", "--baseline", "mobilenet-v2", "--flops-ratio", "2",
                       "--strategies", "fast,nonuniform", "--latency", "--workers", "2",
                       "--proxy-size", "32", "--num-train", "32", "--num-val", "16",
                       "--epochs", "1", "--batch-size", "16", "--out", tmp_path)
    assert code == 0, err
    df = pd.read_csv(tmp_path / "compare.csv")
    assert set(df["status"]) == {"ok"} and (df["latency_ms"] > 0).all()
    row = df[df["strategy"] == "nonuniform"].iloc[0]
    rebuilt = with_repeats(resolve("mobilenet-v2"), parse_repeats(row["stage_repeats"]))
    assert measure(rebuilt, 1.0, row["width"], row["image_size"]).params == row["params"]
    for png in ("pareto_activations.png", "pareto_latency.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("ratio, shown", [(256.0001, "256.0001"), (0.9999999, "0.9999999"),
                                          (300.0, "300")])
def test_a_ratio_just_past_the_bound_is_shown_as_given(cli, ratio, shown):
    """Issue 23 item 15: 256.0001 was refused as 'got 256', which read as inside [1, 256]."""
    code, _, err = cli("compare", "--baseline", "mobilenet-v1", "--flops-ratio", str(ratio),
                       "--no-train")
    assert code == 2 and err.strip().endswith(f"must be in [1, 256], got {shown}"), err
