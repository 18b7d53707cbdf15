"""Layer 2: what a run is made of, and the maps its choices name (the schedulers of
:mod:`~scalesearch.settings.schedulers`, the trackers of :mod:`~scalesearch.settings.trackers`).
May import scaling/, data/, util/ and errors.

Every run's settings, each default written once on its dataclass field together with its
flag and help (:mod:`~scalesearch.settings.fields`), split by concern:

- :mod:`~scalesearch.settings.recipe` — what one proxy training computes (``TrainConfig``,
  ``ProxySetup``) and the ``Hardware`` it uses;
- :mod:`~scalesearch.settings.placement` — where it runs (``Placement``: Ray and hardware),
  the trackers it logs to (``Tracking``) and how latency is timed (``LatencySpec``);
- :mod:`~scalesearch.settings.search` — a φ=1 search (``SearchConfig``: ``Ranges``,
  ``Objective``) and its fidelity check (``FidelityConfig``);
- :mod:`~scalesearch.settings.compare` — a comparison of strategies (``CompareConfig``).

The CLI's flags are generated from these fields, the Python API and study YAML take the same
option names, and every value is checked once, in the dataclass's ``__post_init__``.
"""

from scalesearch.settings.compare import CompareConfig
from scalesearch.settings.placement import LatencySpec, Placement, Tracking
from scalesearch.settings.recipe import Hardware, ProxySetup, TrainConfig
from scalesearch.settings.search import FidelityConfig, Objective, Ranges, SearchConfig

__all__ = ["CompareConfig", "FidelityConfig", "Hardware", "LatencySpec", "Objective",
           "Placement", "ProxySetup", "Ranges", "SearchConfig", "Tracking", "TrainConfig"]
