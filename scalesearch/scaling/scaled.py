"""``scalesearch.scale``: one call from a baseline and φ (or a preset, or explicit d, w, r) to a
scaled network with its measured complexity."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from torch import nn

from scalesearch.errors import (
    MAX_CLASSES,
    ScalesearchError,
    as_plain,
    check_number,
    check_whole,
)
from scalesearch.scaling.arch import StageTable
from scalesearch.scaling.counter import Counts, baseline_counts, measure
from scalesearch.scaling.matching import MATCH_TOLERANCE, MIN_IMAGE_SIZE, match_image_size
from scalesearch.scaling.registry import resolve
from scalesearch.scaling.scalable import Scalable, TableBaseline
from scalesearch.scaling.scaler import (
    PAPER_COEFFICIENTS,
    Multipliers,
    check_coefficients,
    check_phi,
    compound,
)


@dataclass
class ScaledNetwork:
    """A baseline scaled by (d, w, r), with measured and formula FLOPs ratios."""

    baseline: Scalable
    spec: str
    mult: Multipliers
    image_size: int
    counts: Counts
    base_counts: Counts
    num_classes: int | None = None
    dropout: float | None = None
    phi: float | None = None
    coefficients: tuple[float, float, float] | None = None
    preset: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def flops_ratio(self) -> float:
        """The FLOPs ratio of this network to its baseline, measured after rounding."""
        return self.counts.flops / self.base_counts.flops

    @property
    def activations_ratio(self) -> float:
        """Activations (conv/linear outputs) over the baseline's: ≈ r²·w·d for compound
        scaling, the cost Dollár et al. (2021) find tracks GPU runtime."""
        return self.counts.activations / self.base_counts.activations

    @property
    def formula_ratio(self) -> float:
        """d·w²·r² before rounding; for compound scaling (α·β²·γ²)^φ = 2^φ·(α·β²·γ²/2)^φ."""
        return self.mult.flops_factor

    @cached_property
    def model(self) -> nn.Module:
        """The network with freshly initialised weights on the CPU."""
        return self.baseline.build(self.mult.depth, self.mult.width,
                                   num_classes=self.num_classes, dropout=self.dropout)

    def table(self) -> StageTable | None:
        """The scaled stage table, or None when the baseline is not a stage table."""
        if isinstance(self.baseline, TableBaseline):
            return self.baseline.scaled(self.mult.depth, self.mult.width,
                                        num_classes=self.num_classes, dropout=self.dropout)
        return None

    def to_dict(self) -> dict:
        """Plain-JSON summary: multipliers, counts, ratios and stage rows (what
        ``scale --format json`` prints)."""
        alpha, beta, gamma = self.coefficients or (None, None, None)
        table = self.table()
        return dict(
            baseline=self.baseline.name, spec=self.spec, phi=self.phi, preset=self.preset,
            alpha=alpha, beta=beta, gamma=gamma,
            depth=self.mult.depth, width=self.mult.width, resolution=self.mult.resolution,
            image_size=self.image_size,
            num_classes=self.num_classes or self.baseline.num_classes,
            dropout=table.dropout if table else self.dropout,
            params=self.counts.params, flops=self.counts.flops,
            activations=self.counts.activations,
            flops_ratio=self.flops_ratio, formula_ratio=self.formula_ratio,
            activations_ratio=self.activations_ratio,
            base=dict(image_size=self.baseline.image_size, params=self.base_counts.params,
                      flops=self.base_counts.flops, activations=self.base_counts.activations),
            stages=self.baseline.stages(self.mult.depth, self.mult.width),
            uncounted=self.counts.uncounted, count_method=self.counts.method,
            warnings=list(self.warnings),
        )

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write the model (state dict + what rebuilds it) and the JSON summary beside it."""
        from scalesearch.scaling.checkpoint import save_checkpoint

        return save_checkpoint(self, Path(path))


def _mode_multipliers(baseline: Scalable, phi, alpha, beta, gamma, depth, width, resolution,
                      preset, force) -> tuple[Multipliers, int | None, list[str]]:
    explicit = (depth, width, resolution) != (None, None, None)
    modes = [name for name, on in (("phi", phi is not None), ("preset", preset is not None),
                                   ("depth/width/resolution", explicit)) if on]
    if len(modes) > 1:
        raise ScalesearchError(f"choose one of φ, a preset or explicit multipliers, "
                               f"not {' and '.join(modes)}")
    if preset is not None:
        if preset.lower() not in baseline.presets:
            known = ", ".join(baseline.presets) or "none"
            raise ScalesearchError(f"{baseline.name} has no preset {preset!r} (presets: {known})")
        p = baseline.presets[preset.lower()]
        return Multipliers(p.depth, p.width, p.image_size / baseline.image_size), p.image_size, []
    if explicit:
        # an omitted multiplier is 1; a given 0 is a value (refused below), not "not given"
        mult = Multipliers(*(1.0 if v is None else v for v in (depth, width, resolution)))
        if min(mult.depth, mult.width, mult.resolution) <= 0:
            raise ScalesearchError(f"multipliers must be positive, got d={mult.depth:g}, "
                                   f"w={mult.width:g}, r={mult.resolution:g}")
        return mult, None, []
    check_phi(phi or 0.0)
    notes = check_coefficients(alpha, beta, gamma, force=force)
    return compound(phi or 0.0, alpha, beta, gamma), None, notes


def _plain_arguments(phi, depth, width, resolution, alpha, beta, gamma, num_classes, preset):
    """scale()'s numbers checked (a bool or a string is refused in one line, as the CLI
    refuses them) and as Python numbers (numpy's become int / float)."""
    for name, value in (("φ", phi), ("depth", depth), ("width", width),
                        ("resolution", resolution)):
        check_number(name, as_plain(name, value), optional=True)
    for name, value in (("α", alpha), ("β", beta), ("γ", gamma)):
        check_number(name, as_plain(name, value))
    check_whole("--num-classes", as_plain("--num-classes", num_classes), 1, MAX_CLASSES,
                optional=True)
    if preset is not None and not isinstance(preset, str):
        raise ScalesearchError(f"preset must be a name such as 'b3', got {preset!r:.80}")
    return tuple(as_plain("", v) for v in (phi, depth, width, resolution, alpha, beta, gamma,
                                           num_classes))


def scale(baseline: str | Scalable | StageTable, phi: float | None = None, *,
          alpha: float = PAPER_COEFFICIENTS[0], beta: float = PAPER_COEFFICIENTS[1],
          gamma: float = PAPER_COEFFICIENTS[2], depth: float | None = None,
          width: float | None = None, resolution: float | None = None, preset: str | None = None,
          num_classes: int | None = None, match_flops: bool = False,
          force: bool = False) -> ScaledNetwork:
    """Scale ``baseline`` by compound coefficient φ (Eq. 3), a named preset (e.g. ``"b3"``),
    or explicit multipliers (Table 3). With none of them, the unscaled baseline."""
    net = resolve(baseline)
    phi, depth, width, resolution, alpha, beta, gamma, num_classes = _plain_arguments(
        phi, depth, width, resolution, alpha, beta, gamma, num_classes, preset)
    mult, image_size, notes = _mode_multipliers(net, phi, alpha, beta, gamma, depth, width,
                                                resolution, preset, force)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    image_size = image_size or net.scaled_image_size(mult.resolution)
    if image_size < MIN_IMAGE_SIZE:
        raise ScalesearchError(f"image size {image_size} px is below {MIN_IMAGE_SIZE} px")
    base = baseline_counts(net, num_classes)
    if match_flops:
        image_size, _ = match_image_size(net, mult, mult.flops_factor,
                                         num_classes=num_classes)
    counts = measure(net, mult.depth, mult.width, image_size, num_classes)
    result = ScaledNetwork(
        net, baseline if isinstance(baseline, str) else net.name, mult, image_size, counts, base,
        num_classes=num_classes,
        phi=None if preset is not None or (depth, width, resolution) != (None,) * 3 else phi or 0.0,
        coefficients=(alpha, beta, gamma) if phi is not None else None, preset=preset,
        dropout=net.presets[preset.lower()].dropout if preset else None, warnings=notes)
    if match_flops and abs(result.flops_ratio / result.formula_ratio - 1) > MATCH_TOLERANCE:
        note = (f"match-flops: no image size lands within {MATCH_TOLERANCE:.0%}; the closest, "
                f"{image_size} px, gives ratio {result.flops_ratio:.3f} vs formula "
                f"{result.formula_ratio:.3f} (feature maps jump in size at multiples of the "
                "network's total stride)")
        result.warnings.append(note)
        warnings.warn(note, stacklevel=2)
    return result
