"""scalesearch.scale(): φ (also fractional/negative), presets, explicit multipliers, matching."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

import scalesearch
from scalesearch.errors import ScalesearchError


def test_phi_result_object():
    net = scalesearch.scale("resnet50", phi=1, num_classes=10)
    assert isinstance(net.model, torch.nn.Module)
    assert net.image_size == 256  # round(224 · 1.15 / 4) · 4
    d = net.to_dict()
    for key in ("baseline", "phi", "alpha", "beta", "gamma", "depth", "width", "resolution",
                "image_size", "params", "flops", "flops_ratio", "activations", "stages"):
        assert key in d
    assert d["flops_ratio"] == pytest.approx(net.counts.flops / net.base_counts.flops)
    assert net.model(torch.zeros(1, 3, 64, 64)).shape == (1, 10)
    assert sum(p.numel() for p in net.model.parameters()) == d["params"]


def test_fractional_and_negative_phi():
    small = scalesearch.scale("efficientnet-b0", phi=-1.5)
    half = scalesearch.scale("efficientnet-b0", phi=0.5)
    assert small.flops_ratio < 1 < half.flops_ratio < 2
    assert small.image_size < 224 < half.image_size


def test_flops_grow_about_two_to_the_phi():
    for phi in (1, 2, 3):
        ratio = scalesearch.scale("efficientnet-b0", phi=phi).flops_ratio
        assert ratio == pytest.approx(2**phi, rel=0.25)


@pytest.mark.parametrize("name,phi", [("resnet50", 1.0), ("resnet50", 3.0),
                                      ("efficientnet-b0", 1.5), ("mobilenet-v1", 2.0)])
def test_match_flops_lands_within_3_percent(name, phi):
    net = scalesearch.scale(name, phi=phi, match_flops=True)
    assert net.flops_ratio == pytest.approx(net.formula_ratio, rel=0.03)
    assert not net.warnings


@pytest.mark.parametrize("name,phi", [("efficientnet-b0", 1.0), ("mobilenet-v2", 2.0)])
def test_match_flops_picks_the_closest_size_and_warns_when_3_percent_is_unreachable(name, phi):
    """B0 at φ=1: 224 px gives 1.71×, 225 px already 2.01× (every map grows by a row): the
    formula's 1.92× lies inside the jump. The match must still be the best possible size."""
    base = scalesearch.resolve(name)
    with pytest.warns(UserWarning, match="no image size lands within 3%"):
        net = scalesearch.scale(name, phi=phi, match_flops=True)
    target = net.formula_ratio * net.base_counts.flops
    # FLOPs are monotone in the image size, so ±40 px around the pick settles optimality
    best = min(range(net.image_size - 40, net.image_size + 41), key=lambda s: abs(
        scalesearch.measure(base, net.mult.depth, net.mult.width, s).flops - target))
    assert net.image_size == best
    assert abs(net.flops_ratio / net.formula_ratio - 1) > 0.03
    assert any("no image size lands within 3%" in w for w in net.warnings)


def test_conflicting_modes_and_bad_values():
    with pytest.raises(ScalesearchError, match="choose one"):
        scalesearch.scale("resnet50", phi=1, depth=2)
    with pytest.raises(ScalesearchError, match="no preset"):
        scalesearch.scale("resnet50", preset="b3")
    with pytest.raises(ScalesearchError, match="positive"):
        scalesearch.scale("resnet50", width=-1)
    for zero in (dict(depth=0), dict(width=0.0), dict(resolution=0)):  # 0 is given, not "unset"
        with pytest.raises(ScalesearchError, match="multipliers must be positive"):
            scalesearch.scale("resnet50", **zero)
    with pytest.raises(ScalesearchError, match="outside"):
        scalesearch.scale("resnet50", phi=11)
    with pytest.raises(ScalesearchError, match="below"):
        scalesearch.scale("resnet50", resolution=0.01)


def test_forced_coefficients_warn():
    with pytest.warns(UserWarning, match="α·β²·γ²"):
        net = scalesearch.scale("mobilenet-v1", phi=1, alpha=1.5, beta=1.3, gamma=1.3, force=True)
    assert net.warnings


def test_save_and_load_round_trip(tmp_path):
    net = scalesearch.scale("mobilenet-v2", phi=0.5, num_classes=7)
    model_path, json_path = net.save(tmp_path / "m.pt")
    assert json_path.name == "m.json" and json_path.exists()
    model, cfg = scalesearch.load_checkpoint(model_path)
    x = torch.randn(2, 3, 64, 64)
    net.model.eval()
    model.eval()
    assert torch.equal(model(x), net.model(x))
    assert cfg["image_size"] == net.image_size


def test_measuring_lives_in_the_counter_layer():
    """``scalesearch.measure`` is the counter layer's; lower layers never import the API."""
    from scalesearch.scaling import counter
    from scalesearch.scaling.counter import baseline_counts, flops_ratio, measure
    from scalesearch.scaling.scaler import Multipliers

    assert scalesearch.measure is measure and scalesearch.flops_ratio is flops_ratio
    net = scalesearch.resolve("efficientnet-b0")
    base = baseline_counts(net)
    assert base == measure(net, 1.0, 1.0, 224) and base.params == 5_288_548
    assert flops_ratio(net, Multipliers()) == 1.0
    mult = Multipliers(1.2, 1.1, 1.15)  # φ = 1: 224·1.15 = 257.6 → 256 px
    assert flops_ratio(net, mult) == measure(net, 1.2, 1.1, 256).flops / base.flops
    assert flops_ratio(net, mult, 300) == measure(net, 1.2, 1.1, 300).flops / base.flops
    root = Path(counter.__file__).parents[1]
    front_doors = ("scalesearch.experiments", "scalesearch.options", "scalesearch.cli")
    for lower in ("scaling/counter.py", "training/proxy.py", "scaling/scaled.py",
                  "training/cluster.py", "coefsearch/space.py",
                  "coefsearch/runner.py", "coefsearch/results.py", "coefsearch/plots.py",
                  "comparison/strategies.py", "comparison/run.py"):
        text = (root / lower).read_text()
        assert not any(f"from {door}" in text for door in front_doors), lower
    assert "scalesearch.coefsearch.runner" not in (root / "options.py").read_text()  # Ray stays out
    for folder, sibling in (("coefsearch", "scalesearch.comparison"),
                            ("comparison", "scalesearch.coefsearch")):
        for path in (root / folder).glob("*.py"):  # siblings share lower modules, not each other
            assert f"from {sibling}" not in path.read_text(), path


def test_every_config_with_no_arguments_is_the_clis_and_the_apis(tmp_path):
    """Issue 25: each default is written once. Every config built with no arguments equals
    the CLI's with no flags, the Python API's with no options and a study's with no keys."""
    from scalesearch import options as opt
    from scalesearch.cli.main import build_parser
    from scalesearch.settings import (
        CompareConfig,
        FidelityConfig,
        Placement,
        SearchConfig,
        Tracking,
    )
    from scalesearch.study import _compare_config, load_study

    def cli(*argv):
        return build_parser().parse_args(list(argv))

    assert opt.search_config(cli("search")) == SearchConfig() == \
        opt.search_config(opt.api_options({}, "search", SearchConfig))
    assert opt.compare_config(cli("compare", "--baseline", "resnet50")) == \
        CompareConfig("resnet50") == opt.compare_config(
            opt.api_options({}, "compare", CompareConfig, baseline="resnet50"))
    fidelity = cli("fidelity", "runs/x")
    assert opt.fidelity_config(fidelity) == FidelityConfig() == \
        opt.fidelity_config(opt.api_options({}, "fidelity", FidelityConfig, Placement))
    assert opt.placement_from_args(fidelity) == Placement()
    study = cli("study", "s.yaml")
    assert (opt.placement_from_args(study), opt.tracking_from_args(study)) == \
        (Placement(), Tracking())
    path = tmp_path / "s.yaml"
    path.write_text("kind: compare\nbaseline: resnet50\n")
    assert _compare_config(load_study(path), tmp_path) == CompareConfig("resnet50")
    assert opt.latency_from_args(cli("scale", "--baseline", "resnet50", "--phi", "1")) is None
    # the values the documented defaults promise (README, docs/search.md), not the code's own
    b0 = SearchConfig()
    assert (b0.baseline, b0.setup.proxy_size, b0.tolerance, b0.flops_tolerance,
            b0.match_flops, b0.seeds, b0.scheduler) == ("efficientnet-b0", 64, 0.05, 0.25, True,
                                                       2, "none")
    assert (FidelityConfig().top, FidelityConfig().random) == (3, 3)


def test_a_compare_option_is_one_field(tmp_path):
    """Adding a compare option touches one dataclass field: a field with a flag, added to a
    copy of CompareConfig here, is a CLI flag, a Python API option and a study key at once."""
    import dataclasses

    from scalesearch.settings import CompareConfig
    from scalesearch.settings.fields import add_flags, build, options, setting

    Extra = dataclasses.make_dataclass(
        "Extra", [("shrink", float, setting(0.5, flag="--shrink", type=float,
                                             help="a new option ({default})"))],
        bases=(CompareConfig,), frozen=True)
    parser = argparse.ArgumentParser()
    add_flags(parser, Extra)
    assert "a new option (0.5)" in parser.format_help()
    assert build(Extra, vars(parser.parse_args(["--baseline", "resnet50", "--shrink", "2"]))
                 ).shrink == 2.0
    assert options(Extra)["shrink"] == 0.5
    assert build(Extra, {**options(Extra), "baseline": "resnet50"}).shrink == 0.5


def test_one_name_per_meaning_and_the_old_spellings_still_parse():
    """Issue 25 item 5: --max-concurrent (trainings at once; old: --workers) is not
    TrainConfig.loader_workers (DataLoader processes), and --sampler-seed (old: --seed) is not
    --seeds (a count of training seeds)."""
    from scalesearch import options as opt
    from scalesearch.settings.recipe import ProxySetup, TrainConfig

    def compare(*flags):
        parser = argparse.ArgumentParser()
        opt.add_compare_args(parser)
        return opt.compare_config(parser.parse_args(["--baseline", "resnet50", *flags]))

    assert compare("--max-concurrent", "3").placement.max_concurrent == 3
    assert compare("--workers", "3").placement.max_concurrent == 3

    def search(*flags):
        parser = argparse.ArgumentParser()
        opt.add_search_args(parser)
        return opt.search_config(parser.parse_args(list(flags)))

    assert search("--sampler-seed", "4").sampler_seed == search("--seed", "4").sampler_seed == 4
    assert search("--sampler-seed", "4").seeds == search().seeds  # the count is untouched
    # the Python API's old keyword names (argparse dests before 0.3) read, and say so
    from scalesearch.settings import CompareConfig, SearchConfig

    with pytest.warns(DeprecationWarning, match=r"compare\(workers=…\) is the old name of "
                                                r"max_concurrent"):
        values = opt.api_options({"workers": 3}, "compare", CompareConfig, baseline="resnet50")
    assert opt.compare_config(values).placement.max_concurrent == 3
    with pytest.warns(DeprecationWarning, match="old name of sampler_seed"):
        assert opt.search_config(opt.api_options({"seed": 4}, "search", SearchConfig)
                                 ).sampler_seed == 4
    assert "loader_workers" in {f for f in TrainConfig.__dataclass_fields__}
    assert "workers" not in TrainConfig.__dataclass_fields__
    # a run folder written before the rename (setup.train.workers) still loads, same meaning
    old = dict(ProxySetup().to_dict())
    old["train"] = {("workers" if k == "loader_workers" else k): v
                    for k, v in old["train"].items()}
    old["train"]["workers"] = 2
    assert ProxySetup.from_dict(old).train.loader_workers == 2


@pytest.mark.parametrize("kwargs", [dict(phi=True), dict(phi=1, alpha=True, beta=True,
                                                          gamma=1.4142, force=True),
                                    dict(depth=True), dict(phi="1"), dict(phi=1, alpha="1.2"),
                                    dict(num_classes=True), dict(preset=3)])
def test_scale_refuses_what_is_not_a_number(kwargs):
    """True is not φ = 1 (nor α = 1), nor is the text '1': ScalesearchError, not a TypeError
    or a network scaled by 1."""
    with pytest.raises(ScalesearchError, match="must be a|preset must be a name"):
        scalesearch.scale("resnet50", **kwargs)


def test_scale_refuses_a_baseline_that_is_no_name_in_one_line():
    with pytest.raises(ScalesearchError, match="a baseline is a name.*got int 42"):
        scalesearch.scale(42, phi=1)


def test_numpy_numbers_are_python_numbers_after_validation():
    """numpy.int64 seeds (a sweep's np.arange) are 3 to JSON: the run marker is written."""
    import json

    import numpy as np

    from scalesearch.settings import CompareConfig, SearchConfig

    cfg = SearchConfig(seeds=np.int64(3), tolerance=np.float32(0.05))
    assert type(cfg.seeds) is int and type(cfg.tolerance) is float
    json.dumps(cfg.to_dict())
    cmp = CompareConfig(baseline="resnet50", ratios=(np.int64(2),), seeds=np.int64(2))
    json.dumps(cmp.recipe())
    net = scalesearch.scale("resnet50", phi=np.int64(1), num_classes=np.int64(10))
    json.dumps(net.to_dict())


@pytest.mark.parametrize("make", [
    lambda s: s.SearchConfig(seeds=True),
    lambda s: s.CompareConfig(baseline="resnet50", coefficients=(True, True, 1.4142)),
    lambda s: s.CompareConfig(baseline="resnet50", ratios=(True,)),
    lambda s: s.Placement(cpus_per_trial=True),
])
def test_settings_refuse_a_boolean_where_a_number_is_meant(make):
    from scalesearch import settings

    with pytest.raises(ScalesearchError, match="must be a number, got True"):
        make(settings)


def test_a_coefficients_file_with_booleans_is_refused(tmp_path):
    """{"alpha": true, "beta": true, …} is not α = β = 1, for scale and compare alike."""
    from scalesearch.util.argtypes import read_coefficients

    path = tmp_path / "bool.json"
    path.write_text('{"alpha": true, "beta": true, "gamma": 1.4142}')
    with pytest.raises(ScalesearchError, match="needs numeric keys"):
        read_coefficients(str(path))
    with pytest.raises(ScalesearchError, match="needs numeric keys"):
        scalesearch.compare("resnet50", no_train=True, coefficients=str(path))
