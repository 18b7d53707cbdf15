"""Up-front scan of an ImageFolder's files on the driver: which ones training will skip.

The loaders skip an unreadable image (in memory) or feed it as grey (streamed) inside Ray
workers or spawned processes, whose output never reaches the terminal; the scan says it once,
before training, for exactly the files the training will use."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scalesearch.data import imagefolder
from scalesearch.data.listing import list_folder
from scalesearch.data.loader import SYNTHETIC, _subset, check_data
from scalesearch.util.fmt import printable

NAMED = 3  # file names quoted per split


@dataclass(frozen=True)
class SplitScan:
    """One split: image files checked, and the names of the files training skips."""

    split: str
    checked: int  # image files (by extension) the training will read
    unreadable: tuple[str, ...]  # …of which these do not decode
    not_images: tuple[str, ...]  # other files in the class folders (never read)
    not_files: tuple[str, ...] = ()  # broken or looping links, FIFOs, … (never opened)

    @property
    def skipped(self) -> int:
        """Files of the split that training skips (unreadable, not images or not files)."""
        return len(self.unreadable) + len(self.not_images) + len(self.not_files)

    def describe(self) -> str:
        """One line: how many files are skipped and why, naming the first few."""
        names = [*self.unreadable, *self.not_images, *self.not_files]
        more = f", … {len(names) - NAMED} more" if len(names) > NAMED else ""
        odd = f", {len(self.not_files)} not regular files" if self.not_files else ""
        return (f"{self.skipped} file(s) skipped in {self.split} ({len(self.unreadable)} "
                f"unreadable, {len(self.not_images)} not images{odd}; e.g. "
                f"{', '.join(map(printable, names[:NAMED]))}{more})")


def scan_folder(source: str, num_train: int | None = None, num_val: int | None = None,
                seed: int = 0) -> list[SplitScan]:
    """Decode every image the training will use (the same class-balanced subset); [] for
    the synthetic data."""
    if source == SYNTHETIC:
        return []
    folder = list_folder(Path(source).expanduser().resolve())
    scans = []
    for split, cap in (("train", num_train), ("val", num_val)):
        used = _subset(folder.files(split), cap, seed)
        with warnings.catch_warnings():  # the loader warns once per file; here one line
            warnings.simplefilter("ignore")
            bad = tuple(f"{p.parent.name}/{p.name}" for p, _ in used
                        if imagefolder.decode(p, 8) is None)
        listed = getattr(folder, split)
        scans.append(SplitScan(split, len(used), bad, listed.not_images, listed.not_files))
    return scans


def report_data(setup, log: Callable[[str], None]) -> dict:
    """Check ``setup``'s data (:func:`check_data`), then scan it and say on the driver what
    training will skip; returns ``{split: files skipped}`` for the run's records."""
    check_data(setup.data)
    if setup.data != SYNTHETIC:
        for note in list_folder(Path(setup.data).expanduser().resolve()).notes():
            log(f"warning: {note}")
    scans = scan_folder(setup.data, setup.num_train, setup.num_val, setup.data_seed)
    for s in scans:
        if s.skipped:
            log(f"warning: {s.describe()}")
    return {s.split: s.skipped for s in scans}
