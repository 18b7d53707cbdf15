"""The run folder: one output folder that one run owns, for search, fidelity and compare.

A :class:`RunFolder` is fresh, or resumed with the same recipe; it holds a marker file
(search.json, fidelity.json, compare.json: the format, the recipe and what the run adds) and a
rows file (trials.csv, compare.csv) that is the run's resume state, kept by a :class:`RowStore`:
every finished row stays, and what is left is what the store does not hold. A run that writes
holds the folder's lock (:mod:`.runlock`) until :meth:`RunFolder.release`.

A run writes only into a folder that is new, empty or its own kind's (another tool's files and
another kind of run are refused), and never through a symbolic link it did not create: files
are replaced atomically (:mod:`scalesearch.util.io`), the lock file is opened with ``O_NOFOLLOW``,
and a resumed folder holding a link is refused. An OS error on the folder (read-only, a path
too long, a symlink loop) is one line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from scalesearch.errors import ScalesearchError
from scalesearch.training.runfiles import check_json, damaged, parse_json
from scalesearch.training.runlock import (
    LOCK,
    folder_error,
    probe_lock,
    release_lock,
    resolved,
    take_lock,
)
from scalesearch.util.io import write_json
from scalesearch.util.status import Status
from scalesearch.version import __version__

# 2 (0.2.0): synchronous halving's paused rows and checkpoints in trials.csv, compare's
# placement kept out of compare.json; 1 (0.1.0, no "format" key): the first release
RUN_FORMAT = 2
READS = {1: "scalesearch 0.1.0"}  # what reads an older format


def marker(config: dict, **extra) -> dict:
    """What a run writes to its marker file: the format, the settings, ``extra``."""
    return dict(format=RUN_FORMAT, version=__version__, config=config, **extra)


def read_marker(path: Path, what: str) -> dict:
    """A marker file of this format, checked against its schema (:mod:`.runfiles`); refuses
    an unreadable or reshaped one, or an older format in one line that names the version that
    reads it."""
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
    """Refuse an output path that is, or lies under, an existing file (mkdir would raise), or
    that the OS cannot use (a name too long, a symlink loop)."""
    try:
        for path in (out, *out.parents):
            if path.exists():
                if not path.is_dir():
                    raise ScalesearchError(f"output folder {out}: {path} is a file, not a "
                                           "folder")
                break
        resolved(out)
    except OSError as err:
        raise folder_error(out, err) from None


MARKERS = {"search.json": "search", "fidelity.json": "fidelity check",
           "compare.json": "comparison"}  # marker file -> the kind of run it marks


def check_only(path: Path, names: Iterable[str], what: str) -> None:
    """Refuse ``path`` when it holds anything but ``names`` (and their temp files, that a
    killed atomic write leaves), naming a few of what is there: a folder of someone else's."""
    names = tuple(names)
    temps = tuple(f".{n}." for n in names)
    found = [n for n in _entries(path) if n not in names and not n.startswith(temps)]
    if found:
        shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        raise ScalesearchError(f"{path} is not empty ({shown}) and holds no {what}: choose a "
                               "new or empty output folder")


def _entries(path: Path) -> list[str]:
    """The names in ``path`` (none when it does not exist yet)."""
    try:
        return sorted(p.name for p in path.iterdir())
    except FileNotFoundError:
        return []
    except OSError as err:
        raise folder_error(path, err) from None


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


def _differ(before, now, path: str) -> list[str]:
    """Where two stored settings differ, as dotted paths (``setup.train.head_init``)."""
    if isinstance(before, dict) and isinstance(now, dict):
        return [p for k in sorted(set(before) | set(now))
                for p in _differ(before.get(k), now.get(k), f"{path}.{k}")]
    return [] if before == now else [path]


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
        """Refuse what :meth:`check_place` refuses, and a ``resume`` whose recipe differs from
        the stored one."""
        self.check_place(resume)
        if resume:
            self.check_same(recipe)

    def check_place(self, resume: bool) -> None:
        """Refuse a fresh run into a folder holding one (marker or rows file present) or
        anything else but an unfinished start's lock, a folder of another kind of run, a
        ``resume`` that finds nothing or a link in the folder, and a folder another run holds:
        after it, :meth:`saved` may be read."""
        check_folder_path(self.path)
        probe_lock(self.path)
        self._resume = resume
        self._check_kind()
        if not resume:
            if self.marker_path.exists() or self.rows_path.exists():
                raise ScalesearchError(f"{self.path} already holds a {self.what}; pass --resume "
                                       "to continue it, or choose another output folder")
            self._check_empty()
            return
        if not self.marker_path.exists():
            raise ScalesearchError(f"nothing to resume: {self.marker_path} not found")
        self._check_links()

    def check_same(self, recipe: dict) -> None:
        """Refuse a resume whose recipe differs from the stored one (after
        :meth:`check_place`)."""
        before = self.saved()["config"]
        now = json.loads(json.dumps(recipe))
        changed = sorted(p for k in now for p in _differ(before.get(k), now[k], k))
        if changed:
            raise ScalesearchError(f"--resume with different settings ({', '.join(changed)}) "
                                   f"than the {self.what} in {self.path}; use the same flags "
                                   "or another folder")

    def _check_kind(self) -> None:
        """Refuse a folder holding another kind of run (a compare into a search's folder), and
        a sub-folder of a run folder that is a link (RUN_DIR/fidelity made by someone else)."""
        for name, what in MARKERS.items():
            if name != self.marker_path.name and (self.path / name).exists():
                raise ScalesearchError(f"{self.path} holds a {what}, not a {self.what}; choose "
                                       "another output folder")
        if self.path.is_symlink() and any((self.path.parent / m).exists() for m in MARKERS):
            raise ScalesearchError(f"{self.path} is a symbolic link inside a run folder: a run "
                                   "writes only into folders it creates; remove it")

    def _check_empty(self) -> None:
        """Refuse a folder holding files no run of this project wrote (a killed start leaves
        only its lock file, or that and a temp marker)."""
        check_only(self.path, (LOCK, self.marker_path.name), self.what)

    def _check_links(self) -> None:
        """Refuse a resumed folder holding a symbolic link anywhere: the run writes fixed names
        into its sub-folders too (checkpoints/, tensorboard/, mlruns/mlflow.db) and would
        follow it out of the folder."""
        for folder, dirs, files in os.walk(self.path):
            link = next((n for n in sorted(dirs + files) if os.path.islink(Path(folder, n))),
                        None)
            if link is not None:
                raise ScalesearchError(f"{Path(folder, link)} is a symbolic link: a run folder "
                                       "holds none (a run would write through it); remove it")

    def saved(self) -> dict:
        """The marker file's content (of this format)."""
        return read_marker(self.marker_path, self.what)

    def start(self, recipe: dict, **extra) -> RowStore:
        """Create the folder, write the marker file (the recipe and ``extra``), and return the
        row store: empty when fresh, the stored rows when resumed. Takes the folder's lock
        first, and checks again under it (a run may have started since :meth:`check`); call
        :meth:`release` when the run ends."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise folder_error(self.path, err) from None
        take_lock(self.path)
        try:
            if self._resume is not None:
                self.check(recipe, self._resume)
            write_json(self.marker_path, marker(recipe, **extra))
        except BaseException:
            self.release()
            raise
        return self.store()

    def release(self) -> None:
        """The run in this folder has ended (:func:`release_lock`)."""
        release_lock(self.path)

    def store(self) -> RowStore:
        """The rows file's store."""
        return self._store(self.rows_path)
