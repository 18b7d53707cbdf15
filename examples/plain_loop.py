"""A plain PyTorch training loop as a scalesearch training function (README, "Your own
training"): ``--train examples/plain_loop.py:train``. It trains the network the search built
on the embedded scenes and reports val top-1 after every epoch."""

import torch
import torch.nn.functional as F

from scalesearch.data.synthetic import generate


def train(trial):
    n_train, n_val = trial.num_train or 256, trial.num_val or 128
    x, y = generate(n_train, trial.image_size, seed=0)
    xv, yv = generate(n_val, trial.image_size, seed=1)
    x, xv = x.float().div(255).to(trial.device), xv.float().div(255).to(trial.device)
    y, yv = y.to(trial.device), yv.to(trial.device)
    model = trial.model
    opt = torch.optim.AdamW(model.parameters(), lr=trial.lr)
    start = 0
    if (state := trial.load()) is not None:  # a rung of sha continues a survivor
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start = state["epoch"]
    gen = torch.Generator().manual_seed(trial.seed)
    for epoch in range(start + 1, trial.epochs + 1):
        model.train()
        for idx in torch.randperm(n_train, generator=gen).split(trial.batch_size):
            if len(idx) < 2:  # BatchNorm cannot train on one image
                continue
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            top1 = (model(xv).argmax(1) == yv).float().mean().item() * 100
        trial.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch})
        trial.report(epoch, top1, loss=loss.item())
