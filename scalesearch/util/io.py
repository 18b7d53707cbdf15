"""Atomic file output: write to a temporary file beside the target, then rename, so an
interrupted run never leaves a half-written result."""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from scalesearch.errors import ScalesearchError, WriteError


def check_target(path: str | Path) -> Path:
    """Refuse a ``path`` that exists and is not a regular file (a device, FIFO, socket or
    folder: the rename would replace it), or whose folder is not one."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there yet (or a dangling link)
        mode = None
    except OSError as err:
        raise ScalesearchError(f"cannot write {path}: {err.strerror}") from err
    if mode is not None and not stat.S_ISREG(mode):
        raise ScalesearchError(f"refusing to write over {path}: not a regular file")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ScalesearchError(f"cannot write {path}: {parent} is not a folder")
    return path


@contextmanager
def atomic_path(path: str | Path):
    """Yield the path of an empty temp file beside ``path`` (for writers that need a name, as
    SQLite does); rename it to ``path`` only if the block succeeds. A target that is not a
    regular file is refused (:func:`check_target`). Nothing is written through a link: the
    temp file is new (``mkstemp``: ``O_EXCL``, a random name), and the rename replaces a link
    at ``path`` instead of following it. An OS error (a full disk, a read-only folder) is one
    line naming ``path``, and leaves the old file."""
    path = check_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise WriteError(f"cannot write {path}: {err.strerror or err}") from err
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would survive the rename
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(f"cannot write {path}: {err.strerror or err}") from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(path: str | Path, mode: str = "w"):
    """Yield a file handle for a temp file; rename it to ``path`` only if the block succeeds
    (:func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[IO], object], mode: str = "w") -> Path:
    """Write ``path`` atomically by calling ``write`` on the open file; return the path."""
    with atomic_open(path, mode) as f:
        write(f)
    return Path(path)


MAX_READ = 1 << 20  # bytes: an input file read whole (coefficients, a study YAML)


def read_small_text(path: str | Path, what: str, limit: int = MAX_READ) -> str:
    """The UTF-8 text of a small input file, refused in one line when it is missing, not a
    regular file (a folder, /dev/zero, a FIFO) or over ``limit`` bytes."""
    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ScalesearchError(f"{what} file {path} is not a regular file")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise ScalesearchError(f"{what} file not found: {path}") from None
    except OSError as err:
        raise ScalesearchError(f"cannot read {what} file {path}: {err.strerror}") from None
    if len(data) > limit:
        raise ScalesearchError(f"{what} file {path} is over {limit:,} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise ScalesearchError(f"{what} file {path} is not UTF-8 text") from None


def json_safe(obj: object) -> object:
    """NaN/inf → None (strict JSON), recursively through dicts and lists."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def write_json(path: str | Path, obj: object) -> Path:
    """Write ``obj`` as indented strict JSON (NaN/inf as null), atomically."""
    return atomic_write(path, lambda f: f.write(json.dumps(json_safe(obj), indent=2) + "\n"))


def write_frame(path: str | Path, frame) -> Path:
    """A pandas DataFrame as CSV without the index (pandas stays the caller's import)."""
    return atomic_write(path, lambda f: frame.to_csv(f, index=False))


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(text))
