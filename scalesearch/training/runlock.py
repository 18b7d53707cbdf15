"""The run folder's lock: one run writes into a folder at a time.

A run that writes holds the folder's lock file (``.lock``, its PID inside) for the rest of its
process: ``flock`` refuses a second process, and a per-process table refuses another thread
of this one while the first thread's run is going (:func:`release_lock` ends it). The lock file
is opened with ``O_NOFOLLOW`` and ``O_NONBLOCK``: a link, a FIFO or a folder in its place is
refused in one line, never followed.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from scalesearch.errors import ScalesearchError

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None  # type: ignore[assignment]  # the module or None: each use checks first

def folder_error(out: Path, err: OSError) -> ScalesearchError:
    """An OS error on an output folder (read-only, a name over 255 bytes, a symlink loop, a
    full disk) in one line."""
    reason = err.strerror or str(err)
    return ScalesearchError(f"cannot write output folder {out}: {reason}"
                            + (f" ({err.filename})" if err.filename not in (None, str(out))
                               else ""))



def resolved(out: Path) -> Path:
    """``out`` resolved (the folder the user named may be a link); a symlink loop is an
    OSError (Python < 3.13 raises RuntimeError)."""
    try:
        return out.resolve()
    except RuntimeError:
        raise OSError(errno.ELOOP, "Too many levels of symbolic links", str(out)) from None


LOCK = ".lock"


@dataclass
class _Held:
    fd: int  # the open lock file, flock'ed until this process ends
    owner: int | None  # the thread whose run holds the folder now (None: no run is going)

    def busy(self) -> bool:
        """Whether another live thread's run holds it."""
        return self.owner not in (None, threading.get_ident()) and \
            any(t.ident == self.owner for t in threading.enumerate())


_HELD: dict[Path, _Held] = {}  # lock file -> held lock
_GUARD = threading.Lock()


def _busy(path: Path, fd: int | None = None) -> ScalesearchError:
    pid = str(os.getpid()) if fd is None else \
        os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
    if fd is not None:
        os.close(fd)
    return ScalesearchError(f"{path} is in use by another run (pid {pid}); wait for it or "
                            "choose another --out")


def _lock_of(path: Path) -> Path:
    """The lock file: in the folder resolved, never a link followed."""
    try:
        return resolved(path) / LOCK
    except OSError as err:
        raise folder_error(path, err) from None


def _open_lock(lock: Path, flags: int) -> int | None:
    """Open ``lock`` without following a link or blocking on a FIFO; refuses anything but a
    regular file in one line; None when it does not exist (and ``flags`` does not create)."""
    try:
        fd = os.open(lock, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        return None
    except OSError as err:
        if err.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
            raise folder_error(lock.parent, err) from None
        fd = None
    if fd is None or not stat.S_ISREG(os.fstat(fd).st_mode):
        if fd is not None:
            os.close(fd)
        raise ScalesearchError(f"{lock} is not a regular file (a link, folder or device): a "
                               "run writes its lock only into a file of its own; remove it")
    return fd


def _held_here(lock: Path, path: Path, own: bool) -> bool:
    """Whether this process holds ``lock`` (call under ``_GUARD``); refuses ``path`` while
    another thread's run holds it; ``own``: this thread's run takes it over."""
    held = _HELD.get(lock)
    if held is None:
        return False
    if held.busy():
        raise _busy(path)
    if own:
        held.owner = threading.get_ident()
    return True


def _flock(path: Path, fd: int, how: int) -> None:
    """``flock`` without waiting; refuses ``path`` (closing ``fd``) when another process
    holds it."""
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(path, fd) from None


def probe_lock(path: Path) -> None:
    """Refuse ``path`` when another process, or another thread's run, holds its lock; creates
    and changes nothing."""
    lock = _lock_of(path)
    if fcntl is None:
        return
    with _GUARD:
        if _held_here(lock, path, own=False):
            return
    fd = _open_lock(lock, os.O_RDONLY)
    if fd is not None:
        _flock(path, fd, fcntl.LOCK_SH)
        os.close(fd)  # closing releases the probe's shared lock


def take_lock(path: Path) -> None:
    """Hold ``path``'s lock file (exclusive, with this PID in it) until this process ends; the
    OS releases it when the process dies. A second take by this process is refused while
    another thread's run holds it (:func:`release_lock`), else a no-op."""
    lock = _lock_of(path)
    if fcntl is None:
        return
    with _GUARD:
        if _held_here(lock, path, own=True):
            return
        fd = _open_lock(lock, os.O_RDWR | os.O_CREAT)
        if fd is None:  # the folder went away since start() made it
            raise ScalesearchError(f"output folder {path} went away as the run started")
        _flock(path, fd, fcntl.LOCK_EX)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as err:
            os.close(fd)
            raise folder_error(path, err) from None
        _HELD[lock] = _Held(fd, threading.get_ident())


def release_lock(path: Path) -> None:
    """End this thread's run in ``path``: another thread of this process may start one now
    (the file stays locked against other processes until this one ends)."""
    with _GUARD:
        held = _HELD.get(_lock_of(path))
        if held is not None and held.owner == threading.get_ident():
            held.owner = None


def held() -> set[Path]:
    """The folders this process holds (has started a run in)."""
    with _GUARD:
        return {lock.parent for lock in _HELD}
