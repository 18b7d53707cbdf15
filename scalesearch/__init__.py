"""scalesearch: compound model scaling (Tan & Le, EfficientNet, ICML 2019) for any network.

    d = α^φ, w = β^φ, r = γ^φ  s.t.  α·β²·γ² ≈ 2   (Eq. 3)
"""

from scalesearch.arch import Head, Preset, Stage, StageTable, Stem
from scalesearch.checkpoint import load_checkpoint
from scalesearch.counter import Counts, count, flops_ratio, measure
from scalesearch.errors import ScalesearchError
from scalesearch.registry import available, resolve
from scalesearch.scalable import Scalable, TableBaseline
from scalesearch.scaled import ScaledNetwork, scale
from scalesearch.scaler import Multipliers, compound, scale_table

__version__ = "0.2.0"
__all__ = [
    "Counts", "Head", "Multipliers", "Preset", "Scalable", "ScaledNetwork", "ScalesearchError",
    "Stage", "StageTable", "Stem", "TableBaseline", "available", "compare", "compound", "count",
    "fidelity", "flops_ratio", "load_checkpoint", "measure", "resolve", "scale", "scale_table",
    "search",
]


def __getattr__(name: str):
    """The experiments, imported on first use (they pull in Ray, Optuna, the trainer):
    ``scalesearch.search(...)`` and ``scalesearch.compare(...)`` are their callable
    subpackages, ``scalesearch.fidelity(...)`` a function (:mod:`scalesearch.experiments`)."""
    import importlib

    if name in ("search", "compare"):
        return importlib.import_module(f"scalesearch.{name}")
    if name == "fidelity":
        from scalesearch.experiments import fidelity

        return fidelity
    raise AttributeError(f"module 'scalesearch' has no attribute {name!r}")
