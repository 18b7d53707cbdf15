"""The embedded scenes and the ImageFolder loader (design: docs/data.md)."""

from __future__ import annotations

import warnings

import pytest
import torch
from PIL import Image

from scalesearch.data import check_data, load_data, synthetic
from scalesearch.data.augment import random_resized_crop
from scalesearch.errors import ScalesearchError


def test_synthetic_is_deterministic_and_balanced():
    a, la = synthetic.generate(64, 40, seed=3)
    b, lb = synthetic.generate(64, 40, seed=3)
    c, _ = synthetic.generate(64, 40, seed=4)
    assert torch.equal(a, b) and torch.equal(la, lb)
    assert not torch.equal(a, c)
    assert a.dtype == torch.uint8 and a.shape == (64, 3, 40, 40)
    assert torch.bincount(la, minlength=8).tolist() == [8] * 8


def test_same_scene_at_every_size():
    """A sample is one scene rendered at any size: downsampled 128 px ≈ 64 px render."""
    big, labels_big = synthetic.generate(16, 128, seed=1)
    small, labels_small = synthetic.generate(16, 64, seed=1)
    assert torch.equal(labels_big, labels_small)
    pooled = torch.nn.functional.avg_pool2d(big.float(), 2)
    assert (pooled - small.float()).abs().mean() < 12  # noise and stripe contrast differ only


def _orientation_signal(size: int) -> float:
    """Mean pixel difference between the same scenes drawn with the two stripe orientations."""
    params = synthetic._scene_params(32, torch.Generator().manual_seed(0))
    flipped = dict(params, orient=1 - params["orient"])
    return (synthetic._render(params, size).float()
            - synthetic._render(flipped, size).float()).abs().mean().item()


def test_fine_detail_needs_resolution():
    """Stripes are low-passed away below Nyquist: at 28 px the orientation leaves no trace,
    at 64 px and more it does, increasingly — resolution decides part of the label."""
    signal = {size: _orientation_signal(size) for size in (28, 48, 64, 128)}
    assert signal[28] == 0
    assert 0 < signal[48] < signal[64] < signal[128]


def test_load_synthetic_defaults():
    train, val = load_data("synthetic", 32, num_train=80, num_val=40)
    assert len(train) == 80 and len(val) == 40
    assert train.classes == synthetic.CLASSES and not train.augment
    assert not torch.equal(train.images[:40], val.images)


def _write_tree(root, classes_by_split, n=3, size=(40, 30)):
    for split, classes in classes_by_split.items():
        for ci, cls in enumerate(classes):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", size, (40 * ci, 10 * i, 100)).save(folder / f"{i}.png")


def test_imagefolder_loads_and_caches(tmp_path):
    _write_tree(tmp_path / "d", {"train": ["a", "b"], "val": ["a", "b"]})
    cache = tmp_path / "cache"
    train, val = load_data(tmp_path / "d", 24, cache_dir=cache)
    assert train.classes == ("a", "b") and len(train) == 6 and len(val) == 6
    assert train.images.shape[-1] == round(24 * 1.14) and train.augment
    assert train.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert len(list(cache.glob("*.pt"))) == 2
    capped, _ = load_data(tmp_path / "d", 24, num_train=4, cache_dir=cache)
    assert torch.bincount(capped.labels).tolist() == [2, 2]


@pytest.mark.parametrize("layout, message", [
    ({"train": ["a"]}, "no val/ folder"),
    ({"train": ["a", "b"], "val": ["a", "c"]}, "classes differ"),
])
def test_imagefolder_errors(tmp_path, layout, message):
    _write_tree(tmp_path / "d", layout)
    with pytest.raises(ScalesearchError, match=message):
        load_data(tmp_path / "d", 24, cache_dir=tmp_path / "c")


def test_imagefolder_missing_and_empty(tmp_path):
    with pytest.raises(ScalesearchError, match="not found"):
        load_data(tmp_path / "nope", 24)
    (tmp_path / "e" / "train" / "a").mkdir(parents=True)
    (tmp_path / "e" / "val" / "a").mkdir(parents=True)
    with pytest.raises(ScalesearchError, match="holds no images"):
        load_data(tmp_path / "e", 24)


def test_corrupt_image_is_skipped_with_a_warning(tmp_path):
    _write_tree(tmp_path / "d", {"train": ["a", "b"], "val": ["a", "b"]})
    bad = tmp_path / "d" / "train" / "a" / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train, _ = load_data(tmp_path / "d", 24, cache_dir=tmp_path / "c")
    assert len(train) == 6
    assert any("broken.jpg" in str(w.message) for w in caught)


@pytest.mark.parametrize("broken", ["train", "val"])
def test_a_split_of_only_unreadable_images_is_refused_before_training(tmp_path, broken):
    _write_tree(tmp_path / "d", {"train": ["a", "b"], "val": ["a", "b"]})
    for f in (tmp_path / "d" / broken).rglob("*.png"):
        f.write_bytes(b"not a png")
    with pytest.raises(ScalesearchError, match=f"no readable image in .*{broken} \\(6 files"):
        check_data(str(tmp_path / "d"))
    (tmp_path / "d" / broken / "b" / "ok.png").unlink(missing_ok=True)
    Image.new("RGB", (9, 9)).save(tmp_path / "d" / broken / "b" / "ok.png")
    assert check_data(str(tmp_path / "d")) == ("a", "b")  # one readable image is enough


def test_random_resized_crop_is_seeded():
    x = torch.rand(4, 3, 36, 36)
    a = random_resized_crop(x, 32, torch.Generator().manual_seed(0))
    b = random_resized_crop(x, 32, torch.Generator().manual_seed(0))
    assert a.shape == (4, 3, 32, 32) and torch.equal(a, b)
