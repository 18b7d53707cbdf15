"""Batch augmentation on uint8 tensors, no torchvision: random-resized crop + flip in one
``grid_sample`` call, and the centre crop used for evaluation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 3, H, W] → float, per-channel standardised."""
    x = images.float().div_(255)
    return (x - MEAN.to(x.device)) / STD.to(x.device)


def center_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size``×``size`` crop of a [..., H, W] batch."""
    top = (images.shape[-2] - size) // 2
    left = (images.shape[-1] - size) // 2
    return images[..., top:top + size, left:left + size]


def random_resized_crop(x: torch.Tensor, size: int, gen: torch.Generator,
                        scale: tuple[float, float] = (0.35, 1.0),
                        flip: bool = True) -> torch.Tensor:
    """Per-image random crop (area fraction in ``scale``, aspect 3/4–4/3), resized to size²,
    mirrored with probability ½; x is a float batch."""
    b = x.shape[0]
    area = torch.empty(b).uniform_(*scale, generator=gen)
    log_ratio = torch.empty(b).uniform_(math.log(3 / 4), math.log(4 / 3), generator=gen)
    ratio = log_ratio.exp()
    sw, sh = (area * ratio).sqrt().clamp(max=1), (area / ratio).sqrt().clamp(max=1)
    cx = (torch.rand(b, generator=gen) * 2 - 1) * (1 - sw)
    cy = (torch.rand(b, generator=gen) * 2 - 1) * (1 - sh)
    sign = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0) if flip else torch.ones(b)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = sw * sign, cx
    theta[:, 1, 1], theta[:, 1, 2] = sh, cy
    grid = F.affine_grid(theta.to(x.device), [b, 3, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def to_batch(images: torch.Tensor, size: int, device: torch.device | str,
             gen: torch.Generator | None) -> torch.Tensor:
    """uint8 images → normalised float batch of size² on ``device``: a random-resized crop
    drawn from ``gen`` (training), or the centre crop when ``gen`` is None (evaluation)."""
    if gen is not None:
        return random_resized_crop(normalize(images.to(device, non_blocking=True)), size, gen)
    return normalize(center_crop(images, size).to(device, non_blocking=True))
