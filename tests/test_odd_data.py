"""Data that is not what it seems (issue 23): a last batch of one image, 16-bit PNGs, empty,
hidden and nested class folders, broken symlinks, FIFOs and decompression bombs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from scalesearch.data import ImageSet
from scalesearch.data.imagefolder import decode, to_rgb
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


@pytest.mark.parametrize("mode,dtype", [("I;16", "<u2"), ("I;16B", ">u2"), ("I", "<i4")])
def test_16_bit_grey_is_scaled_to_8_bits(tmp_path, mode, dtype):
    ramp = (np.arange(64 * 64).reshape(64, 64) * 16).astype(dtype)  # 0 … 65520
    image = Image.frombuffer(mode, (64, 64), ramp.tobytes(), "raw", mode, 0, 1)
    rgb = np.asarray(to_rgb(image))
    assert rgb.shape == (64, 64, 3) and (rgb[..., 0] == rgb[..., 2]).all()
    assert np.abs(rgb[..., 0].astype(float) - ramp.astype(float) / 257).max() <= 0.5


def test_a_16_bit_png_decodes_as_its_grey_levels(tmp_path):
    ramp = np.repeat((np.arange(64) * 1024).astype(np.uint16)[None], 64, axis=0)  # columns
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    decoded = decode(tmp_path / "g16.png", 64)
    assert decoded.shape == (3, 64, 64)
    expected = torch.tensor(ramp[0] / 257).round()
    assert (decoded[0, 32].float() - expected).abs().max() <= 1  # not all white (255)


def test_splits_cached_by_the_old_decoder_are_not_reused(tmp_path, monkeypatch):
    from scalesearch.data import imagefolder

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    files = [(tmp_path / "a.png", 0)]
    key = imagefolder._cache_key(files, 8)
    monkeypatch.setattr(imagefolder, "DECODER", 1)  # what cached white 16-bit images
    assert imagefolder._cache_key(files, 8) != key
