"""A comparison's settings (``scalesearch compare``, ``kind: compare`` studies): what it
computes (its recipe, stored in compare.json) and where it runs (placement, trackers)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from scalesearch.cluster import Placement
from scalesearch.comparison.strategies import (
    FAST_ALPHA,
    PAPER_STRATEGIES,
    StrategyOptions,
    check_ratio,
    parse_strategies,
)
from scalesearch.errors import MAX_SEEDS, check_whole
from scalesearch.latency import LatencySpec
from scalesearch.proxy import ProxySetup
from scalesearch.scaler import PAPER_COEFFICIENTS, check_coefficients
from scalesearch.trackers import Tracking


@dataclass(frozen=True)
class CompareConfig:
    """One comparison: baseline, target FLOPs ratios, strategies, seeds and the proxy
    training setup."""

    baseline: str
    ratios: tuple[float, ...] = (2.0, 4.0)
    strategies: tuple[str, ...] = PAPER_STRATEGIES
    coefficients: tuple[float, float, float] = PAPER_COEFFICIENTS
    seeds: int = 1
    setup: ProxySetup = field(default_factory=ProxySetup)
    placement: Placement = field(default_factory=Placement)  # where; never what (not resumed)
    fast_alpha: float = FAST_ALPHA  # fast: share of the FLOPs growth given to width
    max_image_size: int | None = None  # image-size cap (full-size px); the rest goes to d, w
    latency: LatencySpec | None = None  # measure latency_ms of every network when given
    tracking: Tracking = field(default_factory=Tracking)  # trackers also logged to (not resumed)

    def __post_init__(self) -> None:
        ratios = (self.ratios,) if isinstance(self.ratios, int | float) else self.ratios
        for r in ratios:
            check_ratio(r)
        object.__setattr__(self, "ratios", tuple(float(r) for r in ratios))
        object.__setattr__(self, "strategies", parse_strategies(self.strategies))
        check_coefficients(*self.coefficients)
        object.__setattr__(self, "coefficients", tuple(float(c) for c in self.coefficients))
        check_whole("--seeds", self.seeds, 1, MAX_SEEDS)
        check_whole("--max-image-size", self.max_image_size, optional=True)

    def strategy_options(self) -> StrategyOptions:
        """The :class:`StrategyOptions` its strategies share."""
        return StrategyOptions(self.coefficients, self.fast_alpha, self.max_image_size,
                               self.latency)

    def recipe(self) -> dict:
        """What a comparison computes, as compare.json stores it and a resume compares it: the
        config without its placement, its trackers and the training's hardware fields."""
        settings = asdict(self)
        settings.pop("placement")
        settings.pop("tracking")
        settings["setup"]["train"] = self.setup.train.recipe()
        return json.loads(json.dumps(settings))
