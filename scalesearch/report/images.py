"""The PNGs a report embeds: only the run folder's own regular files, each checked as a PNG
and capped in size, so a link or a device named like a plot never puts another file into a
page meant to be sent."""

from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

from scalesearch.util.fmt import printable

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CAP = 16 << 20  # bytes embedded per image at most (a plot is ~100 kB)


def _png_file(path: Path, folder: Path) -> bytes:
    """The bytes of ``path``; ValueError saying why it is not a PNG the page may embed."""
    if path.is_symlink():
        raise ValueError("is a symbolic link")
    if not path.resolve().is_relative_to(folder.resolve()):
        raise ValueError("lies outside the run folder")
    try:  # no link followed, no FIFO waited on, even if the file changed since
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        raise ValueError(f"cannot be read ({err.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("is not a regular file")
        if st.st_size > PNG_CAP:
            raise ValueError(f"is over {PNG_CAP:,} bytes")
        data = os.read(fd, PNG_CAP + 1)
    finally:
        os.close(fd)
    if len(data) > PNG_CAP or not data.startswith(PNG_SIGNATURE):
        raise ValueError("is not a PNG image")
    return data


def png_bytes(path: Path, folder: Path) -> bytes | None:
    """The bytes of ``path`` if it is a PNG the page may embed: a regular file, not a link,
    inside ``folder`` (resolved), at most :data:`PNG_CAP` bytes, starting with the PNG
    signature; else None, with a one-line warning (a link named search.png could embed any
    file the user can read, an SSH key, into a page meant to be sent)."""
    try:
        return _png_file(path, folder)
    except ValueError as why:
        warnings.warn(f"left out of report.html: {printable(path)} {why}", stacklevel=2)
        return None


def plots(folder: Path, names: list[str], patterns=("*.png",)) -> list[tuple[str, Path]]:
    """The PNGs of ``folder``: ``names`` first (where present), then any other match; only
    those :func:`png_bytes` embeds."""
    found = [folder / n for n in names if (folder / n).exists() or (folder / n).is_symlink()]
    found += sorted(p for pat in patterns for p in folder.glob(pat) if p not in found)
    return [(p.name, p) for p in found if png_bytes(p, folder) is not None]
