"""scalesearch: compound model scaling (Tan & Le, EfficientNet, ICML 2019) for any network.

    d = α^φ, w = β^φ, r = γ^φ  s.t.  α·β²·γ² ≈ 2   (Eq. 3)
"""

from typing import TYPE_CHECKING

from scalesearch import renamed
from scalesearch.errors import ScalesearchError
from scalesearch.scaling.arch import Head, Preset, Stage, StageTable, Stem
from scalesearch.scaling.checkpoint import load_checkpoint
from scalesearch.scaling.counter import Counts, count, flops_ratio, measure
from scalesearch.scaling.registry import available, resolve
from scalesearch.scaling.scalable import Scalable, TableBaseline
from scalesearch.scaling.scaled import ScaledNetwork, scale
from scalesearch.scaling.scaler import Multipliers, compound, scale_table
from scalesearch.version import __version__

if TYPE_CHECKING:  # what IDEs and type checkers see: the API's own signatures
    from scalesearch.experiments import compare, fidelity, search

__all__ = [
    "Counts", "Head", "Multipliers", "Preset", "Scalable", "ScaledNetwork", "ScalesearchError",
    "Stage", "StageTable", "Stem", "TableBaseline", "__version__", "available", "compare",
    "compound", "count", "fidelity", "flops_ratio", "load_checkpoint", "measure", "resolve",
    "scale", "scale_table", "search",
]


def __getattr__(name: str):
    """The experiments, imported on first use (they pull in Ray, Optuna, the trainer):
    ``scalesearch.search(...)``, ``scalesearch.compare(...)`` and ``scalesearch.fidelity(...)``
    are the functions of :mod:`scalesearch.experiments`, the Python API. A module's name
    from before 0.4 (``scalesearch.arch``) gives its new module, with the DeprecationWarning
    of :mod:`scalesearch.renamed`."""
    if name in ("search", "compare", "fidelity"):
        from scalesearch import experiments

        return getattr(experiments, name)
    if f"scalesearch.{name}" in renamed.MOVED_04:
        import importlib

        return importlib.import_module(f"scalesearch.{name}")
    raise AttributeError(f"module 'scalesearch' has no attribute {name!r}")


renamed.install()  # the subpackages' names before 0.3 (scalesearch.search.*, .compare.*)
