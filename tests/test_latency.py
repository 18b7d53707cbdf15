"""Latency (torch.utils.benchmark, EfficientNet Table 4's batch 1 / one core) and the MnasNet
objective ACC·(LAT/T)^w built on it."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from scalesearch.errors import ScalesearchError
from scalesearch.settings.placement import LatencySpec
from scalesearch.settings.search import LATENCY_WEIGHT, OBJECTIVES, Objective
from scalesearch.training.latency import measure_latency, measure_many


def tiny() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 4))


def test_latency_is_positive_and_restores_threads_and_mode():
    model = tiny().train()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ms = measure_latency(model, 32, batch=2, threads=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert 0 < ms < 1000 and model.training


def test_bigger_input_takes_longer():
    """A 16× larger image does 16× the conv work; even on a busy machine it is slower."""
    model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1))
    small, large = measure_many([(model, 16), (model, 64)], LatencySpec(rounds=2))
    assert 0 < small < large


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch=0), "batch, threads and rounds must be ≥ 1"),
    (dict(threads=0), "batch, threads and rounds must be ≥ 1"),
    (dict(device="tpu"), "latency device must be one of cpu, cuda"),
])
def test_bad_latency_settings(kwargs, message):
    with pytest.raises(ScalesearchError, match=message):
        LatencySpec(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ScalesearchError, match="CUDA is not available"):
        measure_latency(tiny(), 32, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_latency_is_positive():
    assert measure_latency(tiny(), 64, device="cuda") > 0


def test_scale_latency_ms_key_present_and_positive(cli):
    code, out, err = cli("scale", "--baseline", "mobilenet-v2", "--latency", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["latency_ms"] > 0
    assert d["latency"] == dict(batch=1, threads=1, device="cpu")
    code, out, _ = cli("scale", "--baseline", "mobilenet-v2", "--phi", "-1", "--latency")
    assert code == 0 and "latency " in out and "1 thread(s), cpu" in out


def test_compare_latency_column_present_and_positive(cli, tmp_path):
    code, out, err = cli("compare", "--baseline", "mobilenet-v2", "--flops-ratio", "2",
                         "--strategies", "width", "--latency", "--no-train", "--format", "json",
                         "--out", tmp_path)
    assert code == 0, err
    rows = json.loads(out)
    assert [r["strategy"] for r in rows] == ["baseline", "width"]
    assert all(r["latency_ms"] > 0 for r in rows)
    assert rows[0]["latency_ratio"] == 1.0
    assert "latency ms (ratio)" in (tmp_path / "compare.md").read_text()


# The objective: score = top1 · (cost / T)^w (MnasNet Eq. 2; EfficientNet §4, w = −0.07)

def test_accuracy_objective_is_top1():
    assert OBJECTIVES == ("accuracy", "mnas")
    assert Objective().score(71.5, latency_ms=999.0) == 71.5


def test_mnas_score_arithmetic():
    obj = Objective("mnas", target_latency_ms=80.0)
    assert obj.weight == LATENCY_WEIGHT == -0.07
    assert obj.score(75.0, latency_ms=80.0) == pytest.approx(75.0)  # at the target
    assert obj.score(75.0, latency_ms=160.0) == pytest.approx(75.0 * 2 ** -0.07)  # 71.45
    assert obj.score(75.0, latency_ms=160.0) == pytest.approx(71.4478, abs=1e-4)
    assert obj.score(75.0, latency_ms=40.0) == pytest.approx(75.0 * 0.5 ** -0.07)  # > 75
    flops = Objective("mnas", target_flops=4e8, weight=-0.5)
    assert flops.score(60.0, flops=1.6e9) == pytest.approx(30.0)  # 60 · 4^−0.5
    # the trade-off it encodes: 2× latency is worth 1 - 2^−0.07 ≈ 4.7% of accuracy
    assert obj.score(75.0, latency_ms=160.0) > obj.score(71.0, latency_ms=80.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="mnas"), "exactly one target"),
    (dict(kind="mnas", target_latency_ms=10.0, target_flops=1e9), "exactly one target"),
    (dict(kind="mnas", target_latency_ms=-1.0),
     "target latency \\(ms\\) must be a finite number > 0, got -1"),
    (dict(kind="mnas", target_flops=0.0), "target FLOPs must be a finite number > 0, got 0"),
    (dict(kind="accuracy", target_flops=1e9), "needs the mnas objective"),
    (dict(kind="latency"), "unknown objective 'latency'"),
    (dict(kind="mnas", target_flops=1e9, weight=float("nan")),
     "weight must be a finite number, got nan"),
])
def test_objective_validation(kwargs, message):
    with pytest.raises(ScalesearchError, match=message):
        Objective(**kwargs)


def test_mnas_needs_the_cost_it_targets():
    obj = Objective("mnas", target_latency_ms=50.0)
    with pytest.raises(ScalesearchError, match="needs latency_ms"):
        obj.score(70.0, flops=1e9)
    with pytest.raises(ScalesearchError, match="latency_ms must be a finite number > 0"):
        obj.score(70.0, latency_ms=0.0)


def test_objective_to_dict_round_trips():
    obj = Objective("mnas", target_flops=3.9e8)
    d = obj.to_dict()
    assert d == dict(kind="mnas", target_latency_ms=None, target_flops=3.9e8, weight=-0.07)
    assert Objective(**d) == obj
