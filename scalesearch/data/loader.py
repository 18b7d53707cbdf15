"""Loading a split: the embedded synthetic scenes or an ImageFolder tree, held in memory as
uint8 (:class:`ImageSet`), or streamed from disk (:class:`FolderStream`) when a split exceeds
the memory budget."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import torch

from scalesearch.data import imagefolder, synthetic
from scalesearch.data.augment import to_batch
from scalesearch.data.listing import list_folder
from scalesearch.data.stream import FolderStream
from scalesearch.errors import ScalesearchError
from scalesearch.util.fmt import printable

SYNTHETIC = "synthetic"
DEFAULT_SYNTHETIC_SIZES = (1000, 400)  # train, val images: minutes on 2 cores
MIN_IMAGE_SIZE = 8  # px: the smallest image a proxy training is fed


@dataclass(frozen=True)
class ImageSet:
    """One split held in memory as uint8 images, with labels and class names."""

    images: torch.Tensor  # uint8 [N, 3, H, W]; H = W ≥ image_size (margin for random crops)
    labels: torch.Tensor  # int64 [N]
    classes: tuple[str, ...]
    image_size: int  # what the network sees
    augment: bool = True  # label-preserving crop/flip allowed (not for the synthetic scenes)

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device) -> ImageSet:
        """The same set held on ``device`` (on a GPU, batches are then cut and augmented there)."""
        return replace(self, images=self.images.to(device), labels=self.labels.to(device))

    def batches(self, order: Iterable[torch.Tensor], device: torch.device,
                gen: torch.Generator | None = None, workers: int | None = None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(images, labels) on ``device`` for each index batch of ``order``; random-resized crops
        drawn from ``gen`` when given (and the set allows it), else centre crops."""
        gen = gen if self.augment else None
        for idx in order:
            idx = idx.to(self.images.device)
            yield (to_batch(self.images[idx], self.image_size, device, gen),
                   self.labels[idx].to(device, non_blocking=True))


AUTO_MEMORY_FRACTION = 0.25  # of the available memory: room for concurrent trials and workers


def available_memory_bytes() -> int:
    """MemAvailable (Linux), else free physical pages, else 4 GiB."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def memory_budget(max_memory_gb: float | None) -> int:
    """Bytes the decoded ImageFolder splits may hold: ``max_memory_gb``, or a quarter of the
    available memory."""
    if max_memory_gb is not None:
        return int(max_memory_gb * 2**30)
    return int(AUTO_MEMORY_FRACTION * available_memory_bytes())


def _subset(files: list, cap: int | None, seed: int) -> list:
    """Deterministic class-balanced subset of at most ``cap`` files (round robin over classes)."""
    if cap is None or cap >= len(files):
        return files
    gen = torch.Generator().manual_seed(seed)
    by_class: dict[int, list] = {}
    for f in files:
        by_class.setdefault(f[1], []).append(f)
    queues = [[group[i] for i in torch.randperm(len(group), generator=gen)]
              for _, group in sorted(by_class.items())]
    picked = [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)][:cap]
    return sorted(picked, key=lambda f: (f[1], str(f[0])))


def _check_readable(files: list, folder: Path) -> None:
    """Decode images of one split until one succeeds (usually the first): a split of only
    unreadable files is refused here, on the driver, not in every trial."""
    with warnings.catch_warnings():  # the loader warns about each bad file; here one line
        warnings.simplefilter("ignore")
        if any(imagefolder.decode(path, 8) is not None for path, _ in files):
            return
    raise ScalesearchError(f"no readable image in {printable(folder)} ({len(files)} files, "
                           f"e.g. {printable(files[0][0].name)}, none decodes as JPEG/PNG)")


def check_data(source: str) -> tuple[str, ...]:
    """Class names of ``source``; raises the loader's errors, and refuses a split where no
    image decodes, before any training."""
    if source == SYNTHETIC:
        return synthetic.CLASSES
    root = Path(source).expanduser().resolve()
    folder = list_folder(root)
    classes = folder.classes
    if len(classes) < 2:
        empty = f"; class folders without images: {', '.join(map(printable, folder.empty))}" \
            if folder.empty else ""
        raise ScalesearchError(f"a classification search needs ≥ 2 classes; {printable(root)} "
                               f"has {len(classes)} ({', '.join(map(printable, classes))}){empty}")
    for split in ("train", "val"):
        _check_readable(folder.files(split), root / split)
    return classes


def split_sizes(source: str, num_val: int | None = None) -> tuple[int | None, int]:
    """(training images available, None when generated; validation images scored)."""
    if source == SYNTHETIC:
        return None, num_val or DEFAULT_SYNTHETIC_SIZES[1]
    folder = list_folder(Path(source).expanduser().resolve())
    train, val = len(folder.files("train")), len(folder.files("val"))
    return train, min(val, num_val or val)


def chance_top1(source: str) -> float:
    """The top-1 (%) of a uniform guess over ``source``'s classes."""
    return 100.0 / len(check_data(source))


@lru_cache(maxsize=16)
def _load_cached(source: str, image_size: int, num_train: int | None, num_val: int | None,
                 seed: int, cache_dir: str | None,
                 max_memory_gb: float | None) -> tuple[ImageSet | FolderStream, ...]:
    if source == SYNTHETIC:
        n_train = num_train or DEFAULT_SYNTHETIC_SIZES[0]
        n_val = num_val or DEFAULT_SYNTHETIC_SIZES[1]
        sets: list[ImageSet | FolderStream] = []
        for n, split_seed in ((n_train, 2 * seed), (n_val, 2 * seed + 1)):
            images, labels = synthetic.generate(n, image_size, seed=split_seed)
            sets.append(ImageSet(images, labels, synthetic.CLASSES, image_size, augment=False))
        return sets[0], sets[1]
    folder = list_folder(Path(source))
    train_classes = folder.classes
    store = imagefolder.stored_size(image_size)
    cache = Path(cache_dir) if cache_dir else imagefolder.default_cache_dir()
    sets, budget = [], memory_budget(max_memory_gb)
    for split, cap in (("train", num_train), ("val", num_val)):
        files = _subset(folder.files(split), cap, seed)
        need = len(files) * 3 * store * store  # decoded uint8 bytes
        if need > budget:
            paths, file_labels = zip(*files, strict=True)
            sets.append(FolderStream(paths, torch.tensor(file_labels), train_classes, image_size,
                                     store))
            continue
        budget -= need
        images, labels = imagefolder.load_split(files, store, cache)
        sets.append(ImageSet(images, labels, train_classes, image_size, augment=True))
    return sets[0], sets[1]


def load_data(source: str, image_size: int, *, num_train: int | None = None,
              num_val: int | None = None, seed: int = 0, cache_dir: str | None = None,
              max_memory_gb: float | None = None) -> tuple[ImageSet | FolderStream, ...]:
    """(train, val) at ``image_size``: ``source`` is "synthetic" (the embedded scenes; sizes
    default to 1000/400) or an ImageFolder root (num_train/num_val cap it, class-balanced).
    An ImageFolder split whose decoded size exceeds the memory budget (``max_memory_gb``, or
    a quarter of the available memory) is a :class:`FolderStream`, read by worker processes."""
    if image_size < MIN_IMAGE_SIZE:
        raise ScalesearchError(f"image size {image_size} px is too small")
    source = SYNTHETIC if source == SYNTHETIC else str(Path(source).expanduser().resolve())
    return _load_cached(source, image_size, num_train, num_val, seed,
                        str(cache_dir) if cache_dir else None, max_memory_gb)


__all__ = ["FolderStream", "ImageSet", "MIN_IMAGE_SIZE", "SYNTHETIC", "check_data", "load_data",
           "memory_budget"]
