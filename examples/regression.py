"""A lower-is-better metric: regress the target disc's centre on the embedded scenes and rank
by the validation mean squared error with ``--mode min`` (README, "Your own training")::

    scalesearch search --baseline examples/regression.py:NET \
        --train examples/regression.py:train --metric mse --mode min

``NET`` is examples/tinynet.py's network with two outputs (x, y); trials.csv and the reports
hold ``-mse`` (higher is better), the Optuna study and the trackers ``mse`` itself."""

import torch
import torch.nn.functional as F
from tinynet import TinyNet

from scalesearch.data.synthetic import generate, targets
from scalesearch.scaling.scalable import Scalable


class Locator(Scalable):
    name, image_size = "locator", 32

    def build(self, depth=1.0, width=1.0, *, num_classes=None, dropout=None, drop_path=None):
        return TinyNet(depth, width, outputs=2)


NET = Locator()


def train(trial):
    def scenes(n, seed):
        x, _ = generate(n, trial.image_size, seed)
        return x.float().div(255).to(trial.device), targets(n, trial.image_size, seed)[1]

    (x, c), (xv, cv) = scenes(trial.num_train or 256, 0), scenes(trial.num_val or 128, 1)
    model, gen = trial.model, torch.Generator().manual_seed(trial.seed)
    opt = torch.optim.Adam(model.parameters(), lr=trial.lr)
    for epoch in range(1, trial.epochs + 1):
        model.train()
        for idx in torch.randperm(len(x), generator=gen).split(trial.batch_size):
            if len(idx) > 1:  # BatchNorm cannot train on one image
                loss = F.mse_loss(model(x[idx]), c[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            trial.report(epoch, mse=F.mse_loss(model(xv), cv).item())
