"""The run folder: one output folder that one run owns, for search, fidelity and compare.

A :class:`RunFolder` is fresh, or resumed with the same recipe; it holds a marker file
(search.json, fidelity.json, compare.json: the format, the recipe and what the run adds) and a
rows file (trials.csv, compare.csv) that is the run's resume state, kept by a :class:`RowStore`:
every finished row stays, and what is left is what the store does not hold. A run that writes
holds the folder's lock file (``.lock``, its PID inside) for the rest of its process, so a
second run into the same folder is refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from scalesearch.errors import ScalesearchError
from scalesearch.io import write_json
from scalesearch.runfiles import check_json, damaged, parse_json
from scalesearch.status import Status
from scalesearch.version import __version__

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None

# 2 (0.2.0): synchronous halving's paused rows and checkpoints in trials.csv, compare's
# placement kept out of compare.json; 1 (0.1.0, no "format" key): the first release
RUN_FORMAT = 2
READS = {1: "scalesearch 0.1.0"}  # what reads an older format


def marker(config: dict, **extra) -> dict:
    """What a run writes to its marker file: the format, the settings, ``extra``."""
    return dict(format=RUN_FORMAT, version=__version__, config=config, **extra)


def read_marker(path: Path, what: str) -> dict:
    """A marker file of this format, checked against its schema (:mod:`scalesearch.runfiles`);
    refuses an unreadable or reshaped one, or an older format in one line that names the
    version that reads it."""
    saved = parse_json(path)
    if not isinstance(saved, dict) or "config" not in saved:
        raise damaged(path, "no config: not a run folder's marker")
    found = saved.get("format", 1)
    if not isinstance(found, int) or isinstance(found, bool):
        raise damaged(path, f"format is {found!r}, not a whole number")
    if found != RUN_FORMAT:
        reader = READS.get(found, "a newer scalesearch")
        raise ScalesearchError(f"{path.parent} holds a {what} in run-folder format {found}; "
                               f"scalesearch {__version__} reads format {RUN_FORMAT}: continue "
                               f"it with {reader}, or start a new output folder")
    return check_json(path, saved)


def check_out(out: str | Path | None, data: str | None = None) -> None:
    """Refuse an empty ``--out`` (``Path("")`` is the current folder, which it would fill), and
    one inside the ``--data`` folder: its plots would be read as training images next time."""
    if isinstance(out, str) and not out.strip():
        raise ScalesearchError(f"--out {out!r} is empty: name an output folder")
    if out is None or data is None or not Path(data).is_dir():
        return
    inside, root = Path(out).resolve(), Path(data).resolve()
    if inside == root or root in inside.parents:
        raise ScalesearchError(f"--out {out} lies inside --data {data}: the run's images would "
                               "become training data; choose a folder outside it")


def check_folder_path(out: Path) -> None:
    """Refuse an output path that is, or lies under, an existing file (mkdir would raise)."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                raise ScalesearchError(f"output folder {out}: {path} is a file, not a folder")
            return


LOCK = ".lock"
_HELD: dict[Path, int] = {}  # lock file -> open fd, held until this process ends


def _busy(path: Path, fd: int) -> ScalesearchError:
    pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
    os.close(fd)
    return ScalesearchError(f"{path} is in use by another run (pid {pid}); wait for it or "
                            "choose another --out")


def probe_lock(path: Path) -> None:
    """Refuse ``path`` when another process holds its lock; creates and changes nothing."""
    lock = (path / LOCK).resolve()
    if fcntl is None or lock in _HELD or not lock.is_file():
        return
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(path, fd) from None
    os.close(fd)  # closing releases the probe's shared lock


def take_lock(path: Path) -> None:
    """Hold ``path``'s lock file (exclusive, with this PID in it) until this process ends; the
    OS releases it when the process dies. A second take by this process is a no-op."""
    lock = (path / LOCK).resolve()
    if fcntl is None or lock in _HELD:
        return
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(path, fd) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _HELD[lock] = fd


class RowStore:
    """A run's rows file, read when it exists and rewritten atomically on every append, so a
    killed run leaves every finished row and nothing half-written. :meth:`key` is a row's
    identity; a finished row is never replaced, a paused one (halving) is."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.rows: list[dict] = self.read() if self.path.exists() else []

    def key(self, row: dict) -> tuple:
        """A row's identity (a job's too: the row it will write)."""
        raise NotImplementedError

    def read(self) -> list[dict]:
        """The rows stored at ``path``."""
        raise NotImplementedError

    def write(self) -> None:
        """Rewrite ``path`` atomically with :attr:`rows`."""
        raise NotImplementedError

    def done(self) -> set[tuple]:
        """Keys of finished rows (every status but paused)."""
        return {self.key(r) for r in self.rows if r.get("status") != Status.PAUSED}

    def left(self, jobs: Iterable[dict]) -> list[dict]:
        """The ``jobs`` whose row is not finished: what a resume still runs."""
        done = self.done()
        return [j for j in jobs if self.key(j) not in done]

    def append(self, rows: list[dict]) -> None:
        """Add rows; a row replaces a stored paused row of its key, and is skipped when a
        finished one is stored."""
        new = {self.key(r): r for r in self.left(rows)}
        if new:
            self.rows = [r for r in self.rows if self.key(r) not in new] + list(new.values())
            self.write()


class RunFolder:
    """One run's output folder: ``what`` (for messages), its marker file, and its rows file
    kept by ``store`` (a :class:`RowStore` type). :meth:`check` before any work,
    :meth:`start` once the run is sure to go ahead."""

    def __init__(self, path: str | Path, what: str, marker: str, rows: str,
                 store: type[RowStore]):
        self.path, self.what = Path(path), what
        self.marker_path, self.rows_path, self._store = self.path / marker, self.path / rows, store
        self._resume: bool | None = None  # as :meth:`check` was told

    def check(self, recipe: dict, resume: bool) -> None:
        """Refuse a fresh run into a folder holding one (marker or rows file present), and a
        ``resume`` whose recipe differs from the stored one (or that finds nothing), and a
        folder another run holds."""
        check_folder_path(self.path)
        probe_lock(self.path)
        self._resume = resume
        if not resume:
            if self.marker_path.exists() or self.rows_path.exists():
                raise ScalesearchError(f"{self.path} already holds a {self.what}; pass --resume "
                                       "to continue it, or choose another output folder")
            return
        if not self.marker_path.exists():
            raise ScalesearchError(f"nothing to resume: {self.marker_path} not found")
        before = self.saved()["config"]
        now = json.loads(json.dumps(recipe))
        changed = sorted(k for k in now if before.get(k) != now[k])
        if changed:
            raise ScalesearchError(f"--resume with different settings ({', '.join(changed)}) "
                                   f"than the {self.what} in {self.path}; use the same flags "
                                   "or another folder")

    def saved(self) -> dict:
        """The marker file's content (of this format)."""
        return read_marker(self.marker_path, self.what)

    def start(self, recipe: dict, **extra) -> RowStore:
        """Create the folder, write the marker file (the recipe and ``extra``), and return the
        row store: empty when fresh, the stored rows when resumed. Takes the folder's lock
        first, and checks again under it (a run may have started since :meth:`check`)."""
        self.path.mkdir(parents=True, exist_ok=True)
        take_lock(self.path)
        if self._resume is not None:
            self.check(recipe, self._resume)
        write_json(self.marker_path, marker(recipe, **extra))
        return self.store()

    def store(self) -> RowStore:
        """The rows file's store."""
        return self._store(self.rows_path)
