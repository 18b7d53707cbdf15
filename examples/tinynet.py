"""A tiny scalable classifier for the examples: ``depth`` 3×3 convolutions of ``8·width``
channels after a stem, global pooling and a linear head (``--baseline examples/tinynet.py:TINY``).
Small enough that a search over it trains in seconds on a CPU."""

import torch
from torch import nn

from scalesearch.scaling.scalable import Scalable


class TinyNet(nn.Module):
    def __init__(self, depth: float, width: float, outputs: int):
        super().__init__()
        c = max(4, round(8 * width))
        layers = [nn.Conv2d(3, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(max(1, round(depth))):
            layers += [nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
        self.body, self.head = nn.Sequential(*layers), nn.Linear(c, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean((2, 3)))


class Tiny(Scalable):
    name, image_size = "tiny", 32

    def build(self, depth=1.0, width=1.0, *, num_classes=None, dropout=None, drop_path=None):
        return TinyNet(depth, width, num_classes or 8)


TINY = Tiny()
