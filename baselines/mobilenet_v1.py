"""MobileNetV1 (Howard et al. 2017), α=1.0: 13 depthwise-separable layers grouped by width."""

from scalesearch.scaling.arch import Stage, StageTable, Stem
from scalesearch.scaling.scalable import TableBaseline

V1 = StageTable(
    name="mobilenet-v1",
    stem=Stem(channels=32, kernel=3, stride=2),
    stages=(
        Stage("dsconv", repeats=1, channels=64, stride=1),
        Stage("dsconv", repeats=2, channels=128, stride=2),
        Stage("dsconv", repeats=2, channels=256, stride=2),
        Stage("dsconv", repeats=6, channels=512, stride=2),
        Stage("dsconv", repeats=2, channels=1024, stride=2),
    ),
    image_size=224,
    act="relu",
)

MOBILENET_V1 = TableBaseline(V1, description="MobileNetV1 1.0-224 (Table 3 baseline)")
