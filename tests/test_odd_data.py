"""Data that is not what it seems (issue 23): a last batch of one image, 16-bit PNGs, empty,
hidden and nested class folders, broken symlinks, FIFOs and decompression bombs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from scalesearch.data import ImageSet
from scalesearch.errors import ScalesearchError
from scalesearch.proxy import ProxySetup
from scalesearch.train import ProxyTrainer, TrainConfig, batches_per_epoch, split_batches

TINY_RUN = TrainConfig(epochs=2, batch_size=4, threads=1, channels_last=False)


def _images(n: int) -> ImageSet:
    gen = torch.Generator().manual_seed(n)
    images = torch.randint(0, 256, (n, 3, 8, 8), generator=gen, dtype=torch.uint8)
    return ImageSet(images, torch.arange(n) % 2, ("a", "b"), 8, augment=False)


def _bn_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


@pytest.mark.parametrize("n", [5, 9, 2, 3, 4])
def test_a_last_batch_of_one_is_merged_and_trains(n):
    trainer = ProxyTrainer(_bn_net(), _images(n), _images(4), TINY_RUN)
    while not trainer.done:
        assert trainer.train_epoch()
    result = trainer.result()
    assert result.status == "ok", result
    assert trainer.seen == 2 * n and result.steps == 2 * batches_per_epoch(n, 4)


def test_split_batches_never_leaves_one_image():
    for n in range(2, 40):
        sizes = [len(b) for b in split_batches(torch.arange(n), 4)]
        assert sum(sizes) == n and min(sizes) >= 2 and len(sizes) == batches_per_epoch(n, 4)


def test_one_training_image_is_refused():
    with pytest.raises(ScalesearchError, match="--num-train must be a whole number ≥ 2, got 1"):
        ProxySetup(num_train=1)
    with pytest.raises(ScalesearchError, match="training needs ≥ 2 images"):
        ProxyTrainer(_bn_net(), _images(1), _images(4), TINY_RUN)
