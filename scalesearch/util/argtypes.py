"""argparse value types: they only read text — every range is the config dataclasses' to check
(:mod:`scalesearch.options`), so the CLI and the Python API refuse alike — and the
coefficients file that ``scale`` and ``compare`` read."""

from __future__ import annotations

import argparse
import json
import math

from scalesearch.errors import ScalesearchError
from scalesearch.util.fmt import parse_duration
from scalesearch.util.io import read_small_text


def integer(text: str) -> int:
    """argparse type: an integer (its range is the config dataclass's to check)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def number(text: str) -> float:
    """argparse type: a float (its range, finiteness included, is the config dataclass's to
    check, so that the CLI and the Python API refuse the same values with the same line)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def duration(text: str) -> float:
    """argparse type: a duration such as 90s, 4m, 2h or 1h30m, in seconds."""
    try:
        return parse_duration(text)
    except ScalesearchError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--budget ")) from None


def finite_float(text: str) -> float:
    """argparse type: a finite float (for ``scale``'s flags, which no dataclass holds)."""
    value = number(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1 (for ``scale``'s flags, which no dataclass holds)."""
    value = integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def value_range(text: str) -> tuple[float, float]:
    """argparse type: ``LOW:HIGH`` as a pair of floats."""
    try:
        lo, hi = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW:HIGH, got {text!r}") from None
    return lo, hi


def read_coefficients(path: str) -> tuple[float, float, float]:
    """α, β, γ from a JSON file with top-level keys alpha, beta, gamma (e.g. search's best.json)."""
    text = read_small_text(path, "coefficients")
    try:
        data = json.loads(text)
        if any(isinstance(data[k], bool) for k in ("alpha", "beta", "gamma")):
            raise TypeError  # JSON true is not 1
        values = (float(data["alpha"]), float(data["beta"]), float(data["gamma"]))
    except json.JSONDecodeError as err:
        raise ScalesearchError(f"coefficients file {path} is not valid JSON: {err}") from None
    except (KeyError, TypeError, ValueError):
        raise ScalesearchError(f"coefficients file {path} needs numeric keys alpha, beta, "
                               "gamma") from None
    if not all(math.isfinite(v) for v in values):
        raise ScalesearchError(f"coefficients in {path} must be finite")
    return values
