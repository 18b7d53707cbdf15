"""Which files of an ImageFolder tree (``ROOT/{train,val}/<class>/*.jpg|png``) training reads,
and what it leaves out: hidden entries (a name starting with '.', such as
``.ipynb_checkpoints``), entries that are not regular files (broken or looping links, FIFOs:
never opened, so never hung on), other files, images in subfolders of a class folder, and
class folders without images in a split."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from scalesearch.errors import ScalesearchError
from scalesearch.util.fmt import printable

EXTENSIONS = {".jpg", ".jpeg", ".png"}
NAMED = 3  # entries quoted in a warning


def _visible(folder: Path) -> list[Path]:
    return [e for e in sorted(folder.iterdir()) if not e.name.startswith(".")]


def _nested_images(folder: Path) -> list[str]:
    """Image files anywhere below ``folder``, hidden folders and links to folders not entered."""
    found = []
    for top, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(top, n) for n in sorted(names)
                  if not n.startswith(".") and Path(n).suffix.lower() in EXTENSIONS]
    return found


@dataclass(frozen=True)
class Split:
    """One split's class folders: the image files training reads and what it leaves out
    (entries as ``class/name``)."""

    name: str
    images: dict[str, tuple[Path, ...]]  # class folder → its image files, sorted
    not_images: tuple[str, ...]  # regular files without an image extension (never read)
    not_files: tuple[str, ...]  # entries that are not regular files (never opened)
    nested: tuple[str, ...]  # images in subfolders of class folders (ignored)


def list_split(root: Path, split: str) -> Split:
    """Walk ``root/split``; refuses a missing split and one without any image."""
    folder = root / split
    if not folder.is_dir():
        raise ScalesearchError(f"{printable(root)} has no {split}/ folder (expected "
                               f"{printable(root)}/{split}/<class>/*)")
    images: dict[str, list[Path]]
    images, not_images, not_files, nested = {}, [], [], []
    for c in (c for c in _visible(folder) if c.is_dir()):
        images[c.name] = []
        for f in _visible(c):
            name = f"{c.name}/{f.name}"
            if f.is_dir():
                nested += [os.path.relpath(p, folder) for p in _nested_images(f)]
            elif not f.is_file():  # also False for a dangling or looping link
                not_files.append(name)
            elif f.suffix.lower() in EXTENSIONS:
                images[c.name].append(f)
            else:
                not_images.append(name)
    if not any(images.values()):
        raise ScalesearchError(f"{printable(folder)} holds no images (.jpg, .jpeg, .png in "
                               "class folders)")
    return Split(split, {c: tuple(f) for c, f in images.items()}, tuple(not_images),
                 tuple(not_files), tuple(nested))


def _named(names: list[str] | tuple[str, ...]) -> str:
    more = f", … {len(names) - NAMED} more" if len(names) > NAMED else ""
    return ", ".join(map(printable, names[:NAMED])) + more


@dataclass(frozen=True)
class Folder:
    """Both splits; ``classes`` are the class folders with images in both, sorted."""

    root: Path
    train: Split
    val: Split

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(c for c in self.train.images if self.train.images[c] and self.val.images[c])

    @property
    def empty(self) -> tuple[str, ...]:
        """``split/class`` of the class folders without images (their class is left out)."""
        return tuple(f"{s.name}/{c}" for s in (self.train, self.val)
                     for c, files in s.images.items() if not files)

    def files(self, split: str) -> list[tuple[Path, int]]:
        """(path, class index) of one split's images, sorted by class then name."""
        images = (self.train if split == "train" else self.val).images
        return [(f, i) for i, c in enumerate(self.classes) for f in images[c]]

    def notes(self) -> list[str]:
        """Warnings about what the listing leaves out (empty classes, nested images)."""
        notes = []
        if self.empty:
            notes.append(f"class folder(s) without images left out: {_named(self.empty)}")
        nested = [f"{s.name}/{p}" for s in (self.train, self.val) for p in s.nested]
        if nested:
            notes.append(f"{len(nested)} image(s) in subfolders of class folders ignored (only "
                         f"ROOT/split/class/* is read; e.g. {_named(nested)})")
        return notes


def list_folder(root: Path) -> Folder:
    """List ``root``'s train and val splits; refuses class folders that differ between them."""
    if not root.is_dir():
        raise ScalesearchError(f"data folder not found: {printable(root)} (give 'synthetic' or an "
                               "ImageFolder root with train/ and val/)")
    folder = Folder(root, list_split(root, "train"), list_split(root, "val"))
    train, val = set(folder.train.images), set(folder.val.images)
    if train != val:
        raise ScalesearchError(f"train and val classes differ in {printable(root)}: only in "
                               f"train "
                               f"{sorted(train - val) or '-'}, only in val "
                               f"{sorted(val - train) or '-'}")
    return folder
