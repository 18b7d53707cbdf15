"""Properties that hold for every stage table, not only the four built-in ones (hypothesis).

Random tables use small channels and images so each example takes milliseconds on a CPU.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scalesearch
from scalesearch import Head, Multipliers, Stage, StageTable, Stem, TableBaseline
from scalesearch.scaling.builder import build
from scalesearch.scaling.checkpoint import load_checkpoint
from scalesearch.scaling.counter import count_fvcore, count_shapes
from scalesearch.scaling.scaler import round_channels, scale_table

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def stages(draw) -> Stage:
    """One stage that sets only the fields its block reads (others keep their defaults)."""
    block = draw(st.sampled_from(["mbconv", "dsconv", "bottleneck"]))
    fields = dict(repeats=draw(st.integers(1, 2)), channels=draw(st.integers(4, 40)),
                  kernel=draw(st.sampled_from([1, 3, 5])), stride=draw(st.sampled_from([1, 2])))
    if block == "mbconv":
        fields.update(expand=draw(st.sampled_from([1, 2, 4, 6])),
                      se=draw(st.sampled_from([0.0, 0.25, 0.5])))
    elif block == "bottleneck":
        fields.update(expand=draw(st.sampled_from([0.25, 0.5, 1.0])))
    return Stage(block, **fields)


@st.composite
def tables(draw) -> StageTable:
    return StageTable(
        name="random", stem=Stem(draw(st.integers(4, 32)), kernel=draw(st.sampled_from([3, 5])),
                                 stride=draw(st.sampled_from([1, 2])), pool=draw(st.booleans())),
        stages=tuple(draw(st.lists(stages(), min_size=1, max_size=3))),
        head=Head(draw(st.one_of(st.none(), st.integers(8, 64))), shrink=draw(st.booleans())),
        image_size=draw(st.integers(16, 48)), num_classes=draw(st.integers(2, 12)),
        act=draw(st.sampled_from(["relu", "relu6", "silu"])))


@FAST
@given(tables())
def test_counts_of_any_table_equal_fvcore_and_the_shape_counter(table):
    model = build(table)
    ref = count_fvcore(model, table.image_size)
    direct, unhandled = count_shapes(model, table.image_size)
    meta = scalesearch.count(lambda: build(table), table.image_size)  # meta-device fast path
    assert not unhandled and meta.method == "shapes"
    assert ref.params == sum(p.numel() for p in model.parameters())
    for ours in (direct, meta):
        assert (ours.params, ours.flops, ours.activations) == \
            (ref.params, ref.flops, ref.activations)


def _flops(base: TableBaseline, depth: float, width: float, size: int) -> int:
    return scalesearch.count(lambda: base.build(depth, width), size).flops


def _convs(base: TableBaseline, depth: float, width: float) -> int:
    return sum(isinstance(m, torch.nn.Conv2d) for m in base.build(depth, width).modules())


@FAST
@given(tables(), st.lists(st.floats(0.25, 3.0), min_size=2, max_size=2),
       st.lists(st.floats(0.25, 3.0), min_size=2, max_size=2),
       st.lists(st.integers(8, 96), min_size=2, max_size=2))
def test_flops_never_decrease_as_depth_width_or_image_size_grow(table, ds, ws, sizes):
    """Wider never costs less where the layers are the same: a wider stage whose rounded
    channels come to equal its input's loses its projection shortcut (a 1×1 conv), as in
    torchvision's ResNet, and may cost less (hypothesis found it: a bottleneck of 15 channels
    after an 18-channel stem, width 1 → 1.25, 77,344 → 62,256 FLOPs at 8 px)."""
    base = TableBaseline(table)
    (d0, d1), (w0, w1), (s0, s1) = sorted(ds), sorted(ws), sorted(sizes)
    start = _flops(base, d0, w0, s0)
    assert _flops(base, d1, w0, s0) >= start
    same = {d: _convs(base, d, w0) == _convs(base, d, w1) for d in (d0, d1)}
    if same[d0]:
        assert _flops(base, d0, w1, s0) >= start
    assert _flops(base, d0, w0, s1) >= start
    assert _flops(base, d1, w1, s1) >= _flops(base, d0, w1, s0)
    if same[d1]:
        assert _flops(base, d1, w1, s1) >= _flops(base, d1, w0, s0)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4096), st.floats(0.05, 8.0), st.sampled_from([1, 2, 4, 8, 16, 32]))
def test_round_channels_is_a_multiple_of_the_divisor_and_keeps_90_percent(c, w, divisor):
    new = round_channels(c, w, divisor)
    assert new % divisor == 0 and new >= divisor
    assert new >= 0.9 * c * w


@FAST
@given(tables(), st.floats(0.25, 4.0), st.floats(0.25, 4.0), st.floats(0.25, 4.0))
def test_scale_table_is_pure(table, d, w, r):
    before = table.to_dict()
    first = scale_table(table, Multipliers(d, w, r))
    assert table.to_dict() == before  # the input table is unchanged
    assert scale_table(table, Multipliers(d, w, r)) == first  # and the same input, same output


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.floats(0.5, 2.0), st.floats(0.5, 2.0), st.integers(0, 2**31 - 1))
def test_checkpoint_round_trip_gives_identical_outputs(table, d, w, seed):
    torch.manual_seed(seed)
    net = scalesearch.scale(table, depth=d, width=w, resolution=1.0)
    x = torch.randn(2, 3, net.image_size, net.image_size)
    with tempfile.TemporaryDirectory() as tmp:
        net.save(Path(tmp) / "model.pt")
        loaded, config = load_checkpoint(Path(tmp) / "model.pt")
    with torch.no_grad():
        assert torch.equal(net.model.eval()(x), loaded.eval()(x))
    assert config["depth"] == d and config["width"] == w
