"""Search objectives: plain accuracy, or MnasNet's latency-aware reward (Tan et al., CVPR
2019, Eq. 2), which the EfficientNet-B0 search optimises with FLOPs in place of latency
(EfficientNet §4: ACC(m)·[FLOPS(m)/T]^w, w = −0.07):

    score = top1 · (LAT / T)^w        or        top1 · (FLOPs / T)^w

A network at the target T scores its accuracy; w < 0 discounts slower/larger networks and
rewards faster/smaller ones, softly (twice the latency costs 2^−0.07 ≈ 4.7% of the score).
Pure functions: no I/O, no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from scalesearch.errors import ScalesearchError, check_number

OBJECTIVES = ("accuracy", "mnas")
LATENCY_WEIGHT = -0.07  # MnasNet's soft constraint, EfficientNet §4


@dataclass(frozen=True)
class Objective:
    """What a search ranks candidates by."""

    kind: str = "accuracy"  # "accuracy" (top-1) or "mnas" (top-1 · (cost / target)^weight)
    target_latency_ms: float | None = None  # mnas: T in milliseconds (cost = latency_ms)
    target_flops: float | None = None  # mnas: T in multiply-adds (cost = FLOPs)
    weight: float = LATENCY_WEIGHT  # mnas: the exponent w (MnasNet and EfficientNet: −0.07)

    def __post_init__(self) -> None:
        if self.kind not in OBJECTIVES:
            raise ScalesearchError(f"unknown objective {self.kind!r}; choose from "
                                   f"{', '.join(OBJECTIVES)}")
        targets = [t for t in (self.target_latency_ms, self.target_flops) if t is not None]
        if self.kind == "mnas" and len(targets) != 1:
            raise ScalesearchError("the mnas objective needs exactly one target: a latency "
                                   "(ms) or a FLOPs count")
        if self.kind == "accuracy" and targets:
            raise ScalesearchError("a latency or FLOPs target needs the mnas objective")
        for name, target in (("target latency (ms)", self.target_latency_ms),
                             ("target FLOPs", self.target_flops)):
            check_number(name, target, 0, strict=True, optional=True)
        check_number("latency weight", self.weight)

    @property
    def needs_latency(self) -> bool:
        """Whether the mnas cost is latency (a latency target), not FLOPs."""
        return self.target_latency_ms is not None

    def score(self, top1: float, latency_ms: float | None = None,
              flops: float | None = None) -> float:
        """top1 for ``accuracy``; top1·(LAT/T)^w or top1·(FLOPs/T)^w for ``mnas``."""
        if self.kind == "accuracy":
            return top1
        cost, target, name = (latency_ms, self.target_latency_ms, "latency_ms") \
            if self.needs_latency else (flops, self.target_flops, "flops")
        if cost is None:
            raise ScalesearchError(f"the mnas objective needs {name} for every candidate")
        check_number(name, cost, 0, strict=True)
        return top1 * (cost / target) ** self.weight

    def to_dict(self) -> dict:
        """Plain-JSON form (``Objective(**d)`` rebuilds it)."""
        return asdict(self)
