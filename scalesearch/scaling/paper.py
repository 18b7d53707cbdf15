"""Reference figures from the paper (ImageNet, 224 px baselines): Table 3 (MobileNetV1/V2,
ResNet-50 scaled by one dimension vs compound) and Table 7 / Figure 8 (EfficientNet-B0 at
≈1.8 B FLOPs). FLOPs in multiply-adds, as printed (one decimal, so ±0.05 B)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperRow:
    """One row of Table 3 / Table 7: multipliers, FLOPs (multiply-adds), ImageNet top-1 (%)."""

    strategy: str  # baseline, depth, width, resolution, compound
    depth: float | None  # None: the paper does not give the multipliers
    width: float | None
    resolution: float | None
    flops: float
    top1: float


def _rows(*rows) -> tuple[PaperRow, ...]:
    return tuple(PaperRow(*r) for r in rows)


TABLE3 = {
    "mobilenet-v1": _rows(("baseline", 1, 1, 1, 0.6e9, 70.6), ("width", 1, 2, 1, 2.2e9, 74.2),
                          ("resolution", 1, 1, 2, 2.2e9, 72.7),
                          ("compound", 1.4, 1.2, 1.3, 2.3e9, 75.6)),
    "mobilenet-v2": _rows(("baseline", 1, 1, 1, 0.3e9, 72.0), ("depth", 4, 1, 1, 1.2e9, 76.8),
                          ("width", 1, 2, 1, 1.1e9, 76.4), ("resolution", 1, 1, 2, 1.2e9, 74.8),
                          ("compound", None, None, None, 1.3e9, 77.4)),
    "resnet50": _rows(("baseline", 1, 1, 1, 4.1e9, 76.0), ("depth", 4, 1, 1, 16.2e9, 78.1),
                      ("width", 1, 2, 1, 14.7e9, 77.7), ("resolution", 1, 1, 2, 16.4e9, 77.5),
                      ("compound", None, None, None, 16.7e9, 78.8)),
    # Table 7 / Figure 8; the B0 baseline row is Table 2's.
    "efficientnet-b0": _rows(("baseline", 1, 1, 1, 0.39e9, 77.1), ("depth", 4, 1, 1, 1.8e9, 79.0),
                             ("width", 1, 2, 1, 1.8e9, 78.9), ("resolution", 1, 1, 2, 1.9e9, 79.1),
                             ("compound", 1.4, 1.2, 1.3, 1.8e9, 81.1)),
}
