"""The embedded dataset: procedurally rendered scenes whose classes need resolution, depth and
width (design and measurements: docs/data.md).

Each image holds a solid square (the *marker*), a larger disc filled with fine stripes (the
*target*), distractor discs without stripes, and noise. The label combines

* a **global relation** — is the target left of, right of, above or below the marker? — which
  needs a receptive field spanning both objects (depth), and
* a **fine detail** — are the target's stripes horizontal or vertical? — drawn at
  ``STRIPE_CYCLES`` cycles per image width, which a low resolution averages away (resolution);
  without visible stripes the target also looks like a distractor, so the relation suffers too,

giving 4 × 2 = 8 classes with colours, sizes, positions and clutter as nuisances (width).
Scenes are described in continuous [0, 1]² coordinates drawn from ``seed`` and rendered at any
size with analytic antialiasing, so a sample is the same scene at every resolution.
"""

from __future__ import annotations

import math

import torch

RELATIONS = ("left", "right", "above", "below")
ORIENTATIONS = ("horizontal", "vertical")
CLASSES = tuple(f"{r}-{o}" for r in RELATIONS for o in ORIENTATIONS)
STRIPE_CYCLES = 16.0  # stripe frequency in cycles per image width (Nyquist at 32 px)
NUM_DISTRACTORS = 2
NOISE = 0.04


def _scene_params(n: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Draw n resolution-independent scene descriptions (balanced classes)."""
    u = lambda *shape: torch.rand(*shape, generator=gen)  # noqa: E731
    label = torch.arange(n) % len(CLASSES)
    label = label[torch.randperm(n, generator=gen)]
    relation, orient = label // len(ORIENTATIONS), label % len(ORIENTATIONS)
    # target and marker sit 0.3–0.55 apart along the relation's axis, jittered across it
    sep = 0.3 + 0.25 * u(n)
    along = torch.stack([-sep, sep, -sep, sep], 1).gather(1, relation[:, None])[:, 0]
    across = 0.12 * (u(n) - 0.5)
    horizontal = relation < 2
    dx = torch.where(horizontal, along, across)
    dy = torch.where(horizontal, across, along)
    centre = 0.5 + 0.08 * (u(n, 2) - 0.5)
    marker = centre - torch.stack([dx, dy], 1) / 2
    target = centre + torch.stack([dx, dy], 1) / 2
    return dict(
        label=label, orient=orient, marker=marker, target=target,
        marker_half=0.05 + 0.03 * u(n), target_radius=0.11 + 0.04 * u(n),
        phase=2 * math.pi * u(n), freq=STRIPE_CYCLES * (0.9 + 0.2 * u(n)),
        distractors=0.1 + 0.8 * u(n, NUM_DISTRACTORS, 2),
        distractor_radius=0.04 + 0.05 * u(n, NUM_DISTRACTORS),
        colours=0.2 + 0.8 * u(n, 2 + NUM_DISTRACTORS, 3),  # marker, target, distractors
        background=0.3 * u(n, 3), noise_seed=torch.randint(0, 2**31 - 1, (n,), generator=gen),
    )


def _coverage(signed_distance: torch.Tensor, pixel: float) -> torch.Tensor:
    """Antialiased inside-ness: 1 inside, 0 outside, a one-pixel linear ramp across the edge."""
    return (0.5 - signed_distance / pixel).clamp(0, 1)


def _render(p: dict[str, torch.Tensor], size: int) -> torch.Tensor:
    """Render scenes to uint8 [n, 3, size, size] at pixel centres, antialiased analytically:
    edges by coverage, stripes by the low-pass factor max(0, 1 − (f / f_Nyquist)²), so detail
    finer than the pixel grid fades out instead of aliasing into a still-oriented moiré."""
    n, pixel = p["label"].shape[0], 1.0 / size
    coords = (torch.arange(size) + 0.5) * pixel
    y, x = coords.view(1, size, 1), coords.view(1, 1, size)
    img = p["background"].view(n, 3, 1, 1).expand(n, 3, size, size).clone()

    def paint(mask: torch.Tensor, colour: torch.Tensor) -> None:
        img.mul_(1 - mask[:, None]).add_(mask[:, None] * colour)

    def disc(centre: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
        dist = ((x - centre[:, 0, None, None]) ** 2 + (y - centre[:, 1, None, None]) ** 2).sqrt()
        return _coverage(dist - radius.view(n, 1, 1), pixel)

    for k in range(NUM_DISTRACTORS):
        paint(disc(p["distractors"][:, k], p["distractor_radius"][:, k]),
              p["colours"][:, 2 + k].view(n, 3, 1, 1))
    m = p["marker"]
    box = torch.maximum((x - m[:, 0, None, None]).abs(), (y - m[:, 1, None, None]).abs())
    paint(_coverage(box - p["marker_half"].view(n, 1, 1), pixel),
          p["colours"][:, 0].view(n, 3, 1, 1))
    t = p["target"]
    axis = torch.where(p["orient"].view(n, 1, 1) == 0, y - t[:, 1, None, None],
                       x - t[:, 0, None, None])  # horizontal stripes vary along y
    freq = p["freq"].view(n, 1, 1)
    contrast = (1 - (freq / (size / 2)) ** 2).clamp(min=0)
    stripes = 0.5 + 0.5 * contrast * torch.sin(2 * math.pi * freq * axis + p["phase"].view(n, 1, 1))
    colour = p["colours"][:, 1, :, None, None] * (0.3 + 0.7 * stripes[:, None])  # light/dark
    paint(disc(t, p["target_radius"]), colour)
    noise = torch.stack([torch.randn(3, size, size, generator=torch.Generator().manual_seed(int(s)))
                         for s in p["noise_seed"]])
    return ((img + NOISE * noise).clamp(0, 1) * 255).round().to(torch.uint8)


def generate(n: int, size: int, seed: int = 0,
             chunk: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """n images of size² px and their labels, identical for the same (n, seed) at any size."""
    params = _scene_params(n, torch.Generator().manual_seed(seed))
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    for start in range(0, n, chunk):
        part = {k: v[start:start + chunk] for k, v in params.items()}
        images[start:start + chunk] = _render(part, size)
    return images, params["label"]


def targets(n: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense and geometric labels of the scenes :func:`generate` draws for (n, seed): the
    target disc's mask (float [n, size, size], its antialiased coverage) and its centre
    (float [n, 2], x and y in [0, 1]) — for tasks other than classification (examples/)."""
    p = _scene_params(n, torch.Generator().manual_seed(seed))
    coords = (torch.arange(size) + 0.5) / size
    y, x = coords.view(1, size, 1), coords.view(1, 1, size)
    t = p["target"]
    dist = ((x - t[:, 0, None, None]) ** 2 + (y - t[:, 1, None, None]) ** 2).sqrt()
    return _coverage(dist - p["target_radius"].view(n, 1, 1), 1.0 / size), t.clone()
