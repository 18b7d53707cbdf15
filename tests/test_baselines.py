"""The four built-in baselines and the B0–B8 presets count exactly as the references do."""

from __future__ import annotations

import pytest

import scalesearch
from scalesearch.scaling.counter import count_fvcore

# Parameters of the official models with 1000 classes (the reference TF implementation and its
# ports, e.g. torchvision's efficientnet_b0…b7 weight metadata).
OFFICIAL_PARAMS = {
    "b0": 5_288_548, "b1": 7_794_184, "b2": 9_109_994, "b3": 12_233_232,
    "b4": 19_341_616, "b5": 30_389_784, "b6": 43_040_704, "b7": 66_347_960,
}
PAPER_GFLOPS = {"b0": 0.39, "b1": 0.70, "b2": 1.0, "b3": 1.8, "b4": 4.2, "b5": 9.9, "b6": 19,
                "b7": 37}


def test_b0_matches_table1():
    """EfficientNet-B0 has 5,288,548 parameters and 0.386 G multiply-adds (±1%)."""
    net = scalesearch.scale("efficientnet-b0")
    assert net.counts.params == 5_288_548
    assert net.counts.flops == pytest.approx(0.386e9, rel=0.01)
    assert net.image_size == 224
    rows = net.to_dict()["stages"]
    assert [r["channels"] for r in rows] == [32, 16, 24, 40, 80, 112, 192, 320, 1280]
    assert [r["repeats"] for r in rows[1:-1]] == [1, 2, 2, 3, 3, 4, 1]
    assert [r["kernel"] for r in rows[1:-1]] == [3, 3, 5, 3, 5, 5, 3]
    assert [r["stride"] for r in rows[1:-1]] == [1, 2, 2, 2, 1, 2, 1]


@pytest.mark.parametrize("preset", sorted(OFFICIAL_PARAMS))
def test_presets_equal_official_models(preset):
    """B0–B7 equal the official models parameter for parameter; FLOPs near the paper's."""
    net = scalesearch.scale("efficientnet-b0", preset=preset)
    assert net.counts.params == OFFICIAL_PARAMS[preset]
    assert net.counts.flops / 1e9 == pytest.approx(PAPER_GFLOPS[preset], rel=0.05)
    assert net.image_size == scalesearch.resolve("efficientnet-b0").presets[preset].image_size


def test_b7_stage_table_is_the_official_one():
    d = scalesearch.scale("efficientnet-b0", preset="b7").to_dict()
    assert [r["channels"] for r in d["stages"]] == [64, 32, 48, 80, 160, 224, 384, 640, 2560]
    assert [r["repeats"] for r in d["stages"][1:-1]] == [4, 7, 7, 10, 10, 13, 4]
    assert d["dropout"] == 0.5 and d["image_size"] == 600


def test_preset_dropout_reaches_the_model():
    model = scalesearch.scale("efficientnet-b0", preset="b4").model
    assert model.dropout.p == 0.4


def test_se_width_follows_block_input_channels():
    """SE reduced channels = max(1, int(block input channels × 0.25)), not expanded channels."""
    model = scalesearch.resolve("efficientnet-b0").build()
    se = model.stages[1][0].body[2]  # stage 3, first block: input 16, expanded 96
    assert (se.reduce.in_channels, se.reduce.out_channels) == (96, 4)


@pytest.mark.parametrize("name,params,gflops", [
    ("mobilenet-v1", 4_231_976, 0.5687),
    ("mobilenet-v2", 3_504_872, 0.3008),
    ("resnet50", 25_557_032, 4.0892),
])
def test_table3_baselines(name, params, gflops):
    net = scalesearch.scale(name)
    assert net.counts.params == params
    assert net.counts.flops / 1e9 == pytest.approx(gflops, rel=0.001)


def test_mobilenet_v2_head_only_grows():
    """MobileNetV2 widens its 1280 head only for w > 1."""
    rows = scalesearch.scale("mobilenet-v2", width=0.5).to_dict()["stages"]
    assert rows[-1]["channels"] == 1280
    rows = scalesearch.scale("mobilenet-v2", width=2).to_dict()["stages"]
    assert rows[-1]["channels"] == 2560


def test_resnet50_depth4_and_width2_rows():
    """Table 3 rows: d=4 gives stages 12,16,24,12; recount ≈14.6 G (depth) and ≈16.3 G (width),
    so the paper's 16.2 G (depth) / 14.7 G (width) look swapped."""
    deep = scalesearch.scale("resnet50", depth=4)
    wide = scalesearch.scale("resnet50", width=2)
    assert [r["repeats"] for r in deep.to_dict()["stages"][1:]] == [12, 16, 24, 12]
    assert deep.counts.flops / 1e9 == pytest.approx(14.6, rel=0.01)
    # 16.12 G: every conv grows 4× except the RGB stem conv (2×), so slightly under 4 × 4.09 G
    assert wide.counts.flops / 1e9 == pytest.approx(16.3, rel=0.02)
    assert deep.counts.flops < wide.counts.flops


@pytest.mark.parametrize("name", ["efficientnet-b0", "mobilenet-v1", "mobilenet-v2", "resnet50"])
@pytest.mark.parametrize("size", [64, 117])
def test_counter_agrees_with_fvcore(name, size):
    """Shape-only counting equals fvcore's FlopCountAnalysis on real tensors (conv + linear)."""
    baseline = scalesearch.resolve(name)
    ours = scalesearch.count(lambda: baseline.build(1.2, 1.1, num_classes=10), size)
    ref = count_fvcore(baseline.build(1.2, 1.1, num_classes=10), size)
    assert (ours.params, ours.flops, ours.activations) == (ref.params, ref.flops, ref.activations)
    assert ours.method == "shapes" and ref.method == "fvcore"


BUILTINS = ["efficientnet-b0", "mobilenet-v1", "mobilenet-v2", "resnet50"]


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_tables_set_only_the_fields_their_blocks_read(name):
    from scalesearch.scaling.blocks import check_fields

    check_fields(scalesearch.resolve(name).table)  # raises on a field its block ignores


@pytest.mark.parametrize("stage,message", [
    (dict(block="dsconv", se=0.25), "stage 3 (dsconv) sets se=0.25, which dsconv does not use"),
    (dict(block="dsconv", expand=6), "stage 3 (dsconv) sets expand=6, which dsconv does not use"),
    (dict(block="bottleneck", se=0.5), "stage 3 (bottleneck) sets se=0.5, which bottleneck"),
    (dict(block="nope"), "unknown block type(s) ['nope']"),
])
def test_a_field_the_block_ignores_is_refused_naming_the_stage(stage, message):
    from scalesearch import Stage, StageTable, Stem
    from scalesearch.scaling.builder import build

    stages = (Stage("mbconv", 1, 16), Stage("mbconv", 1, 24, stride=2, se=0.25),
              Stage(repeats=1, channels=32, **stage))
    table = StageTable("tiny", Stem(16), stages, image_size=32, num_classes=4)
    with pytest.raises(scalesearch.ScalesearchError) as err:
        build(table)
    assert message in str(err.value) and str(err.value).startswith("tiny: ") == (
        stage["block"] != "nope")
    ok = StageTable("tiny", Stem(16), stages[:2] + (Stage("dsconv", 1, 32, kernel=5),))
    build(ok)  # a default-valued field the block ignores, or one it reads, is fine


def test_a_block_must_declare_its_fields():
    from torch import nn

    from scalesearch.scaling.blocks import BLOCKS, register_block

    with pytest.raises(scalesearch.ScalesearchError, match="must declare fields"):
        register_block("undeclared")(type("Undeclared", (nn.Module,), {}))
    with pytest.raises(scalesearch.ScalesearchError, match="must declare fields"):
        register_block("typo")(type("Typo", (nn.Module,), {"fields": {"kernal"}}))
    assert "undeclared" not in BLOCKS and "typo" not in BLOCKS
