"""The Python API: scalesearch.search / fidelity / compare take the CLI's options (one
declaration, scalesearch.options) and return results with DataFrames and paths."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from winner_check import check_answer

import scalesearch
from scalesearch.errors import ScalesearchError
from scalesearch.options import api_options, search_config
from scalesearch.settings import SearchConfig

TINY = dict(beta_range=(1.0, 1.0), grid_step=0.1, match_flops=False, proxy_size=32,
            num_train=48, num_val=24, epochs=1, batch_size=16, family_phi=1)


def test_api_defaults_are_the_clis(cli):
    from scalesearch.cli.main import build_parser

    args = build_parser().parse_args(["search"])
    api = api_options({}, "search", SearchConfig)
    assert {k: v for k, v in vars(args).items()
            if k not in ("func", "command", "format", "out", "resume")} == api
    assert callable(scalesearch.search) and callable(scalesearch.compare)
    assert scalesearch.fidelity.__module__ == "scalesearch.experiments"
    with pytest.raises(ScalesearchError, match="unknown search option.*sedes.*known:.*seeds"):
        scalesearch.search("efficientnet-b0", sedes=3)


@pytest.mark.slow
def test_search_and_fidelity_from_python(tmp_path):
    out = tmp_path / "s"
    found = scalesearch.search("efficientnet-b0", out=out, log=lambda m: None, **TINY)
    assert found.complete
    check_answer(found.best, found.trials)  # tied set, p_best and winner from trials.csv
    assert isinstance(found.trials, pd.DataFrame) and len(found.trials) == 4  # 2 × 2 seeds
    assert found.best == json.loads((out / "best.json").read_text())
    assert {"trials.csv", "best.json", "search.png"} <= set(found.paths)
    means = found.trials.groupby(["alpha", "gamma"])["top1"].agg(["mean", "count"])
    rank = found.ranking  # both candidates, best mean first, each with its two seeds' mean
    assert list(zip(rank["alpha"], rank["gamma"], strict=True)) == \
        sorted(means.index, key=lambda k: -means.loc[k, "mean"])
    assert list(rank["top1_mean"]) == pytest.approx(sorted(means["mean"], reverse=True))
    assert list(rank["seeds"]) == [2, 2] and set(means["count"]) == {2}
    check = scalesearch.fidelity(out, top=2, random=0, epochs=1, proxy_size=40,
                                 log=lambda m: None)
    assert len(check.candidates) == 2 and isinstance(check.same_winner, bool)
    assert check.paths["result.json"].exists()
    resumed = scalesearch.search("efficientnet-b0", out=out, resume=True, log=lambda m: None,
                                 **TINY)
    assert resumed.coefficients == found.coefficients
    # the same search as a config built in Python: a resume with nothing left to train
    cfg = search_config(api_options(TINY, "search", SearchConfig, baseline="efficientnet-b0"))
    again = scalesearch.search(cfg, out=out, resume=True, log=lambda m: None)
    assert again.coefficients == found.coefficients and again.summary["trials_run"] == 0


def test_compare_from_python_counts_like_the_cli(cli):
    result = scalesearch.compare("mobilenet-v2", flops_ratio=[2], strategies=["width", "fast"],
                                 no_train=True)
    assert list(result.summary["strategy"]) == ["baseline", "width", "fast"]
    assert result.out is None and result.trainings is None and result.paths == {}
    code, out, _ = cli("compare", "--baseline", "mobilenet-v2", "--flops-ratio", "2",
                       "--strategies", "width,fast", "--no-train", "--format", "json")
    keys = ["strategy", "depth", "width", "image_size", "params", "flops"]
    assert code == 0 and [{k: r[k] for k in keys} for r in json.loads(out)] == \
        result.summary[keys].to_dict("records")
    with pytest.raises(ScalesearchError, match="unknown compare option"):
        scalesearch.compare("mobilenet-v2", flops_ratios=[2])


def test_a_config_built_in_python_runs_as_it_is(tmp_path):
    from scalesearch.settings.compare import CompareConfig
    from scalesearch.settings.search import SearchConfig

    cfg = CompareConfig("mobilenet-v2", [2], "width,fast")  # normalised, then checked
    assert cfg.ratios == (2.0,) and cfg.strategies == ("width", "fast")
    direct = scalesearch.compare(cfg, no_train=True, log=lambda m: None)
    flags = scalesearch.compare("mobilenet-v2", flops_ratio=[2], strategies="width,fast",
                                no_train=True, log=lambda m: None)
    pd.testing.assert_frame_equal(direct.summary, flags.summary)
    with pytest.raises(ScalesearchError, match="give a CompareConfig or options \\(seeds\\)"):
        scalesearch.compare(cfg, seeds=3, no_train=True)
    with pytest.raises(ScalesearchError, match="give a SearchConfig or options \\(epochs\\)"):
        scalesearch.search(SearchConfig("resnet50"), epochs=3, out=tmp_path / "s")
    with pytest.raises(ScalesearchError, match="--seeds must be a whole number in 1…100, got 0"):
        CompareConfig("mobilenet-v2", seeds=0)
    assert not (tmp_path / "s").exists()


def test_the_old_subpackage_paths_still_import_with_a_deprecation_warning():
    """Issue 25 item 4: scalesearch.search / .compare are the API functions (with their own
    signatures); the subpackages' names before 0.3 resolve to the same module objects, warn,
    and leave the API callable."""
    import importlib
    import inspect
    import sys

    from scalesearch.comparison import summary
    from scalesearch.settings import compare as compare_settings
    from scalesearch.settings import search as config

    assert "baseline" in inspect.signature(scalesearch.search).parameters  # not a module
    assert scalesearch.compare.__module__ == "scalesearch.experiments"
    old_names = ("scalesearch.search", "scalesearch.compare")
    try:
        for name in [n for n in sys.modules if n.startswith(old_names)]:
            del sys.modules[name]  # as in a fresh process
        with pytest.warns(DeprecationWarning, match="scalesearch.search.config was renamed "
                                                    "scalesearch.coefsearch.config"):
            old = importlib.import_module("scalesearch.search.config")
        assert old is config and old.SearchConfig is config.SearchConfig
        with pytest.warns(DeprecationWarning, match="scalesearch.comparison.config was "
                                                    "renamed scalesearch.settings.compare"):
            from scalesearch.comparison.config import CompareConfig
        assert CompareConfig is compare_settings.CompareConfig
        with pytest.warns(DeprecationWarning, match="renamed scalesearch.comparison"):
            from scalesearch.compare.summary import markdown
        assert markdown is summary.markdown
        with pytest.raises(ScalesearchError, match="unknown search option"):  # still callable
            scalesearch.search("efficientnet-b0", sedes=3)
    finally:  # the old names bound on the package: gone, for the tests after this one
        for name in old_names:
            vars(scalesearch).pop(name.rsplit(".", 1)[1], None)
        for name in [n for n in sys.modules if n.startswith(old_names)]:
            del sys.modules[name]
