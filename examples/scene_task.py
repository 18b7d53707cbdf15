"""The training loop the segmentation and regression examples share: Adam on the embedded
scenes with a task's target (the target disc's mask or its centre, ``data.synthetic.targets``),
one report after every epoch of what ``evaluate`` measures on held-out scenes."""

import torch

from scalesearch.data.synthetic import generate, targets

TARGETS = {"mask": 0, "centre": 1}


def fit(trial, target, loss_fn, evaluate):
    """Train ``trial.model`` on ``target`` with ``loss_fn``; report ``evaluate(out, y)``."""

    def scenes(n, seed):
        x, _ = generate(n, trial.image_size, seed)
        y = targets(n, trial.image_size, seed)[TARGETS[target]]
        return x.float().div(255).to(trial.device), y.to(trial.device)

    (x, y), (xv, yv) = scenes(trial.num_train or 256, 0), scenes(trial.num_val or 128, 1)
    model, gen = trial.model, torch.Generator().manual_seed(trial.seed)
    opt = torch.optim.Adam(model.parameters(), lr=trial.lr)
    for epoch in range(1, trial.epochs + 1):
        model.train()
        for idx in torch.randperm(len(x), generator=gen).split(trial.batch_size):
            if len(idx) > 1:  # BatchNorm cannot train on one image
                loss = loss_fn(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            trial.report(epoch, **evaluate(model(xv), yv))
