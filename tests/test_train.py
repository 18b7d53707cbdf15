"""Proxy trainer: it learns, it is deterministic, a diverging run is a failed trial."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from scalesearch.data import ImageSet
from scalesearch.errors import ScalesearchError
from scalesearch.scaling.registry import resolve
from scalesearch.scaling.scaler import Multipliers
from scalesearch.settings.recipe import ProxySetup, TrainConfig
from scalesearch.training.proxy import run_proxy
from scalesearch.training.trainer import ProxyTrainer, recalibrate_bn, train_proxy


def _bright_vs_dark(n: int, seed: int) -> ImageSet:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    base = torch.where(labels.view(n, 1, 1, 1) == 1, 170.0, 70.0)
    images = (base + 40 * torch.randn(n, 3, 16, 16, generator=gen)).clamp(0, 255)
    return ImageSet(images.to(torch.uint8), labels, ("dark", "bright"), 16, augment=False)


def _small_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))


FAST = TrainConfig(epochs=3, batch_size=16, lr=1e-2, threads=1)


def test_learns_an_easy_task():
    torch.manual_seed(0)
    result = train_proxy(_small_cnn(), _bright_vs_dark(128, 0), _bright_vs_dark(64, 1), FAST)
    assert result.status == "ok" and result.steps == 24
    assert result.top1 > 90 and result.loss < math.log(2)
    assert result.images_per_sec > 0


def test_same_seed_same_result():
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        runs.append(train_proxy(_small_cnn(), _bright_vs_dark(64, 0), _bright_vs_dark(32, 1),
                                FAST, seed=5))
    assert (runs[0].top1, runs[0].loss) == (runs[1].top1, runs[1].loss)


class _Diverges(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x.mean((2, 3))) * float("nan")


def test_non_finite_loss_is_a_failed_result_not_an_exception():
    result = train_proxy(_Diverges(), _bright_vs_dark(32, 0), _bright_vs_dark(16, 1), FAST)
    assert result.status == "failed" and result.top1 is None
    assert "non-finite loss" in result.error


def test_recalibrate_bn_uses_the_training_images():
    data = _bright_vs_dark(64, 0)
    model = _small_cnn()
    recalibrate_bn(model, data, FAST, torch.device("cpu"), images=64)
    from scalesearch.data.augment import normalize

    expected = model[0](normalize(data.images)).mean((0, 2, 3))
    assert torch.allclose(model[1].running_mean, expected.detach(), atol=1e-4)


@pytest.mark.parametrize("bad, message", [
    (dict(optimizer="lamb"), "unknown optimizer 'lamb'"),
    (dict(schedule="step"), "unknown schedule 'step'"),
    (dict(epochs=0), "--epochs must be a finite number > 0, got 0"),
    (dict(lr=-1.0), "--lr must be a finite number > 0, got -1"),
    (dict(head_init="xavier"), "unknown head init 'xavier'")])
def test_bad_config(bad, message):
    with pytest.raises(ScalesearchError, match=message):  # refused for this reason, no other
        TrainConfig(**bad)


def test_run_proxy_record():
    setup = ProxySetup(proxy_size=32, num_train=32, num_val=16,
                       train=TrainConfig(epochs=1, batch_size=16, threads=1))
    row = run_proxy(resolve("efficientnet-b0"), Multipliers(1.2, 1.1, 1.15), setup, seed=0)
    assert row["image_size"] == 36 and row["status"] == "ok"
    assert 0 <= row["top1"] <= 100 and row["steps"] == 2
    assert row["params"] > 0 and row["flops"] > 0 and row["depth"] == 1.2


def test_head_init_zero_starts_a_built_in_at_ln_classes(losses_seen):
    """The reference init (uniform ±1/√classes, made for 1,000 classes) starts an 8-class
    B0 far above ln 8; ``--head-init zero`` starts it at ln 8 exactly, and changes nothing
    else of the network (no random draw either)."""
    from scalesearch.data import load_data

    seen = losses_seen
    data, _ = load_data("synthetic", 32, num_train=32, num_val=8)
    trainers = {}
    for head in ("reference", "zero"):
        torch.manual_seed(0)
        model = resolve("efficientnet-b0").build(1.0, 1.0, num_classes=8, dropout=0.0,
                                                 drop_path=0.0)
        cfg = TrainConfig(epochs=1, batch_size=16, threads=1, head_init=head)
        trainers[head] = ProxyTrainer(model, data, data, cfg, seed=3)
    ref, zero = (trainers[h].model.state_dict() for h in ("reference", "zero"))
    assert [k for k in ref if not torch.equal(ref[k], zero[k])] == ["classifier.weight"]
    assert not zero["classifier.weight"].any() and not zero["classifier.bias"].any()
    for head in ("reference", "zero"):
        seen.clear()
        trainers[head].train_epoch()
        assert (seen[0] == pytest.approx(math.log(8), abs=1e-5)) == (head == "zero"), seen[0]
    assert seen[1] != seen[0]  # it trains on from there


def test_head_init_zero_finds_a_custom_networks_last_linear():
    """A network without ``classifier``: its last ``nn.Linear`` is zeroed, the others kept;
    one without any is refused with a clear error."""
    model = _small_cnn()
    conv = model[0].weight.clone()
    ProxyTrainer(model, _bright_vs_dark(32, 0), _bright_vs_dark(16, 1),
                 TrainConfig(epochs=1, batch_size=16, threads=1, head_init="zero"))
    assert not model[5].weight.any() and not model[5].bias.any()
    assert torch.equal(model[0].weight, conv)
    with pytest.raises(ScalesearchError, match="needs a classifier"):
        ProxyTrainer(nn.Sequential(nn.Conv2d(3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
                     _bright_vs_dark(32, 0), _bright_vs_dark(16, 1),
                     TrainConfig(epochs=1, batch_size=16, threads=1, head_init="zero"))


def test_head_init_is_stored_away_from_what_older_folders_trained_with():
    """search.json of a folder written before ``--head-init`` holds no such key: read back it
    is the reference init it trained with, which is not stored (so that folder resumes); zero
    is stored, so a resume with another init is refused."""
    from scalesearch.settings.recipe import ProxySetup

    assert "head_init" not in TrainConfig().recipe()
    assert TrainConfig(head_init="zero").recipe()["head_init"] == "zero"
    old = ProxySetup().to_dict()
    del old["train"]["head_init"]
    assert ProxySetup.from_dict(old).train.head_init == "reference"
    zero = ProxySetup(train=TrainConfig(head_init="zero")).to_dict()
    assert ProxySetup.from_dict(zero).train.head_init == "zero"
