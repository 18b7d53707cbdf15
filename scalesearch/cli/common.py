"""Output helpers shared by subcommands (option declarations: :mod:`scalesearch.options`)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from scalesearch.errors import ScalesearchError
from scalesearch.options import (  # noqa: F401 (the subcommands' argument helpers)
    add_hardware_args,
    add_latency_args,
    add_training_args,
    finite_float,
    latency_from_args,
    non_negative_float,
    positive_int,
    setup_from_args,
)


def add_format(parser: argparse.ArgumentParser, choices=("table", "json")) -> None:
    parser.add_argument("--format", choices=choices, default=choices[0],
                        help=f"output format (default: {choices[0]})")


def read_coefficients(path: str) -> tuple[float, float, float]:
    """α, β, γ from a JSON file with top-level keys alpha, beta, gamma (e.g. search's best.json)."""
    try:
        data = json.loads(Path(path).read_text())
        values = tuple(float(data[k]) for k in ("alpha", "beta", "gamma"))
    except FileNotFoundError:
        raise ScalesearchError(f"coefficients file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ScalesearchError(f"coefficients file {path} is not valid JSON: {err}") from None
    except (KeyError, TypeError, ValueError):
        raise ScalesearchError(f"coefficients file {path} needs numeric keys alpha, beta, "
                               "gamma") from None
    if not all(math.isfinite(v) for v in values):
        raise ScalesearchError(f"coefficients in {path} must be finite")
    return values


def print_json(obj: object) -> None:
    from scalesearch.io import json_safe

    json.dump(json_safe(obj), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
