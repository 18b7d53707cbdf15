"""ResNet-50 (He et al. 2016), bottleneck v1.5 (stride in the 3×3), stages 3-4-6-3."""

from scalesearch.scaling.arch import Stage, StageTable, Stem
from scalesearch.scaling.scalable import TableBaseline

R50 = StageTable(
    name="resnet50",
    stem=Stem(channels=64, kernel=7, stride=2, pool=True),
    stages=(  # channels = block output; inner width = output × 0.25
        Stage("bottleneck", repeats=3, channels=256, kernel=3, stride=1, expand=0.25),
        Stage("bottleneck", repeats=4, channels=512, kernel=3, stride=2, expand=0.25),
        Stage("bottleneck", repeats=6, channels=1024, kernel=3, stride=2, expand=0.25),
        Stage("bottleneck", repeats=3, channels=2048, kernel=3, stride=2, expand=0.25),
    ),
    image_size=224,
    act="relu",
)

RESNET50 = TableBaseline(R50, description="ResNet-50 v1.5 (Table 3 baseline)")
