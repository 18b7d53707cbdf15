"""The figures the README prints are the ones the code prints: the ResNet-50 φ=3 block, the
B0–B8 preset table, and every study file in studies/ parses into its config (no training)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import scalesearch
from scalesearch.util.fmt import human

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_resnet50_phi3_block_is_what_scale_prints(cli):
    block = README.split("```\nresnet50 scaled by φ=3", 1)[1].split("\n\nstage", 1)[0]
    code, out, _ = cli("scale", "--baseline", "resnet50", "--phi", "3")
    assert code == 0
    for line in ["resnet50 scaled by φ=3" + block.splitlines()[0], *block.splitlines()[1:]]:
        assert line in out.splitlines(), line
    net = scalesearch.scale("resnet50", phi=3)  # the same figures, exactly
    assert (human(net.counts.params), human(net.counts.flops, "FLOPs")) == ("79.78M", "30.414B")
    assert (round(net.formula_ratio, 3), round(net.flops_ratio, 3)) == (7.081, 7.438)


PRESETS = re.findall(r"^\| (B\d) \| [\d.]+ \| [\d.]+ \| (\d+) \| ([\d,]+) \| ([\d.]+) B \|",
                     README, re.M)


def test_the_preset_table_covers_b0_to_b8():
    assert [p[0] for p in PRESETS] == [f"B{i}" for i in range(9)]


@pytest.mark.parametrize("name, px, params, gflops", PRESETS, ids=[p[0] for p in PRESETS])
def test_preset_row_is_what_scale_counts(name, px, params, gflops):
    net = scalesearch.scale("efficientnet-b0", preset=name.lower())
    assert (net.image_size, net.counts.params) == (int(px), int(params.replace(",", "")))
    assert f"{net.counts.flops / 1e9:.3f}" == gflops  # B8: 62.597


@pytest.mark.parametrize("path", sorted((ROOT / "studies").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_study_file_parses_into_its_config(path):
    from scalesearch.comparison.strategies import paper_rows
    from scalesearch.scaling.registry import resolve
    from scalesearch.study import _compare_config, load_study

    spec = load_study(path)
    if spec["kind"] == "compare":
        cfg = _compare_config(spec, path.parent)
        assert cfg.baseline == spec["baseline"] and cfg.seeds == int(spec.get("seeds", 1))
        resolve(cfg.baseline)
        data = Path(cfg.setup.data)
        assert cfg.setup.data == "synthetic" or data.is_absolute(), cfg.setup.data
    else:
        assert spec["baselines"] and all(paper_rows(resolve(n)) for n in spec["baselines"])
