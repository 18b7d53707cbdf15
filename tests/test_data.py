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


def _noise_tree(root, counts: dict[str, tuple[int, int]]) -> None:
    """Random-noise photos of mixed sizes: class → (train images, val images)."""
    gen = torch.Generator().manual_seed(0)
    for cls, per_split in counts.items():
        for split, n in zip(("train", "val"), per_split, strict=True):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                h, w = 30 + 7 * (i % 3), 40 - 5 * (i % 2)
                pixels = torch.randint(0, 256, (h, w, 3), generator=gen, dtype=torch.uint8)
                Image.fromarray(pixels.numpy()).save(folder / f"{i}.png")


def _all(split, gen=None, workers=0, batch=5):
    order = torch.arange(len(split)).split(batch)
    xs, ys = zip(*split.batches(order, torch.device("cpu"), gen, workers), strict=True)
    return torch.cat(xs), torch.cat(ys)


def test_a_split_over_the_memory_budget_streams_the_same_images(tmp_path):
    from scalesearch.data import FolderStream, ImageSet

    _noise_tree(tmp_path / "d", {"a": (3, 2), "b": (5, 2), "c": (8, 3)})
    kw = dict(cache_dir=tmp_path / "c", num_train=9)
    memory = load_data(tmp_path / "d", 24, **kw)
    streamed = load_data(tmp_path / "d", 24, max_memory_gb=1e-9, **kw)
    # a budget holding the 9 train images (9·3·27² bytes) but not the val split too
    mixed = load_data(tmp_path / "d", 24, max_memory_gb=9 * 3 * 27**2 / 2**30, **kw)
    assert all(isinstance(s, ImageSet) for s in memory)
    assert all(isinstance(s, FolderStream) for s in streamed)
    assert isinstance(mixed[0], ImageSet) and isinstance(mixed[1], FolderStream)
    for mem, stream in zip(memory, streamed, strict=True):
        assert stream.classes == mem.classes and len(stream) == len(mem)
        assert torch.equal(stream.labels, mem.labels)
        x_mem, y_mem = _all(mem)
        x_stream, y_stream = _all(stream, workers=2)
        assert torch.equal(y_mem, y_stream) and torch.equal(x_mem, x_stream)  # same pixels
    assert torch.bincount(streamed[0].labels).tolist() == [3, 3, 3]


def test_streamed_augmentation_does_not_depend_on_the_worker_count(tmp_path):
    _noise_tree(tmp_path / "d", {"a": (4, 1), "b": (4, 1)})
    train, _ = load_data(tmp_path / "d", 16, max_memory_gb=0.0, cache_dir=tmp_path / "c")
    runs = [_all(train, torch.Generator().manual_seed(7), workers=w, batch=3) for w in (0, 2)]
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][0].shape == (8, 3, 16, 16)
    other = _all(train, torch.Generator().manual_seed(8), batch=3)[0]
    assert not torch.equal(runs[0][0], other)


def test_training_runs_on_a_streamed_split(tmp_path):
    from torch import nn

    from scalesearch.settings.recipe import TrainConfig
    from scalesearch.training.trainer import train_proxy

    _noise_tree(tmp_path / "d", {"a": (6, 2), "b": (6, 2)})
    train, val = load_data(tmp_path / "d", 16, max_memory_gb=0.0, cache_dir=tmp_path / "c")
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    cfg = TrainConfig(epochs=2, batch_size=4, threads=1, loader_workers=2)
    result = train_proxy(model, train, val, cfg)
    assert result.status == "ok" and result.steps == 6 and 0 <= result.top1 <= 100


def test_num_train_subsets_are_class_balanced_and_deterministic(tmp_path):
    _noise_tree(tmp_path / "d", {"a": (3, 1), "b": (5, 1), "c": (8, 1)})

    from scalesearch.data.loader import _load_cached

    def pick(n, seed, budget=None):
        _load_cached.cache_clear()  # a fresh draw each time, not the cached one
        train, _ = load_data(tmp_path / "d", 16, num_train=n, seed=seed, max_memory_gb=budget,
                             cache_dir=tmp_path / "c")
        return train

    assert torch.bincount(pick(6, 0).labels).tolist() == [2, 2, 2]
    assert torch.bincount(pick(7, 0).labels).tolist() == [3, 2, 2]
    assert torch.bincount(pick(11, 0).labels).tolist() == [3, 4, 4]  # a runs out first
    assert [str(f) for f in pick(6, 1, 0.0).files] == [str(f) for f in pick(6, 1, 0.0).files]
    assert torch.equal(_all(pick(6, 1))[0], _all(pick(6, 1, 0.0))[0])  # both paths agree
    picks = {tuple(str(f) for f in pick(6, s, 0.0).files) for s in range(4)}
    assert len(picks) > 1  # the seed chooses which images
