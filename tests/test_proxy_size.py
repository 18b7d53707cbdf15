"""Property (issue 17): for any ``--proxy-size`` in [1, 64] and every built-in baseline,
``search`` either refuses up front (exit 2, naming the smallest size that works) or every
trial can train. Ray is replaced by what a trial needs first — its proxy image is at least
MIN_IMAGE_SIZE, its data loads, its network runs at that size — and one tiny real training
runs at the smallest size accepted."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalesearch.data import MIN_IMAGE_SIZE, load_data
from scalesearch.scaling.counter import measure
from scalesearch.scaling.registry import resolve
from scalesearch.scaling.scaler import Multipliers
from scalesearch.settings.recipe import ProxySetup, TrainConfig
from scalesearch.training.proxy import proxy_image_size, run_proxy

BASELINES = ["efficientnet-b0", "mobilenet-v1", "mobilenet-v2", "resnet50"]
SMALL_GRID = ["--grid-step", "0.25", "--tolerance", "0.1"]  # a few candidates each
REFUSAL = re.compile(r"--proxy-size (\d+) is too small for .*: a candidate with resolution "
                     r"r=\S+ would train at (\d+) px, below 8 px; the smallest proxy size it "
                     r"can take is (\d+)$")


def _trial_start(trained: list):
    """A stand-in for run_trials: what each trial does before its first step, for real."""
    def run_trials(cfg, space, store, log):
        baseline = resolve(cfg.baseline)
        for c in space.candidates:
            divisor = 1 if c.matched_resolution is not None else None
            size = proxy_image_size(baseline, c.mult, cfg.setup.proxy_size, divisor)
            load_data("synthetic", size, num_train=4, num_val=4)
            measure(baseline, c.mult.depth, c.mult.width, size)  # a forward pass at that size
            trained.append(size)
        return 0
    return run_trials


@pytest.mark.timeout(600)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(proxy=st.integers(1, 64), name=st.sampled_from(BASELINES))
def test_search_refuses_up_front_or_every_trial_trains(cli, tmp_path_factory, monkeypatch,
                                                       proxy, name):
    trained: list[int] = []
    monkeypatch.setattr("scalesearch.coefsearch.session.run_trials", _trial_start(trained))
    out = tmp_path_factory.mktemp("search") / "run"
    code, _, err = cli("search", "--baseline", name, *SMALL_GRID, "--proxy-size", proxy,
                       "--out", out)
    assert "Traceback" not in err
    if code == 2:
        said = REFUSAL.search(err.strip().splitlines()[-1])
        assert said, err
        assert int(said[1]) == proxy and int(said[2]) < MIN_IMAGE_SIZE < int(said[3]) + 3
        assert int(said[3]) > proxy and not trained and not out.exists()
    else:  # the stand-in trained nothing for real, so no candidate "succeeded": exit 1
        assert code == 1 and trained and min(trained) >= MIN_IMAGE_SIZE, err


def test_the_smallest_accepted_size_really_trains():
    """ResNet-50 (total stride 32) at proxy size 6: 8 px images, 1×1 feature maps."""
    net = resolve("resnet50")
    setup = ProxySetup(proxy_size=6, num_train=16, num_val=8,
                       train=TrainConfig(epochs=1, batch_size=8, threads=1))
    row = run_proxy(net, Multipliers(1.0, 1.0, 1.0), setup)
    assert (row["image_size"], row["status"], row["steps"]) == (8, "ok", 2), row
