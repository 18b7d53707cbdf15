"""An output folder that one run owns: fresh, or resumable with the same settings. Shared by
search, fidelity and compare, whose result CSVs are their resume state; the marker file
(search.json, fidelity.json, compare.json) holds the settings and the folder's format."""

from __future__ import annotations

import json
from pathlib import Path

from scalesearch import __version__
from scalesearch.errors import ScalesearchError

# 2 (0.2.0): synchronous halving's paused rows and checkpoints in trials.csv, compare's
# placement kept out of compare.json; 1 (0.1.0, no "format" key): the first release
RUN_FORMAT = 2
READS = {1: "scalesearch 0.1.0"}  # what reads an older format


def marker(config: dict, **extra) -> dict:
    """What a run writes to its marker file: the format, the settings, ``extra``."""
    return dict(format=RUN_FORMAT, version=__version__, config=config, **extra)


def read_marker(path: Path, what: str) -> dict:
    """A marker file of this format; refuses an unreadable one or an older format in one line
    that names the version that reads it."""
    try:
        saved = json.loads(path.read_text())
        saved["config"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ScalesearchError(f"{path} is unreadable ({err}); start a new output folder") \
            from None
    found = saved.get("format", 1)
    if found != RUN_FORMAT:
        reader = READS.get(found, "a newer scalesearch")
        raise ScalesearchError(f"{path.parent} holds a {what} in run-folder format {found}; "
                               f"scalesearch {__version__} reads format {RUN_FORMAT}: continue "
                               f"it with {reader}, or start a new output folder")
    return saved


def check_run_dir(out: Path, config: dict, resume: bool, marker: str, what: str,
                  state: str) -> None:
    """Refuse a fresh run into a folder holding one (``marker`` or ``state`` file present),
    and a ``resume`` whose settings differ from those stored in ``marker`` under "config"."""
    saved, flag = out / marker, "--resume"
    check_folder_path(out)
    if not resume:
        if saved.exists() or (out / state).exists():
            raise ScalesearchError(f"{out} already holds a {what}; pass {flag} to continue it, "
                                   "or choose another output folder")
        return
    if not saved.exists():
        raise ScalesearchError(f"nothing to resume: {saved} not found")
    before = read_marker(saved, what)["config"]
    now = json.loads(json.dumps(config))
    changed = sorted(k for k in now if before.get(k) != now[k])
    if changed:
        raise ScalesearchError(f"{flag} with different settings ({', '.join(changed)}) than "
                               f"the {what} in {out}; use the same flags or another folder")


def check_folder_path(out: Path) -> None:
    """Refuse an output path that is, or lies under, an existing file (mkdir would raise)."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                raise ScalesearchError(f"output folder {out}: {path} is a file, not a folder")
            return
