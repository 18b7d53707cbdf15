"""Build an ``nn.Module`` from a stage table — the only place a table becomes layers."""

from __future__ import annotations

import torch
from torch import nn

from scalesearch.errors import MAX_PARAMS, TooLarge
from scalesearch.scaling.arch import StageTable
from scalesearch.scaling.blocks import BLOCKS, BuildContext, ConvBNAct, check_fields


class TableNet(nn.Module):
    """stem → stages (blocks) → [1×1 head conv] → global pool → dropout → FC."""

    def __init__(self, table: StageTable):
        super().__init__()
        check_fields(table)
        self.table = table
        ctx = BuildContext(table.act, table.bn_eps, table.bn_momentum)
        stem: list[nn.Module] = [ConvBNAct(3, table.stem.channels, table.stem.kernel,
                                           table.stem.stride, ctx)]
        if table.stem.pool:
            stem.append(nn.MaxPool2d(3, 2, 1))
        self.stem = nn.Sequential(*stem)

        cin, index, stages = table.stem.channels, 0, []
        for stage in table.stages:
            blocks = []
            for i in range(stage.repeats):
                rate = table.drop_path * index / table.num_blocks
                block_ctx = BuildContext(table.act, table.bn_eps, table.bn_momentum, rate)
                blocks.append(BLOCKS[stage.block](cin, stage, stage.stride if i == 0 else 1,
                                                  block_ctx))
                cin, index = stage.channels, index + 1
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)

        if table.head.channels:
            self.head: nn.Module = ConvBNAct(cin, table.head.channels, 1, 1, ctx)
            cin = table.head.channels
        else:
            self.head = nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(table.dropout)
        self.classifier = nn.Linear(cin, table.num_classes)
        self.num_features = cin
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits for a batch of images."""
        x = self.head(self.stages(self.stem(x)))
        return self.classifier(self.dropout(torch.flatten(self.pool(x), 1)))


def _init_weights(model: nn.Module) -> None:
    """Reference initialisation: He (fan-out) for convs with fan-out = k·k·C_out/groups (as
    the TF reference and timm count it; PyTorch's own count ignores groups, which makes
    depthwise kernels ~√C too small and stalls deep networks), uniform 1/√fan_out for the FC.
    Skipped on the meta device, where there are no values (and init is slow)."""
    if next(model.parameters()).is_meta:
        return
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, (2.0 / fan_out) ** 0.5)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            bound = 1.0 / m.out_features**0.5
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)


def build(table: StageTable) -> TableNet:
    """The ``nn.Module`` of ``table`` (a :class:`TableNet`). Its size is checked first: the
    table's blocks and channels (:meth:`StageTable.check_size`), then its parameters, counted
    on the ``meta`` device, where nothing is allocated (:func:`check_params`)."""
    table.check_size()
    with torch.device("meta"):
        meta = TableNet(table)
    check_params(meta, table.name)
    return meta if torch.empty(0).device.type == "meta" else TableNet(table)


def check_params(model: nn.Module, name: str) -> None:
    """Refuse a network of more than :data:`~scalesearch.errors.MAX_PARAMS` parameters (count
    it on the ``meta`` device, before its weights are allocated)."""
    params = sum(p.numel() for p in model.parameters())
    if params > MAX_PARAMS:
        raise TooLarge(f"{name}: {params:,} parameters, beyond the {MAX_PARAMS:,} "
                               "scalesearch builds; scale by less")
