"""Both counters run the network as at inference and hand it back in the mode it had."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from scalesearch.scaling.counter import count_fvcore, count_shapes


class Probe(nn.Module):
    """A conv that records the mode and autograd state of each forward pass."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.seen.append((self.training, torch.is_grad_enabled()))
        return self.conv(x)


@pytest.mark.parametrize("counter", [lambda m: count_shapes(m, 8)[0], lambda m: count_fvcore(m, 8)])
@pytest.mark.parametrize("training", [True, False])
def test_counting_is_in_eval_mode_and_restores_the_mode(counter, training):
    model = Probe().train(training)
    counts = counter(model)
    assert counts.flops == 4 * 3 * 9 * 6 * 6  # |w| · output positions
    assert model.seen and all(s == (False, False) for s in model.seen)
    assert model.training is training
