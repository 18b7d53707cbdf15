"""Errors a user can cause. The CLI turns each into one line on stderr and exit code 2.

The config dataclasses validate their fields with :func:`check_whole` and :func:`check_number`
in ``__post_init__``, so the CLI and the Python API refuse the same values with the same line.
"""

from __future__ import annotations

import math
import numbers
from typing import TypeGuard

# Upper bounds on counts (README, "Bad input"): far above any real run, low enough that a typo
# such as --seeds 1000000000000 is refused up front instead of exhausting memory or never ending.
MAX_SEEDS = 100
MAX_TRIALS = 10_000  # TPE trials
MAX_WORKERS = 1024  # trainings at once
MAX_CLASSES = 100_000
MAX_GRID_POINTS = 1_000_000  # α × β × γ grid points before the constraint filter
# A network's size, checked before its weights are allocated (scale, every candidate of search
# and compare, load_checkpoint; --force does not lift it): EfficientNet-B7 has 55 blocks,
# 640 channels and 66 M parameters, EfficientNet-L2 480 M.
MAX_BLOCKS = 10_000
MAX_CHANNELS = 100_000  # per layer
MAX_PARAMS = 2_000_000_000  # 8 GB of float32 weights


class ScalesearchError(ValueError):
    """Bad input: unknown baseline, invalid coefficients, unreadable data, conflicting options."""


class WriteError(ScalesearchError):
    """An output the OS would not write (a full disk, a read-only folder): its reason, the
    file's name."""


class RunIncomplete(ScalesearchError):
    """A run that trained but could not write all it should (a full disk): one line, exit 1,
    not 2 — its rows file keeps what finished and ``--resume`` writes the rest."""

    exit_code = 1


class TrainingStopped(ScalesearchError):
    """A search stopped because its training function failed on every candidate of the first
    round: one line, exit 1 like a search none of whose trials trained (trials.csv keeps the
    failed rows), not 2 — it trained, and was refused nothing up front."""

    exit_code = 1


class TooLarge(ScalesearchError):
    """A network beyond :data:`MAX_BLOCKS`, :data:`MAX_CHANNELS` or :data:`MAX_PARAMS`."""


def _real(value: object) -> TypeGuard[float]:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and \
        math.isfinite(value)


def _shown(value: object) -> str:
    """A value as the user wrote it: 256.0001 stays 256.0001 (``:g`` alone showed 256, which
    read as inside the bound it broke)."""
    if not isinstance(value, float):
        return repr(value)
    short = f"{value:g}"
    return short if not math.isfinite(value) or float(short) == value else repr(value)


def as_plain(name: str, value: object) -> object:
    """``value`` with numpy (or other) numbers as Python int / float, in a tuple or list too,
    so JSON can write them; a bool (Python's or numpy's) where a number is meant is refused."""
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):  # numpy's too
        raise ScalesearchError(f"{name} must be a number, got {value!r} (a boolean)")
    if isinstance(value, numbers.Integral) and type(value) is not int:
        return int(value)
    if isinstance(value, numbers.Real) and type(value) not in (int, float):
        return float(value)
    if isinstance(value, tuple | list):
        return type(value)(as_plain(name, v) for v in value)
    return value


def check_whole(name: str, value: object, low: int = 1, high: int | None = None, *,
                optional: bool = False) -> None:
    """Refuse ``value`` unless it is a whole number ≥ ``low`` (and ≤ ``high``), or None when
    ``optional``."""
    if value is None and optional:
        return
    top = math.inf if high is None else high
    if not (_real(value) and value == int(value) and low <= value <= top):
        bound = f"≥ {low}" if high is None else f"in {low}…{high}"
        raise ScalesearchError(f"{name} must be a whole number {bound}, got {_shown(value)}")


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


def check_within(name: str, value: object, low: float, high: float,
                 brackets: str = "[]") -> None:
    """Refuse ``value`` unless it lies in the interval from ``low`` to ``high``, each end
    open or closed as ``brackets`` writes it: "[]", "()", "(]" or "[)"."""
    if _real(value):
        above = value > low if brackets[0] == "(" else value >= low
        below = value < high if brackets[1] == ")" else value <= high
        if above and below:
            return
    raise ScalesearchError(f"{name} must be in {brackets[0]}{low:g}, {high:g}{brackets[1]}, "
                           f"got {_shown(value)}")
