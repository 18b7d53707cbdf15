"""The one interface every scalable network implements.

A :class:`Scalable` knows its name and base image size and builds an ``nn.Module`` for depth
and width multipliers; resolution is the image size it is fed (Eq. 3's r). Networks written
as a stage table get scaling for free through :class:`TableBaseline`; an arbitrary network
subclasses :class:`Scalable` and implements :meth:`Scalable.build` itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from torch import nn

from scalesearch.scaling.arch import Preset, StageTable
from scalesearch.scaling.scaler import Multipliers, round_image_size, scale_table


class Scalable(ABC):
    """A network that can be built at any (d, w) and fed any resolution r.

    Subclasses set ``name`` and ``image_size`` (the base resolution) and implement
    :meth:`build`. ``presets`` maps names such as ``"b3"`` to hand-rounded scalings.
    """

    name: str = "custom"
    image_size: int = 224
    resolution_divisor: int = 4
    num_classes: int = 1000
    description: str = ""
    presets: Mapping[str, Preset] = MappingProxyType({})

    @abstractmethod
    def build(self, depth: float = 1.0, width: float = 1.0, *, num_classes: int | None = None,
              dropout: float | None = None, drop_path: float | None = None) -> nn.Module:
        """Return the network with its depth multiplied by ``depth`` and widths by ``width``.
        ``dropout``/``drop_path`` override the regularization rates when given (proxy
        training turns them off: a few hundred steps from scratch only suffer from them)."""

    def scaled_image_size(self, resolution: float) -> int:
        """Image size for resolution multiplier r (rounded to ``resolution_divisor``)."""
        return round_image_size(self.image_size, resolution, self.resolution_divisor)

    def stages(self, depth: float = 1.0, width: float = 1.0) -> list[dict] | None:
        """Table-1-style stage rows of the scaled network, when the network has them."""
        return None


class TableBaseline(Scalable):
    """A :class:`Scalable` defined by a stage table; scaling rewrites the table (Eq. 3 +
    reference rounding) and the builder turns it into layers."""

    def __init__(self, table: StageTable, presets: Mapping[str, Preset] | None = None,
                 description: str = ""):
        self.table = table
        self.name = table.name
        self.image_size = table.image_size
        self.resolution_divisor = table.resolution_divisor
        self.num_classes = table.num_classes
        self.presets = MappingProxyType(dict(presets or {}))
        self.description = description

    def scaled(self, depth: float = 1.0, width: float = 1.0, *, num_classes: int | None = None,
               dropout: float | None = None, drop_path: float | None = None) -> StageTable:
        """The scaled stage table (pure: the baseline's table is not touched)."""
        table = scale_table(self.table, Multipliers(depth, width, 1.0))
        changes: dict[str, Any] = dict(num_classes=num_classes, dropout=dropout,
                                       drop_path=drop_path)
        changes = {k: v for k, v in changes.items() if v is not None}
        return replace(table, **changes) if changes else table

    def build(self, depth: float = 1.0, width: float = 1.0, *, num_classes: int | None = None,
              dropout: float | None = None, drop_path: float | None = None) -> nn.Module:
        """Build the scaled stage table (:meth:`scaled`) into layers."""
        from scalesearch.scaling.builder import build

        return build(self.scaled(depth, width, num_classes=num_classes, dropout=dropout,
                                 drop_path=drop_path))

    def stages(self, depth: float = 1.0, width: float = 1.0) -> list[dict]:
        """Table-1-style rows of the scaled stage table."""
        return self.scaled(depth, width).stage_rows()

    def __repr__(self) -> str:
        return f"TableBaseline({self.name!r}, {len(self.table.stages)} stages)"
