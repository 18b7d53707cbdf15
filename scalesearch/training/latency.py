"""Inference latency of a network, the cost MnasNet and EfficientNet-B0's search optimise
(ACC·(LAT/T)^w) and Table 4 reports (batch 1, one CPU core).

``torch.utils.benchmark.Timer`` times the forward pass; ``adaptive_autorange`` repeats blocks
of runs until the spread of their medians is small, and the median is reported. The Timer
synchronises CUDA around each block, so the same call measures a GPU.
"""

from __future__ import annotations

import statistics

import torch
from torch import nn

from scalesearch.errors import ScalesearchError
from scalesearch.settings.placement import LatencySpec

MIN_RUN_TIME = 0.2  # seconds per autorange block: short enough for a CLI, long enough to settle
MAX_RUN_TIME = 2.0  # give up settling (IQR/median < 10%) after this; a busy machine never does


def measure_latency(model: nn.Module, image_size: int, batch: int = 1, threads: int = 1,
                    device: str = "cpu") -> float:
    """Median forward time in milliseconds of ``model`` (eval mode, no grad) on a batch of
    ``batch`` random ``image_size``² RGB images, with ``threads`` intra-op threads."""
    from torch.utils.benchmark import Timer

    LatencySpec(batch, threads, device)  # validates
    if image_size < 1:
        raise ScalesearchError(f"image size must be ≥ 1, got {image_size}")
    previous = torch.get_num_threads()
    was_training = model.training
    try:
        torch.set_num_threads(threads)
        model = model.to(device).eval()
        x = torch.randn(batch, 3, image_size, image_size, device=device)
        with torch.no_grad():
            model(x)  # warm-up: allocator, cuDNN algorithm choice, lazy init
            timer = Timer("model(x)", globals=dict(model=model, x=x), num_threads=threads)
            m = timer.adaptive_autorange(min_run_time=MIN_RUN_TIME,
                                         max_run_time=MAX_RUN_TIME)
        return m.median * 1e3
    finally:
        torch.set_num_threads(previous)
        model.train(was_training)


def measure_many(items: list[tuple[nn.Module, int]], spec: LatencySpec) -> list[float]:
    """Latency (ms) of several (model, image size) pairs, measured in ``spec.rounds``
    interleaved rounds and reduced by the median: on a shared machine a burst of load then
    hits one round of every network rather than all rounds of one."""
    runs = [[measure_latency(m, size, spec.batch, spec.threads, spec.device)
             for m, size in items] for _ in range(spec.rounds)]
    return [statistics.median(r[i] for r in runs) for i in range(len(items))]
