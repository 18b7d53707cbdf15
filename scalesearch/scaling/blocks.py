"""The block types a stage table can name, registered by name for the builder.

Every block is constructed as ``Block(in_channels, stage, stride, ctx)``; a new baseline
needs at most one new block type registered with :func:`register_block`. Each block declares
in ``fields`` which optional :class:`~scalesearch.scaling.arch.Stage` fields it reads, so a
table that sets one it would silently ignore (``se`` on ``dsconv``) is refused by
:func:`check_fields`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn

from scalesearch.errors import ScalesearchError
from scalesearch.scaling.arch import Stage, StageTable

_ACTS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "relu6": lambda: nn.ReLU6(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
}
BLOCKS: dict[str, type[nn.Module]] = {}
# Stage fields a block may or may not read; every block reads block, repeats and channels.
OPTIONAL_FIELDS = {f.name: f.default for f in dataclasses.fields(Stage)
                   if f.name not in ("block", "repeats", "channels")}


def register_block(name: str):
    """Class decorator: make ``name`` usable as ``Stage.block``. The class declares the
    optional Stage fields it reads, e.g. ``fields = {"kernel", "stride"}``."""

    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        declared = getattr(cls, "fields", None)
        if not isinstance(declared, set | frozenset) or declared - OPTIONAL_FIELDS.keys():
            raise ScalesearchError(
                f"block {name!r} must declare fields, a subset of {sorted(OPTIONAL_FIELDS)} "
                f"(got {declared!r})")
        BLOCKS[name] = cls
        return cls

    return deco


def check_fields(table: StageTable) -> None:
    """Refuse a stage that names an unknown block or sets a field (to other than its default)
    that its block does not read; stages are numbered as in ``StageTable.stage_rows``."""
    unknown = sorted({s.block for s in table.stages} - BLOCKS.keys())
    if unknown:
        raise ScalesearchError(f"unknown block type(s) {unknown}; known: {sorted(BLOCKS)}")
    for i, stage in enumerate(table.stages, start=1):
        block = cast(Any, BLOCKS[stage.block])  # its fields: register_block checked them
        for name in sorted(OPTIONAL_FIELDS.keys() - block.fields):
            value = getattr(stage, name)
            if value != OPTIONAL_FIELDS[name]:
                raise ScalesearchError(f"{table.name}: stage {i} ({stage.block}) sets "
                                       f"{name}={value:g}, which {stage.block} does not use")


@dataclass(frozen=True)
class BuildContext:
    """Settings shared by all blocks of one network."""

    act: str = "relu"
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1
    drop_path: float = 0.0  # this block's stochastic-depth rate

    def activation(self) -> nn.Module:
        """A fresh activation module of the network's type (``act``)."""
        return _ACTS[self.act]()

    def norm(self, channels: int) -> nn.BatchNorm2d:
        """BatchNorm over ``channels`` with the network's eps and momentum."""
        return nn.BatchNorm2d(channels, eps=self.bn_eps, momentum=self.bn_momentum)


class ConvBNAct(nn.Sequential):
    """k×k conv (no bias, 'same' padding) + BatchNorm + optional activation."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, ctx: BuildContext,
                 groups: int = 1, act: bool = True):
        layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                  ctx.norm(cout)]
        super().__init__(*layers, *([ctx.activation()] if act else []))


class DropPath(nn.Module):
    """Stochastic depth ("drop connect" in the reference code) on the residual branch."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """In training, drop each sample's branch with probability ``rate`` and scale the
        kept ones by 1/(1 − rate); the identity otherwise."""
        if not self.training or self.rate == 0:
            return x
        keep = 1 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class SqueezeExcite(nn.Module):
    """SE: global pool, 1×1 reduce (+act), 1×1 expand, sigmoid gate."""

    def __init__(self, channels: int, reduced: int, ctx: BuildContext):
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.act = ctx.activation()
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` scaled channel-wise by the gate computed from its global average."""
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(s))))


class _Residual(nn.Module):
    """Adds an identity skip (with drop path) when shapes allow it."""

    body: nn.Module  # set by the subclass

    def _init_skip(self, cin: int, cout: int, stride: int, ctx: BuildContext) -> None:
        self.has_skip = stride == 1 and cin == cout
        self.drop_path = DropPath(ctx.drop_path) if self.has_skip else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The body's output, plus ``x`` (after drop path) when the block has a skip."""
        y = self.body(x)
        return self.drop_path(y) + x if self.has_skip else y


@register_block("mbconv")
class MBConv(_Residual):
    """Inverted residual (MBConv, MobileNetV2/EfficientNet): expand 1×1, depthwise k×k, SE,
    linear 1×1 projection. SE width = max(1, int(block input channels × se))."""

    fields = {"kernel", "stride", "expand", "se"}

    def __init__(self, cin: int, stage: Stage, stride: int, ctx: BuildContext):
        super().__init__()
        mid = int(cin * stage.expand)
        layers: list[nn.Module] = []
        if stage.expand != 1:
            layers.append(ConvBNAct(cin, mid, 1, 1, ctx))
        layers.append(ConvBNAct(mid, mid, stage.kernel, stride, ctx, groups=mid))
        if stage.se > 0:
            layers.append(SqueezeExcite(mid, max(1, int(cin * stage.se)), ctx))
        layers.append(ConvBNAct(mid, stage.channels, 1, 1, ctx, act=False))
        self.body = nn.Sequential(*layers)
        self._init_skip(cin, stage.channels, stride, ctx)


@register_block("dsconv")
class DepthwiseSeparable(nn.Sequential):
    """MobileNetV1 layer: depthwise k×k + BN + act, pointwise 1×1 + BN + act."""

    fields = {"kernel", "stride"}

    def __init__(self, cin: int, stage: Stage, stride: int, ctx: BuildContext):
        super().__init__(ConvBNAct(cin, cin, stage.kernel, stride, ctx, groups=cin),
                         ConvBNAct(cin, stage.channels, 1, 1, ctx))


@register_block("bottleneck")
class Bottleneck(nn.Module):
    """ResNet bottleneck v1.5 (stride in the 3×3): 1×1 → k×k → 1×1 (inner = out × expand),
    projection shortcut when the shape changes, activation after the sum."""

    fields = {"kernel", "stride", "expand"}

    def __init__(self, cin: int, stage: Stage, stride: int, ctx: BuildContext):
        super().__init__()
        mid = int(stage.channels * stage.expand)
        self.body = nn.Sequential(
            ConvBNAct(cin, mid, 1, 1, ctx),
            ConvBNAct(mid, mid, stage.kernel, stride, ctx),
            ConvBNAct(mid, stage.channels, 1, 1, ctx, act=False),
        )
        project = stride != 1 or cin != stage.channels
        self.shortcut = ConvBNAct(cin, stage.channels, 1, stride, ctx, act=False) if project \
            else nn.Identity()
        self.drop_path = DropPath(ctx.drop_path)
        self.act = ctx.activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Activation of the body's output (after drop path) plus the shortcut."""
        return self.act(self.drop_path(self.body(x)) + self.shortcut(x))
