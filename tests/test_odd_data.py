"""Data that is not what it seems (issue 23): a last batch of one image, 16-bit PNGs, empty,
hidden and nested class folders, broken symlinks, FIFOs and decompression bombs."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from scalesearch.data import ImageSet, check_data, load_data
from scalesearch.data.imagefolder import decode, to_rgb
from scalesearch.data.scan import report_data, scan_folder
from scalesearch.errors import ScalesearchError
from scalesearch.settings.recipe import ProxySetup, TrainConfig
from scalesearch.training.trainer import ProxyTrainer, batches_per_epoch, split_batches

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


# --- class folders, links, FIFOs and bombs: what the scan skips, training never opens ----------

def _tree(root, layout: dict[str, int]):
    """``{"train/a": 2, …}``: class folders holding that many 12×12 PNGs."""
    for where, count in layout.items():
        (root / where).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.new("RGB", (12, 12), (40 * i, 90, 160)).save(root / where / f"{i}.png")
    return root


TWO = {"train/a": 3, "train/b": 3, "val/a": 2, "val/b": 2}


def test_hidden_folders_are_not_classes(tmp_path):
    _tree(tmp_path, {**TWO, "train/.ipynb_checkpoints": 1, "val/.ipynb_checkpoints": 1,
                     "train/a/.ipynb_checkpoints": 1})
    assert check_data(str(tmp_path)) == ("a", "b")
    lines = []
    report_data(ProxySetup(data=str(tmp_path)), lines.append)
    assert lines == []  # nothing to say: hidden entries are no one's business


def test_an_empty_class_folder_is_not_a_class(tmp_path):
    _tree(tmp_path, {"train/a": 2, "train/b": 0, "val/a": 2, "val/b": 1})
    with pytest.raises(ScalesearchError, match=r"needs ≥ 2 classes; .* has 1 \(a\); class "
                                               r"folders without images: train/b"):
        check_data(str(tmp_path))


def test_an_empty_class_folder_beside_two_others_is_left_out_with_a_warning(tmp_path):
    _tree(tmp_path, {**TWO, "train/c": 0, "val/c": 1})
    assert check_data(str(tmp_path)) == ("a", "b")
    train, val = load_data(str(tmp_path), 8, cache_dir=tmp_path / "cache")
    assert train.classes == ("a", "b") and set(val.labels.tolist()) == {0, 1} and len(val) == 4
    lines = []
    report_data(ProxySetup(data=str(tmp_path)), lines.append)
    assert lines == ["warning: class folder(s) without images left out: train/c"]


def test_images_in_nested_folders_are_counted_in_one_warning(tmp_path):
    _tree(tmp_path, {**TWO, "train/a/sub": 2, "train/a/sub/deeper": 1, "val/b/more": 1})
    lines = []
    report_data(ProxySetup(data=str(tmp_path)), lines.append)
    assert lines == ["warning: 4 image(s) in subfolders of class folders ignored (only "
                     "ROOT/split/class/* is read; e.g. train/a/sub/0.png, train/a/sub/1.png, "
                     "train/a/sub/deeper/0.png, … 1 more)"]
    assert len(load_data(str(tmp_path), 8, cache_dir=tmp_path / "cache")[0]) == 6


def _odd_entries(folder) -> None:
    os.symlink(folder / "missing.png", folder / "dangling.png")
    os.symlink(folder / "loop.png", folder / "loop.png")
    os.mkfifo(folder / "pipe.jpg")


@pytest.mark.timeout(60)  # a FIFO opened would block here forever
def test_links_and_fifos_are_skipped_by_the_scan_and_never_opened(tmp_path):
    _tree(tmp_path, TWO)
    _odd_entries(tmp_path / "train" / "a")
    train, val = scan_folder(str(tmp_path))
    assert (train.checked, train.unreadable) == (6, ())
    assert train.not_files == ("a/dangling.png", "a/loop.png", "a/pipe.jpg")
    assert train.describe().startswith("3 file(s) skipped in train (0 unreadable, 0 not "
                                       "images, 3 not regular files; e.g. a/dangling.png")
    images, _ = load_data(str(tmp_path), 8, cache_dir=tmp_path / "cache")  # the cache key's stat
    assert len(images) == 6
    images, _ = load_data(str(tmp_path), 8, max_memory_gb=1e-9)  # streamed
    assert len(images) == 6


def test_a_decompression_bomb_is_an_unreadable_image(tmp_path, monkeypatch):
    _tree(tmp_path, TWO)
    Image.new("RGB", (40, 40)).save(tmp_path / "train" / "a" / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 1600 px > 2 × 500: PIL raises
    train, _ = scan_folder(str(tmp_path))
    assert train.unreadable == ("a/bomb.png",) and train.checked == 7
