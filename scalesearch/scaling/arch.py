"""A network as data: a stage table in the layout of the paper's Table 1.

A :class:`StageTable` is the single source of truth for a built-in network: the module is
built from it (:mod:`scalesearch.scaling.builder`), scaling rewrites it
(:mod:`scalesearch.scaling.scaler`), the counter measures the module built from it, and the
CLI prints it. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from scalesearch.errors import MAX_BLOCKS, MAX_CHANNELS, ScalesearchError, TooLarge

ACTIVATIONS = ("relu", "relu6", "silu")


def _count(n: float) -> str:
    """A count for a message: 12,345, or 1.6e+53 where the digits would fill the line."""
    return f"{n:,.0f}" if n < 1e12 else f"{n:.2g}"


@dataclass(frozen=True)
class Stage:
    """One row of Table 1: ``repeats`` blocks of one type producing ``channels`` channels.

    The first block of the stage has ``stride``; the others stride 1. ``expand`` is the
    inner-width ratio of the block (MBConv: inner = input × expand, as "MBConv6";
    bottleneck: inner = output × expand, 0.25 in ResNet). ``se`` is the squeeze-and-excitation
    ratio relative to the block's input channels (0 = no SE).
    """

    block: str
    repeats: int
    channels: int
    kernel: int = 3
    stride: int = 1
    expand: float = 1.0
    se: float = 0.0

    def __post_init__(self) -> None:
        if self.repeats < 1 or self.channels < 1 or self.kernel < 1 or self.stride < 1:
            raise ScalesearchError(f"repeats, channels, kernel and stride must be ≥ 1: {self}")
        if self.expand <= 0 or not 0 <= self.se <= 1:
            raise ScalesearchError(f"expand must be > 0 and se in [0, 1]: {self}")


@dataclass(frozen=True)
class Stem:
    """Stage 1 of Table 1: a strided conv (+ BN + act), optionally followed by a 3×3 max-pool."""

    channels: int
    kernel: int = 3
    stride: int = 2
    pool: bool = False


@dataclass(frozen=True)
class Head:
    """The last row of Table 1: optional 1×1 conv to ``channels``, global pooling, dropout, FC.

    ``channels=None`` means no head conv (MobileNetV1, ResNet). ``shrink=False`` keeps the
    head width for width multipliers below 1 (MobileNetV2 scales its 1280 head only for w > 1).
    """

    channels: int | None = None
    shrink: bool = True


@dataclass(frozen=True)
class StageTable:
    """A whole network: stem, stages, head, and the settings that are not scaled by shape."""

    name: str
    stem: Stem
    stages: tuple[Stage, ...]
    head: Head = field(default_factory=Head)
    image_size: int = 224
    num_classes: int = 1000
    act: str = "relu"
    dropout: float = 0.0
    drop_path: float = 0.0  # max stochastic-depth rate, linear over the block index
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1
    divisor: int = 8  # channels are rounded to multiples of this
    resolution_divisor: int = 4  # image sizes are rounded to multiples of this

    def __post_init__(self) -> None:
        if self.act not in ACTIVATIONS:
            raise ScalesearchError(f"unknown activation {self.act!r}; expected one of "
                                   f"{ACTIVATIONS}")
        if not self.stages:
            raise ScalesearchError(f"stage table {self.name!r} needs at least one stage")
        object.__setattr__(self, "stages", tuple(self.stages))

    @property
    def num_blocks(self) -> int:
        """Total blocks over all stages (the sum of their repeats)."""
        return sum(s.repeats for s in self.stages)

    def check_size(self) -> None:
        """Refuse a table of more than :data:`~scalesearch.errors.MAX_BLOCKS` blocks or a layer
        wider than :data:`~scalesearch.errors.MAX_CHANNELS`, from its numbers alone (a scaled
        table of 10⁷ repeats would take hours to build)."""
        widest = max(self.stem.channels, self.head.channels or 0,
                     *(s.channels * max(1.0, s.expand) for s in self.stages))
        if self.num_blocks > MAX_BLOCKS or widest > MAX_CHANNELS:
            raise TooLarge(
                f"{self.name}: {_count(self.num_blocks)} blocks, {_count(widest)} channels in "
                f"its widest layer: beyond the size scalesearch builds ({MAX_BLOCKS:,} blocks, "
                f"{MAX_CHANNELS:,} channels); scale by less")

    def to_dict(self) -> dict:
        """Plain-JSON form (inverse of :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> StageTable:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        return cls(
            **{k: v for k, v in d.items() if k not in ("stem", "stages", "head")},
            stem=Stem(**d["stem"]),
            stages=tuple(Stage(**s) for s in d["stages"]),
            head=Head(**d.get("head", {})),
        )

    def stage_rows(self) -> list[dict]:
        """Table-1-style rows (stem and head included)."""
        rows = [dict(stage="stem", block="conv", repeats=1, channels=self.stem.channels,
                     kernel=self.stem.kernel, stride=self.stem.stride)]
        for i, s in enumerate(self.stages, start=1):
            rows.append(dict(stage=str(i), block=s.block, repeats=s.repeats, channels=s.channels,
                             kernel=s.kernel, stride=s.stride, expand=s.expand, se=s.se))
        if self.head.channels:
            rows.append(dict(stage="head", block="conv", repeats=1, channels=self.head.channels,
                             kernel=1, stride=1))
        return rows


@dataclass(frozen=True)
class Preset:
    """A named, hand-rounded scaling of a baseline (e.g. EfficientNet-B3 in Table 2)."""

    depth: float
    width: float
    image_size: int
    dropout: float | None = None
