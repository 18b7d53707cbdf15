"""EfficientNet-B0 (Table 1) and the official B0–B8 width/depth/resolution/dropout table."""

from scalesearch.scaling.arch import Head, Preset, Stage, StageTable, Stem
from scalesearch.scaling.scalable import TableBaseline

B0 = StageTable(
    name="efficientnet-b0",
    stem=Stem(channels=32, kernel=3, stride=2),
    stages=(  # Table 1, stages 2–8: MBConv<expand>, kernel, stride of the first block, SE 0.25
        Stage("mbconv", repeats=1, channels=16, kernel=3, stride=1, expand=1, se=0.25),
        Stage("mbconv", repeats=2, channels=24, kernel=3, stride=2, expand=6, se=0.25),
        Stage("mbconv", repeats=2, channels=40, kernel=5, stride=2, expand=6, se=0.25),
        Stage("mbconv", repeats=3, channels=80, kernel=3, stride=2, expand=6, se=0.25),
        Stage("mbconv", repeats=3, channels=112, kernel=5, stride=1, expand=6, se=0.25),
        Stage("mbconv", repeats=4, channels=192, kernel=5, stride=2, expand=6, se=0.25),
        Stage("mbconv", repeats=1, channels=320, kernel=3, stride=1, expand=6, se=0.25),
    ),
    head=Head(channels=1280),
    image_size=224,
    act="silu",
    dropout=0.2,
    drop_path=0.2,
    bn_eps=1e-3,
    bn_momentum=0.01,  # TF decay 0.99
)

# Official table (width, depth, resolution, dropout); B1–B7 were rounded by hand, not integer φ.
PRESETS = {
    "b0": Preset(depth=1.0, width=1.0, image_size=224, dropout=0.2),
    "b1": Preset(depth=1.1, width=1.0, image_size=240, dropout=0.2),
    "b2": Preset(depth=1.2, width=1.1, image_size=260, dropout=0.3),
    "b3": Preset(depth=1.4, width=1.2, image_size=300, dropout=0.3),
    "b4": Preset(depth=1.8, width=1.4, image_size=380, dropout=0.4),
    "b5": Preset(depth=2.2, width=1.6, image_size=456, dropout=0.4),
    "b6": Preset(depth=2.6, width=1.8, image_size=528, dropout=0.5),
    "b7": Preset(depth=3.1, width=2.0, image_size=600, dropout=0.5),
    "b8": Preset(depth=3.6, width=2.2, image_size=672, dropout=0.5),
}

EFFICIENTNET_B0 = TableBaseline(
    B0, presets=PRESETS, description="EfficientNet-B0 (Tan & Le 2019, Table 1), presets b0–b8")
