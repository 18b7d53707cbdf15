"""An output folder that one run owns: fresh, or resumable with the same settings. Shared by
search, fidelity and compare, whose result CSVs are their resume state."""

from __future__ import annotations

import json
from pathlib import Path

from scalesearch.errors import ScalesearchError


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
    try:
        before = json.loads(saved.read_text())["config"]
    except (json.JSONDecodeError, KeyError) as err:
        raise ScalesearchError(f"{saved} is unreadable ({err}); start a new output folder") \
            from None
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
