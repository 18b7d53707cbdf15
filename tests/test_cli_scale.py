"""`scalesearch scale` and `scalesearch baselines` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def test_scale_json_keys(cli):
    code, out, err = cli("scale", "--baseline", "resnet50", "--phi", "3", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    for key in ("baseline", "phi", "alpha", "beta", "gamma", "depth", "width", "resolution",
                "image_size", "params", "flops", "flops_ratio", "activations", "stages"):
        assert key in d
    assert (d["phi"], d["alpha"], d["beta"], d["gamma"]) == (3, 1.2, 1.1, 1.15)
    assert all({"repeats", "channels", "kernel", "stride"} <= set(s) for s in d["stages"])


def test_table_view_shows_formula_and_measured_ratio(cli):
    code, out, _ = cli("scale", "--baseline", "efficientnet-b0", "--phi", "2")
    assert code == 0
    assert "formula d·w²·r² = 3.687" in out and "measured after rounding" in out
    assert "mbconv" in out


def test_preset_and_explicit_multipliers(cli):
    code, out, _ = cli("scale", "--baseline", "efficientnet-b0", "--preset", "b3", "--format",
                       "json")
    assert code == 0 and json.loads(out)["params"] == 12_233_232
    code, out, _ = cli("scale", "--baseline", "mobilenet-v1", "--depth", "1.4", "--width", "1.2",
                       "--resolution", "1.3", "--format", "json")
    d = json.loads(out)
    assert code == 0 and d["image_size"] == 292 and d["phi"] is None


def test_coefficients_file_and_save(cli, tmp_path):
    coef = tmp_path / "best.json"
    coef.write_text(json.dumps({"alpha": 1.3, "beta": 1.1, "gamma": 1.1, "top1": 50.0}))
    out_path = tmp_path / "net.pt"
    code, out, err = cli("scale", "--baseline", "mobilenet-v2", "--phi", "1", "--coefficients",
                         coef, "--num-classes", "5", "--save", out_path, "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert (d["alpha"], d["beta"], d["gamma"]) == (1.3, 1.1, 1.1)
    assert out_path.exists() and json.loads(out_path.with_suffix(".json").read_text())["params"] \
        == d["params"]


def test_baselines_listing(cli):
    code, out, _ = cli("baselines", "--format", "json")
    names = {row["name"] for row in json.loads(out)}
    assert code == 0 and {"efficientnet-b0", "mobilenet-v1", "mobilenet-v2", "resnet50"} <= names


BAD_INPUTS = [
    (["--baseline", "resnet51"], "unknown baseline"),
    (["--baseline", "nope_pkg:NET"], "cannot load baseline"),
    (["--baseline", "resnet50", "--phi", "42"], "outside the supported range"),
    (["--baseline", "resnet50", "--phi", "nan"], "not a finite number"),
    (["--baseline", "resnet50", "--phi", "1", "--alpha", "0.8"], "≥ 1"),
    (["--baseline", "resnet50", "--phi", "1", "--alpha", "2", "--beta", "1.5"], "away from 2"),
    (["--baseline", "resnet50", "--phi", "1", "--preset", "b1"], "choose one"),
    (["--baseline", "resnet50", "--preset", "b1"], "no preset"),
    (["--baseline", "resnet50", "--alpha", "1.2"], "need --phi"),
    (["--baseline", "efficientnet-b0", "--preset", "b1", "--match-flops"], "--match-flops"),
    (["--baseline", "resnet50", "--phi", "1", "--coefficients", "{bad}", "--alpha", "1.2"],
     "not both"),
    (["--baseline", "resnet50", "--phi", "1", "--coefficients", "{bad}"], "not valid JSON"),
    (["--baseline", "resnet50", "--phi", "1", "--coefficients", "{missing}"], "not found"),
    (["--baseline", "resnet50", "--phi", "1", "--coefficients", "{nokeys}"], "alpha, beta"),
    (["--baseline", "resnet50", "--num-classes", "0"], "must be ≥ 1"),
    (["--baseline", "resnet50", "--depth", "0", "--width", "1", "--resolution", "1"],
     "multipliers must be positive"),
    (["--baseline", "resnet50", "--width", "0"], "multipliers must be positive"),
    (["--baseline", "resnet50", "--format", "xml"], "invalid choice"),
]


@pytest.mark.parametrize("args,message", BAD_INPUTS, ids=[m for _, m in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(cli, tmp_path, args, message):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "nokeys.json").write_text('{"a": 1}')
    files = dict(bad=tmp_path / "bad.json", nokeys=tmp_path / "nokeys.json",
                 missing=tmp_path / "missing.json")
    args = [a.format(**files) for a in args]
    save = tmp_path / "out" / "model.pt"
    code, out, err = cli("scale", *args, "--save", save)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "out").exists()


def test_real_process_exit_code_and_no_traceback(tmp_path):
    """A real process (`python -m scalesearch`, the console script's main): exit 2, one line,
    for a bad baseline."""
    proc = subprocess.run([sys.executable, "-m", "scalesearch", "scale", "--baseline",
                           "resnet51"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown baseline" in proc.stderr


def test_cli_choices_and_version_come_from_the_library(cli):
    """One source each: the parsers offer the library's constants, --version the package's."""
    from importlib.metadata import version

    import scalesearch
    from scalesearch.cli.main import build_parser
    from scalesearch.settings.compare import PAPER_STRATEGIES, STRATEGIES
    from scalesearch.settings.recipe import OPTIMIZERS
    from scalesearch.settings.search import SAMPLERS

    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"scalesearch {scalesearch.__version__}"
    assert version("scalesearch") == scalesearch.__version__  # pyproject reads __version__
    subs = next(a for a in build_parser()._actions if a.dest == "command").choices
    actions = {cmd: {a.dest: a for a in subs[cmd]._actions} for cmd in ("search", "compare")}
    assert tuple(actions["search"]["sampler"].choices) == SAMPLERS
    for cmd in ("search", "compare"):
        assert tuple(actions[cmd]["optimizer"].choices) == OPTIMIZERS
    assert tuple(actions["compare"]["strategies"].default) == PAPER_STRATEGIES
    assert all(s in actions["compare"]["strategies"].help for s in STRATEGIES)
