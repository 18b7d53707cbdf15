"""A lower-is-better metric: regress the target disc's centre on the embedded scenes and rank
by the validation mean squared error with ``--mode min`` (README, "Your own training")::

    scalesearch search --baseline examples/regression.py:NET \
        --train examples/regression.py:train --metric mse --mode min

``NET`` is examples/tinynet.py's network with two outputs (x, y); trials.csv and the reports
hold ``-mse`` (higher is better), the Optuna study and the trackers ``mse`` itself."""

import torch.nn.functional as F
from scene_task import fit
from tinynet import TinyNet

from scalesearch.scaling.scalable import Scalable


class Locator(Scalable):
    name, image_size = "locator", 32

    def build(self, depth=1.0, width=1.0, *, num_classes=None, dropout=None, drop_path=None):
        return TinyNet(depth, width, outputs=2)


NET = Locator()


def train(trial):
    fit(trial, "centre", F.mse_loss, lambda xy, centre: dict(mse=F.mse_loss(xy, centre).item()))
