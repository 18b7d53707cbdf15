"""The one progress channel: every run reports a line per event to a ``log`` callable, by
default :func:`stderr` (results go to stdout, so ``--format json`` output stays parseable)."""

from __future__ import annotations

import sys
from collections.abc import Callable

Log = Callable[[str], None]


def stderr(message: str) -> None:
    """One progress line on stderr."""
    print(message, file=sys.stderr, flush=True)
