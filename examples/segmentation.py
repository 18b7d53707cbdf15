"""A dense-prediction task on the embedded scenes: segment the striped target disc, rank by
mIoU (README, "Your own training")::

    scalesearch search --baseline examples/segmentation.py:NET \
        --train examples/segmentation.py:train --metric miou --mode max

``NET`` is a tiny fully convolutional network (depth: 3×3 convolutions, width: channels) that
predicts a mask at the input's resolution; ``train`` reports the mean IoU of target and
background on held-out scenes after every epoch."""

import torch
import torch.nn.functional as F
from scene_task import fit
from torch import nn

from scalesearch.scaling.scalable import Scalable


class FCN(nn.Module):
    def __init__(self, depth: float, width: float):
        super().__init__()
        c = max(4, round(8 * width))
        layers = [nn.Conv2d(3, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(max(1, round(depth))):
            layers += [nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
        self.body = nn.Sequential(*layers, nn.Conv2d(c, 1, 1), nn.Upsample(scale_factor=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)[:, 0]  # mask logits [N, H, W]


class Segmenter(Scalable):
    name, image_size = "segmenter", 32

    def build(self, depth=1.0, width=1.0, *, num_classes=None, dropout=None, drop_path=None):
        return FCN(depth, width)


NET = Segmenter()


def miou(logits: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean IoU of the two classes (target, background), over the whole set."""
    pred, true = logits > 0, mask > 0.5
    ious = [((p & t).sum() / (p | t).sum().clamp(min=1)).item()
            for p, t in ((pred, true), (~pred, ~true))]
    return 100 * sum(ious) / 2


def train(trial):
    fit(trial, "mask", F.binary_cross_entropy_with_logits, lambda logits, mask: dict(
        miou=miou(logits, mask), loss=F.binary_cross_entropy_with_logits(logits, mask).item()))
