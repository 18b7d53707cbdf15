"""The options of ``search``, ``fidelity``, ``compare``, ``study`` and ``scale --latency``:
the flags are generated from the settings dataclasses' fields (:mod:`scalesearch.settings`),
where each default, flag and help is written once; this module adds the run-level options
(``--out``, ``--resume``, ``--no-train``) and builds the configs from the values, for the CLI
and for the Python API (``scalesearch.search(...)``, ``fidelity(...)``, ``compare(...)``),
which take the same option names (:func:`api_options`). Every range is checked once, by the
dataclasses' ``__post_init__``, so both refuse the same values with the same message.
"""

from __future__ import annotations

import argparse
import warnings

from scalesearch.errors import ScalesearchError
from scalesearch.settings import (
    CompareConfig,
    FidelityConfig,
    Placement,
    SearchConfig,
    Tracking,
)
from scalesearch.settings.fields import add_flags, build, resolve
from scalesearch.settings.placement import Timing

# the Python API's old keyword names (argparse dests before 0.3) → today's option names
RENAMED = {"workers": "max_concurrent", "seed": "sampler_seed"}


def _run_args(p: argparse.ArgumentParser, out: str | None, resume: str) -> None:
    p.add_argument("--out", default=out, help=f"output folder (default: {out or 'none'})")
    p.add_argument("--resume", action="store_true", help=resume)


def add_search_args(p: argparse.ArgumentParser) -> None:
    """Every option of ``scalesearch search`` but --format."""
    _run_args(p, "runs/search", "continue the search in --out without retraining finished "
              "trials")
    add_flags(p, SearchConfig)


def search_config(args: argparse.Namespace | dict) -> SearchConfig:
    """The SearchConfig of the search options."""
    return build(SearchConfig, _values(args))


def add_fidelity_args(p: argparse.ArgumentParser) -> None:
    """Every option of ``scalesearch fidelity`` but RUN_DIR and --format."""
    p.add_argument("--resume", action="store_true", help="continue an interrupted check")
    p.add_argument("--baseline", metavar="SPEC", help="the search's plug-in baseline "
                   "(file.py:NAME or module:attr), named again: retraining imports its code, "
                   "so a folder's plug-in is not run unless you name it (or --trust-baseline)")
    p.add_argument("--train", metavar="SPEC", help="the search's training function file "
                   "(file.py:fn), named again: the reference trains with it, so a folder's "
                   "function is not run unless you name it (or --trust-baseline)")
    p.add_argument("--trust-baseline", action="store_true", help="retrain the plug-in baseline "
                   "(and the training function) RUN_DIR/search.json names without naming it "
                   "(its code is imported)")
    add_flags(p, FidelityConfig, Placement)  # placement for this run, whatever the search used


def fidelity_config(args: argparse.Namespace | dict) -> FidelityConfig:
    """The FidelityConfig of the fidelity options."""
    return build(FidelityConfig, _values(args))


def add_compare_args(p: argparse.ArgumentParser) -> None:
    """Every option of ``scalesearch compare`` but --paper-table3 and --format."""
    p.add_argument("--no-train", action="store_true", help="count only (fast)")
    p.add_argument("--out", help="output folder (needed for training; default: runs/compare)")
    p.add_argument("--resume", action="store_true", help="continue the comparison in --out "
                   "without retraining the networks × seeds compare.csv already holds")
    add_flags(p, CompareConfig)


def compare_config(args: argparse.Namespace | dict) -> CompareConfig:
    """The CompareConfig of the compare options."""
    values = _values(args)
    if values.get("resume") and values.get("no_train"):
        raise ScalesearchError("--resume continues a training run; drop --no-train")
    return build(CompareConfig, values)


def add_study_args(p: argparse.ArgumentParser) -> None:
    """Where ``scalesearch study`` trains and logs: the Placement and Tracking flags."""
    add_flags(p, Placement, Tracking)


def placement_from_args(args: argparse.Namespace | dict) -> Placement:
    """The Placement (Ray and hardware) of the options."""
    return build(Placement, _values(args))


def tracking_from_args(args: argparse.Namespace | dict) -> Tracking:
    """The Tracking of --log-to and --mlflow-uri."""
    return build(Tracking, _values(args))


def add_latency_args(p: argparse.ArgumentParser) -> None:
    """--latency and its LatencySpec flags (``scale``)."""
    add_flags(p, Timing)


def latency_from_args(args: argparse.Namespace | dict):
    """The LatencySpec of --latency*, or None without --latency."""
    return build(Timing, _values(args)).latency


def api_options(given: dict, what: str, *classes: type, **fixed) -> dict:
    """The option values of a Python API call: ``classes``' defaults, overridden by ``given``
    (option names; the old ``workers``, ``seed`` still read, with a DeprecationWarning) and
    ``fixed``; an unknown name is refused."""
    for old in sorted(set(given) & set(RENAMED)):
        warnings.warn(f"{what}({old}=…) is the old name of {RENAMED[old]}=…; it still works "
                      "for now", DeprecationWarning, stacklevel=3)
    return resolve(given, what, *classes, renamed=RENAMED, **fixed)


def _values(args: argparse.Namespace | dict) -> dict:
    return vars(args) if isinstance(args, argparse.Namespace) else args


def option(args: argparse.Namespace | dict, name: str):
    """One run-level option's value (``resume``, ``out``…), None where it was not given."""
    return _values(args).get(name)
