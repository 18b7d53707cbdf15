"""Strategies at matched FLOPs (Table 3 / Figure 8): matching, paper rows, training, plots."""

from __future__ import annotations

import json
from functools import partial

import pandas as pd
import pytest
from conftest import TINY_STUDY

from scalesearch.comparison.strategies import solve_strategy
from scalesearch.scaling.counter import count, measure
from scalesearch.scaling.registry import resolve
from scalesearch.settings.compare import PAPER_STRATEGIES
from scalesearch.util.pareto import pareto_front, plot_pareto

MATCH_TOLERANCE = 0.05  # documented in docs/compare.md: achieved ratio within 5% of target


@pytest.mark.parametrize("name", ["efficientnet-b0", "mobilenet-v1", "mobilenet-v2", "resnet50"])
@pytest.mark.parametrize("ratio", [2.0, 4.0])
def test_each_strategy_lands_on_the_target_flops(name, ratio):
    net = resolve(name)
    base = measure(net, 1.0, 1.0, net.image_size).flops
    for strategy in PAPER_STRATEGIES:
        p = solve_strategy(net, strategy, ratio)
        recount = count(partial(net.build, p.depth, p.width), p.image_size).flops  # uncached
        assert recount == p.flops
        assert abs(recount / base / ratio - 1) <= MATCH_TOLERANCE, (strategy, p)
        grown = {"depth": p.depth, "width": p.width, "resolution": p.resolution}
        if strategy != "compound":  # a single-dimension strategy leaves the others alone
            assert [k for k, v in grown.items() if v != 1.0] == [strategy]
        else:
            assert p.phi > 0 and min(grown.values()) > 1.0


def test_resnet50_paper_table3_json(cli):
    code, out, err = cli("compare", "--baseline", "resnet50", "--paper-table3", "--no-train",
                         "--format", "json")
    assert code == 0, err
    rows = {r["strategy"]: r for r in json.loads(out)}
    assert list(rows) == ["baseline", "depth", "width", "resolution", "compound"]
    for r in rows.values():
        assert {"strategy", "depth", "width", "resolution", "image_size", "params", "flops",
                "flops_ratio", "paper_flops"} <= set(r)
    assert rows["baseline"]["flops"] == 4_089_184_256 and rows["baseline"]["paper_flops"] == 4.1e9
    assert (rows["depth"]["depth"], rows["width"]["width"], rows["resolution"]["image_size"]) \
        == (4, 2, 448)
    net = resolve("resnet50")
    assert rows["depth"]["flops"] == count(partial(net.build, 4.0, 1.0), 224).flops
    # the paper's depth and width FLOPs look swapped: d=4 counts ≈14.6 G, w=2 ≈16.1 G
    assert rows["depth"]["flops"] == pytest.approx(14.6e9, rel=0.01)
    assert rows["width"]["flops"] == pytest.approx(16.1e9, rel=0.01)
    assert rows["compound"]["flops"] == pytest.approx(16.7e9, rel=0.02)


@pytest.mark.parametrize("name, n", [("mobilenet-v1", 4), ("mobilenet-v2", 5)])
def test_paper_table3_for_mobilenets(cli, name, n):
    code, out, _ = cli("compare", "--baseline", name, "--paper-table3", "--no-train",
                       "--format", "json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == n
    for r in rows:  # the paper's multipliers reproduce its FLOPs column within 8%
        assert r["flops"] / r["paper_flops"] == pytest.approx(1, abs=0.08), r


def test_no_train_table_and_markdown(cli):
    code, out, _ = cli("compare", "--baseline", "mobilenet-v2", "--flops-ratio", "2",
                       "--no-train", "--format", "markdown")
    assert code == 0 and out.startswith("| model | FLOPs")
    assert "scale by depth" in out and "compound (φ=" in out and "top-1" not in out


@pytest.mark.parametrize("args, message", [
    (["--baseline", "resnet50", "--strategies", "depth,height", "--no-train"], "unknown strategy"),
    (["--baseline", "resnet50", "--flops-ratio", "0", "--no-train"], "FLOPs ratio must be"),
    (["--baseline", "resnet50", "--flops-ratio", "1e6", "--no-train"], "FLOPs ratio must be"),
    (["--flops-ratio", "2", "--no-train"], "--baseline"),
    (["--baseline", "resnet50", "--paper-table3"], "add --no-train"),
    (["--baseline", "nope", "--no-train"], "unknown baseline"),
])
def test_bad_input(cli, args, message):
    code, _, err = cli("compare", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_a_network_that_cannot_train_is_a_failed_row():
    """One broken network is recorded with Status.FAILED and its error; the comparison goes on."""
    from scalesearch.comparison.trainable import train_job
    from scalesearch.settings.recipe import ProxySetup
    from scalesearch.util.status import Status

    point = dict(strategy="depth", target_ratio=2.0, depth=2.0, width=1.0, resolution=1.0)
    row = train_job("no_such_module_xyz:NET", point, ProxySetup(), seed=3)
    assert row["status"] is Status.FAILED and row["seed"] == 3
    assert "cannot load baseline" in row["error"]


def test_compare_training_without_a_folder_is_refused():
    from scalesearch.comparison.run import CompareConfig, run_compare
    from scalesearch.errors import ScalesearchError

    with pytest.raises(ScalesearchError, match="output folder"):
        run_compare(CompareConfig("mobilenet-v1", (2.0,), ("depth",)), None, train=True)


TINY = ["--proxy-size", "32", "--num-train", "32", "--num-val", "16", "--epochs", "1",
        "--batch-size", "16"]


@pytest.mark.slow
def test_tiny_trained_comparison_and_plot_regeneration(cli, tmp_path):
    out = tmp_path / "c"
    code, stdout, err = cli("compare", "--baseline", "efficientnet-b0", "--flops-ratio", "2",
                            "--strategies", "width,resolution", "--seeds", "2", "--workers",
                            "2", *TINY, "--out", out)
    assert code == 0, err
    df = pd.read_csv(out / "compare.csv")
    assert len(df) == 6 and set(df["status"]) == {"ok"}
    assert sorted(set(df["strategy"])) == ["baseline", "resolution", "width"]
    assert set(df["seed"]) == {0, 1} and df["top1"].between(0, 100).all()
    assert df.loc[df["strategy"] == "resolution", "proxy_image_size"].iloc[0] > 32
    md = (out / "compare.md").read_text()
    assert "± " in md and "(n=2)" in md
    pngs = ["flops_top1.png", "multiplier_top1.png", "pareto_activations.png"]
    for png in pngs:
        (out / png).unlink()
    code, stdout, _ = cli("plot", out)
    assert code == 0 and all((out / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_plot_on_a_folder_without_csvs(cli, tmp_path):
    code, _, err = cli("plot", tmp_path)
    assert code == 2 and "no compare.csv" in err


def test_studies(cli, tmp_path):
    study = tmp_path / "t3.yaml"
    study.write_text("kind: paper-table3\nbaselines: [mobilenet-v1, resnet50]\n")
    code, out, err = cli("study", study)
    assert code == 0, err
    rows = pd.read_csv(tmp_path / "results" / "t3" / "table3.csv")
    assert list(rows["baseline"].unique()) == ["mobilenet-v1", "resnet50"]
    assert (tmp_path / "results" / "t3" / "table3.png").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: compare\nbaseline: resnet50\nflops_ration: [2]\n")
    code, _, err = cli("study", bad)
    assert code == 2 and "unknown key(s) flops_ration; allowed: " in err
    assert "flops_ratio, " in err and "num_train, " in err  # the compare options, by name


@pytest.mark.slow
def test_tiny_compare_study(cli, tmp_path):
    study = tmp_path / "tiny.yaml"
    study.write_text(TINY_STUDY)
    code, out, err = cli("study", study)
    assert code == 0, err
    folder = tmp_path / "results" / "tiny"
    assert len(pd.read_csv(folder / "compare.csv")) == 2
    assert (folder / "flops_top1.png").exists() and (folder / "compare.md").exists()


@pytest.mark.slow
def test_compare_resume_after_sigkill_loses_and_duplicates_nothing(tmp_path):
    import subprocess
    import sys

    from conftest import kill_when

    out = tmp_path / "c"
    args = [sys.executable, "-m", "scalesearch.cli.main", "compare", "--baseline",
            "efficientnet-b0", "--flops-ratio", "2", "--strategies", "width,resolution",
            "--seeds", "2", "--workers", "1", *TINY, "--out", str(out)]
    kill_when(args, lambda: (out / "compare.csv").exists()
              and len(pd.read_csv(out / "compare.csv")) >= 2)
    before = pd.read_csv(out / "compare.csv")
    assert 2 <= len(before) < 6
    fresh = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 2 and "--resume" in fresh.stderr  # never overwrites silently
    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    after = pd.read_csv(out / "compare.csv")
    keys = list(zip(after["strategy"], after["target_ratio"], after["seed"], strict=True))
    assert len(keys) == len(set(keys)) == 6
    kept = after.merge(before, on=["strategy", "target_ratio", "seed"], suffixes=("", "_b"))
    assert len(kept) == len(before) and (kept["top1"] == kept["top1_b"]).all()
    changed = subprocess.run([*args, "--resume", "--epochs", "2"], capture_output=True,
                             text=True, timeout=300)
    assert changed.returncode == 2 and "different settings" in changed.stderr


def test_pareto_front_minimises_x_and_maximises_y():
    pts = [dict(x=1.0, y=50.0), dict(x=2.0, y=60.0), dict(x=2.0, y=55.0),  # same x, lower y
           dict(x=3.0, y=58.0),  # dominated by (2, 60)
           dict(x=4.0, y=70.0), dict(x=4.0, y=70.0),  # duplicates both stay
           dict(x=0.5, y=float("nan")), dict(x=5.0, y=None)]  # unmeasured: left out
    assert pareto_front(pts, "x", "y") == [0, 1, 4, 5]
    assert pareto_front(pd.DataFrame(pts[:4]), "x", "y") == [0, 1]
    assert pareto_front([dict(x=1.0, y=1.0), dict(x=1.0, y=1.0)], "x", "y") == [0, 1]
    assert pareto_front([], "x", "y") == []


def test_plot_pareto_writes_a_png(tmp_path):
    df = pd.DataFrame(dict(strategy=["baseline", "fast", "compound"], lat=[10.0, 15.0, 20.0],
                           top1=[40.0, 45.0, 44.0], std=[1.0, 0.5, 2.0]))
    paper = pd.DataFrame(dict(strategy=["compound"], lat=[18.0], top1=[77.4]))
    path = plot_pareto(df, "lat", "top1", tmp_path / "p.png", yerr_col="std", paper=paper)
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_markdown_has_activations_and_labels_for_new_strategies(cli):
    code, out, err = cli("compare", "--baseline", "efficientnet-b0", "--flops-ratio", "2",
                         "--strategies", "fast,nonuniform", "--no-train", "--format", "markdown")
    assert code == 0, err
    assert "| activations (ratio) |" in out and "latency" not in out
    assert "fast (s=" in out and "nonuniform (φ=" in out and "; repeats 1-" in out


@pytest.mark.parametrize("line, says", [
    ("seeds: two", "seeds: 'two' is not valid (input should be a valid integer)"),
    ("seeds: [1, 2]", "seeds: [1, 2] is not valid (input should be a valid integer)"),
    ("seeds: 2.7", "seeds: 2.7 is not valid (input should be a valid integer)"),  # not 2
    ("seeds: 0", "--seeds must be a whole number in 1…100, got 0"),  # the CLI's own line
    ("workers: many", "workers: 'many' is not valid"),
    ("latency_batch: x", "latency_batch: 'x' is not valid"),
    ("flops_ratios: 2", "flops_ratios: 2 is not valid (input should be a valid list)"),
    ("flops_ratios: '24'", "flops_ratios: '24' is not valid"),  # not (2, 4)
    ("strategies: 5", "strategies: 5 is not valid"),
    ("coefficients: 1.2", "coefficients: 1.2 is not valid"),
    ("coefficients: [1.2, 1.1]", "coefficients: [1.2, 1.1] is not valid (list should have at "
                                 "least 3 items"),
    ("latency: maybe", "latency: 'maybe' is not valid (input should be a valid boolean)"),
    ("coefficients: [true, true, 1.4142]", "coefficients[0]: True is not valid (input should "
                                           "be a valid number)"),  # true is not α = 1
])
def test_a_study_key_of_the_wrong_type_is_one_line_naming_it(cli, tmp_path, line, says):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"kind: compare\nbaseline: resnet50\n{line}\n")
    code, _, err = cli("study", bad)
    assert code == 2 and says in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "results").exists()


def _bomb(levels: int) -> str:
    """A 'billion laughs' in a string field: 9^levels items from a few lines of aliases."""
    items = "&a0 [x, x, x, x, x, x, x, x, x]"
    for i in range(1, levels):
        items += f", &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]"
    return f"description: [{items}]"


@pytest.mark.parametrize("line, says", [
    (_bomb(5), "YAML aliases (*a0) are not allowed in a study file (line 3)"),  # was 300 KB
    ("description: " + "[" * 2000 + "]" * 2000, "nested more than 20 levels deep (line 3)"),
    ("description: [" + ", ".join(["12345"] * 50_000) + "]",  # a 350 KB line, echoed whole
     "description: [12345, 12345, "),
    ("x" * 1000 + ": 1", "unknown key(s) 'xxxx"),
])
def test_a_study_file_that_expands_or_nests_is_one_short_line(cli, tmp_path, line, says):
    """An alias bomb printed repr(input), 351 MB of stderr at depth 7; 2,000 nested [ gave a
    RecursionError traceback; an error echoes at most 80 characters of a value."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"kind: compare\nbaseline: resnet50\n{line}\n")
    code, _, err = cli("study", bad)
    assert code == 2 and says in err and "Traceback" not in err, err[:500]
    assert len(err.strip().splitlines()) == 1 and len(err) < 600, err[:500]


@pytest.mark.parametrize("kind", ["kind: paper-table3\nbaselines: ['probe_mod:NET']",
                                  "kind: compare\nbaseline: probe_mod:NET"])
def test_a_study_imports_no_module_it_names(cli, tmp_path, monkeypatch, kind):
    """baselines: ['this:s'] imported the standard library's this: a study names a
    registered baseline or a plug-in file, never an importable module."""
    (tmp_path / "probe_mod.py").write_text("open('imported', 'w').close()\nNET = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(f"{kind}\n")
    code, _, err = cli("study", "s.yaml")
    assert code == 2 and "baseline 'probe_mod:NET': a study names a registered baseline" in err
    assert not (tmp_path / "imported").exists() and not (tmp_path / "results").exists()


def test_a_study_says_which_plugin_files_it_runs_before_it_runs_them(cli, tmp_path,
                                                                     monkeypatch):
    (tmp_path / "noisy.py").write_text("import sys\nprint('plug-in ran', file=sys.stderr)\n"
                                       "raise RuntimeError('stop')\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text("kind: paper-table3\nbaselines: [resnet50, noisy.py:NET]\n")
    code, _, err = cli("study", "s.yaml")
    said = f"s.yaml: runs the plug-in file {tmp_path.resolve() / 'noisy.py'}"
    assert code == 2 and said in err and err.index(said) < err.index("plug-in ran"), err


def test_a_table3_study_needs_a_list_of_baselines(cli, tmp_path):
    bad = tmp_path / "t3.yaml"
    bad.write_text("kind: paper-table3\nbaselines: resnet50\n")  # was read letter by letter
    code, _, err = cli("study", bad)
    assert code == 2 and "baselines: 'resnet50' is not valid (input should be a valid list)" in err
