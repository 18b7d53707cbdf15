"""ImageFolder splits larger than the memory budget: decoded and augmented batch by batch in
DataLoader worker processes (pinned memory on CUDA, prefetch), never held as one tensor.

A batch is requested by a key (image indices, augmentation seed), so the images a training
sees depend on the trainer's seed only, not on the number of workers."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from scalesearch.data.augment import to_batch
from scalesearch.data.imagefolder import decode

PREFETCH = 4  # batches queued per worker


def default_workers() -> int:
    """DataLoader worker processes: the CPU count, between 1 and 4."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True, eq=False)
class FolderStream:
    """One split read from disk on demand; same fields and batches as the in-memory ImageSet."""

    files: tuple[Path, ...]
    labels: torch.Tensor  # int64 [N]
    classes: tuple[str, ...]
    image_size: int  # what the network sees
    stored: int  # decoded square size (image_size × CROP_MARGIN), the crop margin
    augment: bool = True

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device) -> FolderStream:
        """Itself: batches are moved to ``device`` as they arrive (as ``ImageSet.to`` would)."""
        return self  # batches are moved as they arrive

    def batches(self, order: Iterable[torch.Tensor], device: torch.device,
                gen: torch.Generator | None = None, workers: int | None = None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(images, labels) on ``device`` for each index batch of ``order``; augmented with
        seeds drawn from ``gen`` when given (and the split allows it), else centre-cropped."""
        gen = gen if self.augment else None
        keys = ((idx.tolist(), None if gen is None else
                 int(torch.randint(2**62, (1,), generator=gen))) for idx in order)
        workers = default_workers() if workers is None else workers
        loader = DataLoader(_Decoded(self), sampler=keys, batch_size=None, num_workers=workers,
                            pin_memory=device.type == "cuda",
                            prefetch_factor=PREFETCH if workers else None)
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


class _Decoded(Dataset):
    """key (indices, seed or None) → one normalised float batch and its labels (in a worker)."""

    def __init__(self, split: FolderStream):
        self.split = split

    def __getitem__(self, key: tuple[list[int], int | None]):
        indices, seed = key
        s = self.split
        images = torch.stack([_decode_or_blank(s.files[i], s.stored) for i in indices])
        gen = None if seed is None else torch.Generator().manual_seed(seed)
        return to_batch(images, s.image_size, "cpu", gen), s.labels[indices]


def _decode_or_blank(path: Path, size: int) -> torch.Tensor:
    """Streamed splits are not scanned up front: an unreadable file (warned) becomes grey."""
    image = decode(path, size)
    return torch.full((3, size, size), 128, dtype=torch.uint8) if image is None else image
