"""A comparison's settings (``scalesearch compare``, ``kind: compare`` studies): the
strategies of Table 3 and Figure 8 at target FLOPs ratios, what they share (α, β, γ, fast
scaling's split, an image-size cap, latency), the proxy training, and where it runs. What it
computes (:meth:`CompareConfig.recipe`) is stored in compare.json; placement and trackers
are not."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from scalesearch.errors import MAX_SEEDS, ScalesearchError, check_whole, check_within
from scalesearch.scaling.scaler import PAPER_COEFFICIENTS, check_coefficients
from scalesearch.settings.fields import nested, plain_numbers, setting
from scalesearch.settings.placement import LatencySpec, Placement, Tracking, latency_field
from scalesearch.settings.recipe import ProxySetup, stored
from scalesearch.util.argtypes import integer, number, read_coefficients

SINGLE = ("depth", "width", "resolution")
PAPER_STRATEGIES = (*SINGLE, "compound")  # Table 3's four: the default of compare
STRATEGIES = (*PAPER_STRATEGIES, "fast", "nonuniform")
FAST_ALPHA = 0.8  # Dollár et al.'s recommended dWr: 80% of the FLOPs growth to width
MAX_RATIO = 256.0  # beyond this the solved networks are not worth counting on a CPU


def parse_strategies(text: str | Iterable[str]) -> tuple[str, ...]:
    """Strategy names from ``"a,b"`` or a list: lower-cased, duplicates dropped, unknown
    ones refused."""
    names = [s.strip().lower() for s in (text.split(",") if isinstance(text, str) else text)]
    unknown = [s for s in names if s not in STRATEGIES]
    if unknown or not names:
        raise ScalesearchError(f"unknown strategy {', '.join(unknown) or '(none)'}; choose from "
                               f"{', '.join(STRATEGIES)}")
    return tuple(dict.fromkeys(names))


def check_ratio(ratio: float) -> None:
    """Refuse a target FLOPs ratio outside [1, :data:`MAX_RATIO`]."""
    check_within("FLOPs ratio", ratio, 1, MAX_RATIO)


@dataclass(frozen=True)
class CompareConfig:
    """One comparison: baseline, target FLOPs ratios, strategies and what they share, seeds,
    the proxy training setup, and where it trains."""

    baseline: str = setting(flag="--baseline", required=True, help="network to scale")
    ratios: tuple[float, ...] = setting(
        (2.0, 4.0), flag="--flops-ratio", type=number, nargs="+", metavar="X",
        help="target FLOPs ratios vs the baseline (default: {default})")
    strategies: tuple[str, ...] | str = setting(
        PAPER_STRATEGIES, flag="--strategies", show=",".join, help="comma-separated subset of "
        f"{','.join(STRATEGIES)} (default: {{default}}; fast and nonuniform: docs/compare.md)")
    coefficients: tuple[float, float, float] | str = setting(
        PAPER_COEFFICIENTS, flag="--coefficients", metavar="JSON", help="α, β, γ for compound "
        "and nonuniform, or a JSON file that holds them (e.g. a search's best.json; default: "
        "the paper's {default})")
    seeds: int = setting(1, flag="--seeds", type=integer, help="trainings per network "
                         "({default})")
    setup: ProxySetup = nested(ProxySetup, group="proxy training")
    placement: Placement = nested(Placement)  # where; never what (not resumed)
    fast_alpha: float = setting(
        FAST_ALPHA, flag="--fast-alpha", type=number, metavar="A", help="fast scaling's share "
        "of the FLOPs growth given to width: w = s^(A/2), d = s^((1-A)/2), r = s^((1-A)/4); 1/3 "
        "is uniform (default: {default})")
    max_image_size: int | None = setting(
        None, flag="--max-image-size", type=integer, metavar="PX", help="cap the image size of "
        "every strategy (EfficientNetV2 caps at 480); growth the cap takes away goes to depth "
        "and width in the strategy's own split (default: no cap)")
    latency: LatencySpec | None = latency_field()
    tracking: Tracking = nested(Tracking)  # trackers also logged to (not resumed)

    def __post_init__(self) -> None:
        plain_numbers(self)
        ratios = (self.ratios,) if isinstance(self.ratios, int | float) else self.ratios
        for r in ratios:
            check_ratio(r)
        object.__setattr__(self, "ratios", tuple(float(r) for r in ratios))
        object.__setattr__(self, "setup", self.placement.on(self.setup.settled(search=False)))
        object.__setattr__(self, "strategies", parse_strategies(self.strategies))
        coefficients = read_coefficients(self.coefficients) \
            if isinstance(self.coefficients, str) else self.coefficients
        check_coefficients(*coefficients)
        object.__setattr__(self, "coefficients", tuple(float(c) for c in coefficients))
        check_within("fast alpha", self.fast_alpha, 0, 1)
        check_whole("--seeds", self.seeds, 1, MAX_SEEDS)
        check_whole("--max-image-size", self.max_image_size, optional=True)

    def recipe(self) -> dict:
        """What a comparison computes, as compare.json stores it and a resume compares it: the
        config without its placement, its trackers and the training's hardware fields."""
        settings = asdict(self)
        settings.pop("placement")
        settings.pop("tracking")
        settings["setup"] = stored(dict(settings["setup"], train=self.setup.train.recipe()))
        return json.loads(json.dumps(settings))
