"""MobileNetV2 (Sandler et al. 2018): inverted residuals (t, c, n, s), 1280 head."""

from scalesearch.scaling.arch import Head, Stage, StageTable, Stem
from scalesearch.scaling.scalable import TableBaseline

V2 = StageTable(
    name="mobilenet-v2",
    stem=Stem(channels=32, kernel=3, stride=2),
    stages=(  # the (t, c, n, s) table of the MobileNetV2 paper; no SE
        Stage("mbconv", repeats=1, channels=16, stride=1, expand=1),
        Stage("mbconv", repeats=2, channels=24, stride=2, expand=6),
        Stage("mbconv", repeats=3, channels=32, stride=2, expand=6),
        Stage("mbconv", repeats=4, channels=64, stride=2, expand=6),
        Stage("mbconv", repeats=3, channels=96, stride=1, expand=6),
        Stage("mbconv", repeats=3, channels=160, stride=2, expand=6),
        Stage("mbconv", repeats=1, channels=320, stride=1, expand=6),
    ),
    head=Head(channels=1280, shrink=False),  # the head is widened for w > 1 only
    image_size=224,
    act="relu6",
    dropout=0.2,
)

MOBILENET_V2 = TableBaseline(V2, description="MobileNetV2 1.0-224 (Table 3 baseline)")
