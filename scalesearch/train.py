"""Proxy training: a short, seeded, deterministic run of one network at its own image size.

Defaults suit a few epochs from scratch on a CPU (AdamW, warmup + cosine, label smoothing);
the paper's recipe — RMSProp (decay 0.9, momentum 0.9, ε 1e-3), lr ×0.97 every 2.4 epochs —
is available as ``optimizer="rmsprop"``, ``schedule="exponential"``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from scalesearch.data import ImageSet
from scalesearch.data.augment import center_crop, normalize, random_resized_crop
from scalesearch.errors import ScalesearchError
from scalesearch.status import Status

OPTIMIZERS = ("adamw", "sgd", "rmsprop")
SCHEDULES = ("cosine", "constant", "exponential")
RECAL_IMAGES = 512  # training images whose BatchNorm statistics are used for evaluation


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 6.0
    batch_size: int = 32
    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 0.02
    label_smoothing: float = 0.1
    schedule: str = "cosine"
    warmup_epochs: float = 0.3
    augment: bool = True
    channels_last: bool = False
    threads: int | None = None
    device: str = "auto"
    eval_batch_size: int = 200

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ScalesearchError(f"unknown optimizer {self.optimizer!r}; one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise ScalesearchError(f"unknown schedule {self.schedule!r}; one of {SCHEDULES}")
        if self.epochs <= 0 or self.batch_size < 1 or self.lr <= 0:
            raise ScalesearchError("epochs, batch size and lr must be positive")


@dataclass(frozen=True)
class TrainResult:
    top1: float | None
    loss: float | None
    seconds: float
    images_per_sec: float
    steps: int
    status: str  # Status.OK or Status.FAILED
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]  # BN and biases
    groups = [dict(params=decay, weight_decay=cfg.weight_decay),
              dict(params=no_decay, weight_decay=0.0)]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, nesterov=True)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=cfg.lr, alpha=0.9, momentum=0.9, eps=1e-3)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def _lr_factor(cfg: TrainConfig, step: int, total: int, steps_per_epoch: int) -> float:
    warmup = cfg.warmup_epochs * steps_per_epoch
    if step < warmup:
        return (step + 1) / warmup
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1.0, total - warmup)))
    if cfg.schedule == "exponential":
        return 0.97 ** ((step / steps_per_epoch) / 2.4)
    return 1.0


def _batch(data: ImageSet, idx: torch.Tensor, device, gen, train: bool, cfg: TrainConfig):
    x = data.images[idx]
    if train and cfg.augment and data.augment:
        x = random_resized_crop(normalize(x.to(device)), data.image_size, gen)
    else:
        x = normalize(center_crop(x, data.image_size).to(device))
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, data.labels[idx].to(device)


def subset(data: ImageSet, n: int) -> ImageSet:
    """``n`` images at an even stride (class-balanced for class-sorted folders), deterministic."""
    idx = torch.linspace(0, len(data) - 1, n).round().long().unique()
    return replace(data, images=data.images[idx], labels=data.labels[idx])


@torch.no_grad()
def recalibrate_bn(model: nn.Module, data: ImageSet, cfg: TrainConfig, device: torch.device,
                   images: int = RECAL_IMAGES) -> None:
    """Re-estimate BatchNorm running statistics as a plain average over ``images`` training
    images. Short runs need it: with the reference momentum (TF decay 0.99) the running
    statistics still hold their initial values after a few dozen steps."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    for start in range(0, min(images, len(data)), cfg.eval_batch_size):
        idx = torch.arange(start, min(start + cfg.eval_batch_size, images, len(data)))
        model(_batch(data, idx, device, None, False, cfg)[0])
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum


@torch.inference_mode()
def evaluate(model: nn.Module, data: ImageSet, cfg: TrainConfig,
             device: torch.device) -> tuple[float, float]:
    """(top-1 %, mean cross-entropy) on ``data``."""
    model.eval()
    correct, loss = 0, 0.0
    for start in range(0, len(data), cfg.eval_batch_size):
        idx = torch.arange(start, min(start + cfg.eval_batch_size, len(data)))
        x, y = _batch(data, idx, device, None, False, cfg)
        logits = model(x)
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    return 100.0 * correct / len(data), loss / len(data)


class ProxyTrainer:
    """One seeded proxy training, stepped an epoch at a time so a scheduler (ASHA) can read
    validation top-1 after every epoch and stop the run; :func:`train_proxy` runs it through.

    Epoch boundaries are multiples of ceil(len(train) / batch_size) steps; a fractional
    ``cfg.epochs`` makes the last epoch partial. Evaluating between epochs does not change the
    training (BN statistics are re-estimated from scratch at every evaluation)."""

    def __init__(self, model: nn.Module, train: ImageSet, val: ImageSet, cfg: TrainConfig, *,
                 seed: int = 0):
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.cfg, self.train_set, self.val_set = cfg, train, val
        self.device = resolve_device(cfg.device)
        torch.manual_seed(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.model = model.to(self.device)
        if cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.opt = _optimizer(self.model, cfg)
        self.steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
        self.total = max(1, round(cfg.epochs * self.steps_per_epoch))
        self.epochs = math.ceil(self.total / self.steps_per_epoch)  # reports, the last partial
        self.step = self.seen = self.epoch = 0
        self.seconds = 0.0
        self.error: str | None = None
        self._iter = self._batches()

    @property
    def done(self) -> bool:
        return self.step >= self.total or self.error is not None

    def _batches(self):
        """Index batches continuing across epochs: a fresh permutation per pass."""
        while True:
            order = torch.randperm(len(self.train_set), generator=self.gen)
            for first in range(0, len(self.train_set), self.cfg.batch_size):
                yield order[first:first + self.cfg.batch_size]

    def train_epoch(self, progress: Callable[[int, int], None] | None = None) -> bool:
        """Train up to the next epoch boundary; False (and ``error`` set) on a non-finite loss."""
        if self.done:
            return self.error is None
        cfg, start = self.cfg, time.perf_counter()
        stop = min(self.total, (self.epoch + 1) * self.steps_per_epoch)
        self.model.train()
        while self.step < stop:
            for group in self.opt.param_groups:
                group["lr"] = cfg.lr * _lr_factor(cfg, self.step, self.total, self.steps_per_epoch)
            x, y = _batch(self.train_set, next(self._iter), self.device, self.gen, True, cfg)
            loss = F.cross_entropy(self.model(x), y, label_smoothing=cfg.label_smoothing)
            if not torch.isfinite(loss):
                self.error = f"non-finite loss at step {self.step}"
                break
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.seen, self.step = self.seen + len(y), self.step + 1
            if progress:
                progress(self.step, self.total)
        self.seconds += time.perf_counter() - start
        self.epoch += 1
        return self.error is None

    def evaluate(self, max_images: int | None = None) -> tuple[float, float]:
        """(val top-1 %, val loss) after re-estimating BatchNorm statistics. ``max_images``
        evaluates a fixed, evenly strided val subset (and recalibrates on half as many training
        images): cheap enough for every epoch of an ASHA run."""
        val, recal = self.val_set, RECAL_IMAGES
        if max_images and max_images < len(val):
            val = subset(val, max_images)
            recal = min(recal, max(max_images // 2, self.cfg.batch_size))
        recalibrate_bn(self.model, self.train_set, self.cfg, self.device, images=recal)
        return evaluate(self.model, val, self.cfg, self.device)

    def result(self, top1: float | None = None, loss: float | None = None) -> TrainResult:
        """The run's record; evaluates unless ``top1``/``loss`` of the last epoch are given."""
        rate = self.seen / self.seconds if self.seconds else 0.0
        if self.error:
            return TrainResult(None, None, self.seconds, rate, self.step, Status.FAILED,
                               self.error)
        if top1 is None:
            top1, loss = self.evaluate()
        if not math.isfinite(loss):
            return TrainResult(None, None, self.seconds, rate, self.step, Status.FAILED,
                               "non-finite validation loss")
        return TrainResult(top1, loss, self.seconds, rate, self.step, Status.OK)


def train_proxy(model: nn.Module, train: ImageSet, val: ImageSet, cfg: TrainConfig, *,
                seed: int = 0, progress: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train ``model`` for ``cfg.epochs`` on ``train`` and evaluate val top-1 and loss.
    A non-finite loss stops the run and returns status "failed" (it does not raise)."""
    trainer = ProxyTrainer(model, train, val, cfg, seed=seed)
    while not trainer.done:
        trainer.train_epoch(progress)
    return trainer.result()
