"""Errors a user can cause. The CLI turns each into one line on stderr and exit code 2.

The config dataclasses validate their fields with :func:`check_whole` and :func:`check_number`
in ``__post_init__``, so the CLI and the Python API refuse the same values with the same line.
"""

from __future__ import annotations

import math
import numbers


class ScalesearchError(ValueError):
    """Bad input: unknown baseline, invalid coefficients, unreadable data, conflicting options."""


def _real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and \
        math.isfinite(value)


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else repr(value)


def check_whole(name: str, value: object, low: int = 1, *, optional: bool = False) -> None:
    """Refuse ``value`` unless it is a whole number ≥ ``low`` (or None when ``optional``)."""
    if value is None and optional:
        return
    if not (_real(value) and value == int(value) and value >= low):
        raise ScalesearchError(f"{name} must be a whole number ≥ {low}, got {_shown(value)}")


def check_number(name: str, value: object, low: float | None = None, *, strict: bool = False,
                 optional: bool = False) -> None:
    """Refuse ``value`` unless it is a finite number, ≥ ``low`` (> with ``strict``), or None
    when ``optional``."""
    if value is None and optional:
        return
    if _real(value) and (low is None or (value > low if strict else value >= low)):
        return
    bound = "" if low is None else f" {'>' if strict else '≥'} {low:g}"
    raise ScalesearchError(f"{name} must be a finite number{bound}, got {_shown(value)}")
