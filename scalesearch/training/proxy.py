"""Proxy evaluation: train one scaled network briefly and return a flat record.

Shared by the φ=1 grid search (§3.3, step 1) and the strategy comparison (Table 3, Fig. 8).
Training happens at a reduced base image size (``proxy_size``) so that it fits a CPU: a
candidate with resolution multiplier r is trained at round(proxy_size · r).
"""

from __future__ import annotations

import torch

from scalesearch.errors import ScalesearchError
from scalesearch.scaling.counter import measure
from scalesearch.scaling.scalable import Scalable
from scalesearch.scaling.scaler import Multipliers, round_image_size
from scalesearch.settings.recipe import UNEVALUATED, ProxySetup
from scalesearch.training.contract import TrainingFailed, Trial
from scalesearch.training.trainer import ProxyTrainer


def proxy_image_size(baseline: Scalable, mult: Multipliers, proxy_size: int | None,
                     divisor: int | None = None) -> int:
    """round(proxy_size · r) with the baseline's resolution rounding (or ``divisor``)."""
    return round_image_size(proxy_size or baseline.image_size, mult.resolution,
                            divisor or baseline.resolution_divisor)


def smallest_proxy_size(resolutions: list[tuple[float, int]], limit: int = 4096) -> int:
    """The smallest base size at which every (resolution r, rounding divisor) trains at
    ≥ MIN_IMAGE_SIZE px (round_image_size grows with the base, so the first one found)."""
    from scalesearch.data import MIN_IMAGE_SIZE

    return next(p for p in range(1, limit) if all(
        round_image_size(p, r, div) >= MIN_IMAGE_SIZE for r, div in resolutions))


def check_proxy_size(baseline: Scalable, resolutions: list[tuple[float, int | None]],
                     proxy_size: int | None) -> None:
    """Refuse a proxy size at which some candidate (resolution r, divisor or None for the
    baseline's) would train below MIN_IMAGE_SIZE px: every trial would fail."""
    from scalesearch.data import MIN_IMAGE_SIZE

    pairs = [(r, div or baseline.resolution_divisor) for r, div in resolutions]
    base = proxy_size or baseline.image_size
    small = [(round_image_size(base, r, div), r) for r, div in pairs
             if round_image_size(base, r, div) < MIN_IMAGE_SIZE]
    if small:
        size, r = min(small)
        raise ScalesearchError(
            f"--proxy-size {base} is too small for {baseline.name}: a candidate with "
            f"resolution r={r:.4g} would train at {size} px, below {MIN_IMAGE_SIZE} px; the "
            f"smallest proxy size it can take is {smallest_proxy_size(pairs)}")


def build_trainer(baseline: Scalable, mult: Multipliers, setup: ProxySetup, seed: int = 0,
                  divisor: int | None = None) -> tuple[ProxyTrainer, dict]:
    """The seeded trainer of ``baseline`` at (d, w) on its proxy image size, and the record
    fields known before training: depth, width, resolution, image_size, params, flops, seed."""
    from scalesearch.data import load_data

    image_size = proxy_image_size(baseline, mult, setup.proxy_size, divisor)
    train, val = load_data(setup.data, image_size, num_train=setup.num_train,
                           num_val=setup.num_val, seed=setup.data_seed,
                           max_memory_gb=setup.train.max_memory_gb)
    num_classes = len(train.classes)
    counts = measure(baseline, mult.depth, mult.width, image_size, num_classes)
    torch.manual_seed(seed)  # the initial weights are part of the seeded trial
    model = baseline.build(mult.depth, mult.width, num_classes=num_classes,
                           dropout=setup.dropout, drop_path=setup.drop_path)
    record = dict(depth=mult.depth, width=mult.width, resolution=mult.resolution,
                  image_size=image_size, params=counts.params, flops=counts.flops, seed=seed)
    return ProxyTrainer(model, train, val, setup.train, seed=seed), record


EVAL_IMAGES = 200  # val images of an intermediate (rung) evaluation


def sotl(losses: list[float]) -> float:
    """The sum of training losses over the epochs trained (Ru et al., "Speedy performance
    estimation", 2021), divided by their number so that candidates at one rung compare alike:
    lower is better (``--metric sotl --mode min``)."""
    return sum(losses) / len(losses)


def train(trial: Trial) -> None:
    """The built-in training function (``--train proxy``): :class:`ProxyTrainer` on the
    ``--data`` images, reporting val top-1 and loss — on a fixed subset of ``EVAL_IMAGES``
    val images at an intermediate epoch a scheduler reads (unless it reads a value of
    :data:`~scalesearch.settings.recipe.UNEVALUATED`), on all of them at the last, not at
    all at the others — and saving its state after every epoch (sha continues from it).
    Every epoch it also reports ``train_loss`` (the epoch's mean training loss) and ``sotl``,
    the mean of the epochs' so far — Ru et al.'s sum of training losses over the epochs
    trained, per epoch so that a rung compares like with like: a search ranks by it by
    default (``--metric sotl --mode min``; docs/search.md, "The default score")."""
    from scalesearch.data import load_data

    setup = trial.settings
    data, val = load_data(setup.data, trial.image_size, num_train=setup.num_train,
                          num_val=setup.num_val, seed=setup.data_seed,
                          max_memory_gb=setup.train.max_memory_gb)
    trainer = ProxyTrainer(trial.model, data, val, setup.train, seed=trial.seed)
    state = trial.load()
    if state is not None:
        trainer.load_state_dict(state)
    while trainer.epoch < min(trial.epochs, trainer.epochs):
        if not trainer.train_epoch():
            raise TrainingFailed(trainer.error or "training failed")
        top1 = loss = None
        if trainer.epoch == trainer.epochs:
            res = trainer.result()
            if res.status != "ok":
                raise TrainingFailed(res.error or "training failed")
            top1, loss = res.top1, res.loss
        elif trial.scored(trainer.epoch) and trial.metric not in UNEVALUATED:
            top1, loss = trainer.evaluate(EVAL_IMAGES)
        if trial.checkpointing:
            trial.save(trainer.state_dict())
        trial.report(trainer.epoch, top1, loss=loss, images=trainer.seen,
                     seconds=trainer.seconds, train_loss=trainer.train_losses[-1],
                     sotl=sotl(trainer.train_losses))


def run_proxy(baseline: Scalable, mult: Multipliers, setup: ProxySetup, seed: int = 0) -> dict:
    """Build ``baseline`` at (d, w), train it at its proxy image size, return one flat record:
    depth, width, resolution, image_size, params, flops, seed, top1, loss, seconds, … status."""
    trainer, record = build_trainer(baseline, mult, setup, seed)
    while not trainer.done:
        trainer.train_epoch()
    return dict(record, **trainer.result().to_dict())
