"""Proxy training: a short, seeded, deterministic run of one network at its own image size.

Defaults suit a few epochs from scratch on a CPU (AdamW, warmup + cosine, label smoothing);
the paper's recipe — RMSProp (decay 0.9, momentum 0.9, ε 1e-3), lr ×0.97 every 2.4 epochs —
is available as ``optimizer="rmsprop"``, ``schedule="exponential"``. The same loop runs on a
CPU or a GPU (device, AMP, channels_last, compile, lr scaling: docs/performance.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from scalesearch.data import FolderStream, ImageSet
from scalesearch.errors import ScalesearchError
from scalesearch.settings.recipe import MIN_TRAIN, TrainConfig
from scalesearch.util.hardware import Precision, resolve_device
from scalesearch.util.status import Status

Data = ImageSet | FolderStream

RECAL_IMAGES = 512  # training images whose BatchNorm statistics are used for evaluation


@dataclass(frozen=True)
class TrainResult:
    """Outcome of one proxy training: val top-1 and loss, time, throughput, status."""

    top1: float | None
    loss: float | None
    seconds: float
    images_per_sec: float
    steps: int
    status: str  # Status.OK or Status.FAILED
    error: str | None = None

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Parameter groups without decay for BN and biases; lr is set per step by the schedule."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]  # BN and biases
    groups = [dict(params=decay, weight_decay=cfg.weight_decay),
              dict(params=no_decay, weight_decay=0.0)]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.peak_lr, momentum=0.9, nesterov=True)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=cfg.peak_lr, alpha=0.9, momentum=0.9, eps=1e-3)
    return torch.optim.AdamW(groups, lr=cfg.peak_lr)


def zero_classifier(model: nn.Module) -> None:
    """Zero the classifier (``model.classifier``, else the last ``nn.Linear``): every logit
    starts at 0, so the first loss is ln(classes) whatever the class count — the reference
    init (uniform ±1/√classes, EfficientNet's for 1,000 classes) starts 5–8-class proxies at
    1.5–10× that (docs/search.md)."""
    head = getattr(model, "classifier", None)
    if not isinstance(head, nn.Linear):
        head = next((m for m in reversed(list(model.modules())) if isinstance(m, nn.Linear)),
                    None)
    if head is None:
        raise ScalesearchError("--head-init zero needs a classifier: the network has no "
                               "nn.Linear")
    with torch.no_grad():
        head.weight.zero_()
        if head.bias is not None:
            head.bias.zero_()


def _lr_factor(cfg: TrainConfig, step: int, total: int, steps_per_epoch: int) -> float:
    warmup = cfg.warmup_epochs * steps_per_epoch
    if step < warmup:
        return (step + 1) / warmup
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1.0, total - warmup)))
    if cfg.schedule == "exponential":
        return 0.97 ** ((step / steps_per_epoch) / 2.4)
    return 1.0


def split_batches(indices: torch.Tensor, batch: int) -> list[torch.Tensor]:
    """``indices`` cut into batches of ``batch``, a last batch of one merged into the one
    before it: BatchNorm cannot train on a single image, and no training may depend on how
    the number of images divides by the batch size."""
    chunks = list(indices.split(batch))
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-2:] = [torch.cat(chunks[-2:])]
    return chunks


def batches_per_epoch(n: int, batch: int) -> int:
    """How many batches :func:`split_batches` cuts ``n`` images into."""
    return math.ceil(n / batch) - (n > batch and n % batch == 1)


def _ordered(n: int, batch: int, limit: int | None = None):
    """Index batches 0…min(n, limit) in order (evaluation, BN recalibration)."""
    return split_batches(torch.arange(n if limit is None else min(n, limit)), batch)


def _batches(data: Data, order, device: torch.device, cfg: TrainConfig,
             gen: torch.Generator | None = None):
    """(x, y) on ``device`` for each index batch, augmented from ``gen`` when given."""
    for x, y in data.batches(order, device, gen if cfg.augment else None,
                            cfg.loader_workers):
        yield (x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x), y


def strided(n: int, k: int) -> torch.Tensor:
    """``k`` of ``n`` indices at an even stride: a fixed, deterministic subset that is
    class-balanced for class-sorted folders."""
    return torch.linspace(0, n - 1, min(n, k)).round().long().unique()


@torch.no_grad()
def recalibrate_bn(model: nn.Module, data: Data, cfg: TrainConfig, device: torch.device,
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
    with Precision(cfg.amp, device).autocast():
        for x, _ in _batches(data, _ordered(len(data), cfg.eval_batch_size, images), device, cfg):
            model(x)
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum


@torch.inference_mode()
def evaluate(model: nn.Module, data: Data, cfg: TrainConfig, device: torch.device,
             indices: torch.Tensor | None = None) -> tuple[float, float]:
    """(top-1 %, mean cross-entropy) on ``data`` (or on its images at ``indices``)."""
    model.eval()
    idx = torch.arange(len(data)) if indices is None else indices
    order = (idx[i:i + cfg.eval_batch_size] for i in range(0, len(idx), cfg.eval_batch_size))
    correct = torch.zeros((), dtype=torch.int64, device=device)
    loss = torch.zeros((), dtype=torch.float64, device=device)
    with Precision(cfg.amp, device).autocast():
        for x, y in _batches(data, order, device, cfg):
            logits = model(x)
            loss += F.cross_entropy(logits.float(), y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
    return 100.0 * correct.item() / len(idx), loss.item() / len(idx)


class ProxyTrainer:
    """One seeded proxy training, stepped an epoch at a time so a scheduler (ASHA) can read
    validation top-1 after every epoch and stop the run; :func:`train_proxy` runs it through.

    Epoch boundaries are multiples of :func:`batches_per_epoch` steps (ceil(len(train) /
    batch_size), less one when a last batch of one is merged into the one before); a fractional
    ``cfg.epochs`` makes the last epoch partial. Evaluating between epochs does not change the
    training (BN statistics are re-estimated from scratch at every evaluation). The loss is
    never read on the host per step: a device-side flag collects non-finite losses and is read
    every ``cfg.check_every`` steps and at the end of each epoch; each epoch's mean training
    loss (:attr:`train_losses`; their sum is Ru et al.'s "sum of training losses", a ranking
    score of issue 36 §5) is summed on the device and read with it. Between epochs,
    :meth:`state_dict` is a checkpoint that :meth:`load_state_dict` continues exactly."""

    def __init__(self, model: nn.Module, train: Data, val: Data, cfg: TrainConfig, *,
                 seed: int = 0):
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.train_set, self.val_set = train.to(self.device), val.to(self.device)
        self.precision = Precision(cfg.amp, self.device)
        torch.manual_seed(seed)
        if cfg.head_init == "zero":
            zero_classifier(model)
        self.model = model.to(self.device)
        if cfg.channels_last:
            # Module.to takes memory_format; torch's overloads leave it out
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        # compile returns a module for a module; torch's stubs say only a callable
        self.net: nn.Module = \
            torch.compile(self.model) if cfg.compile else self.model  # type: ignore[assignment]
        self.opt = _optimizer(self.model, cfg)
        if len(train) < MIN_TRAIN:
            raise ScalesearchError(f"training needs ≥ {MIN_TRAIN} images (BatchNorm cannot "
                                   f"train on one), got {len(train)}")
        self.steps_per_epoch = batches_per_epoch(len(train), cfg.batch_size)
        self.total = max(1, round(cfg.epochs * self.steps_per_epoch))
        self.epochs = math.ceil(self.total / self.steps_per_epoch)  # reports, the last partial
        self.seed = seed
        self.step = self.seen = self.epoch = 0
        self.seconds = 0.0
        self.error: str | None = None
        self.train_losses: list[float] = []  # each epoch's mean training loss (Ru et al.)

    @property
    def done(self) -> bool:
        """Whether training is over: every step taken, or an error."""
        return self.step >= self.total or self.error is not None

    def _epoch_batches(self, seed: int):
        """This epoch's (x, y) batches: one pass over a fresh permutation, order and crops drawn
        from a generator seeded by ``seed``."""
        gen = torch.Generator().manual_seed(seed)
        order = split_batches(torch.randperm(len(self.train_set), generator=gen),
                              self.cfg.batch_size)
        return _batches(self.train_set, order, self.device, self.cfg, gen)

    def state_dict(self) -> dict:
        """Everything the next epoch depends on (a checkpoint between epochs)."""
        scaler = self.precision.scaler
        return dict(model=self.model.state_dict(), opt=self.opt.state_dict(),
                    scaler=scaler.state_dict() if scaler else None, step=self.step,
                    seen=self.seen, epoch=self.epoch, seconds=self.seconds, error=self.error,
                    train_losses=list(self.train_losses))

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` (same model, data and config)."""
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        if self.precision.scaler and state["scaler"]:
            self.precision.scaler.load_state_dict(state["scaler"])
        for key in ("step", "seen", "epoch", "seconds", "error"):
            setattr(self, key, state[key])
        self.train_losses = list(state.get("train_losses", []))  # none before 0.4

    def train_epoch(self, progress: Callable[[int, int], None] | None = None) -> bool:
        """Train up to the next epoch boundary; False (and ``error`` set) on a non-finite loss."""
        if self.done:
            return self.error is None
        cfg, start = self.cfg, time.perf_counter()
        stop = min(self.total, (self.epoch + 1) * self.steps_per_epoch)
        bad = torch.zeros((), dtype=torch.bool, device=self.device)
        total = torch.zeros((), dtype=torch.float64, device=self.device)  # Σ training loss
        first = begin = self.step  # first: since the flag was last read; begin: the epoch's
        self.model.train()
        # Every random draw of the epoch (order, crops, dropout, drop-path) is seeded by
        # (seed, epoch), not by what ran before in this process: seeds trained in lockstep do not
        # share a stream, and a trainer restored from state_dict() continues exactly.
        seed = self.seed * 1_000_003 + self.epoch
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(seed)
            batches = self._epoch_batches(seed)
            while self.step < stop:
                for group in self.opt.param_groups:
                    group["lr"] = cfg.peak_lr * _lr_factor(cfg, self.step, self.total,
                                                           self.steps_per_epoch)
                x, y = next(batches)
                with self.precision.autocast():
                    loss = F.cross_entropy(self.net(x), y, label_smoothing=cfg.label_smoothing)
                bad |= ~torch.isfinite(loss.detach())
                total += loss.detach()
                self.opt.zero_grad(set_to_none=True)
                self.precision.backward_step(loss, self.opt)
                self.seen, self.step = self.seen + len(y), self.step + 1
                if progress:
                    progress(self.step, self.total)
                if self.step - first == cfg.check_every or self.step == stop:
                    if bad.item():  # the only host sync of the loop
                        self.error = f"non-finite loss in steps {first}–{self.step - 1}"
                        break
                    first = self.step
            batches.close()  # stops DataLoader workers of a streamed split
        self.seconds += time.perf_counter() - start
        self.epoch += 1
        if self.error is None:  # read once an epoch, after the flag's own host sync
            self.train_losses.append(total.item() / max(1, self.step - begin))
        return self.error is None

    def evaluate(self, max_images: int | None = None) -> tuple[float, float]:
        """(val top-1 %, val loss) after re-estimating BatchNorm statistics. ``max_images``
        evaluates a fixed, evenly strided val subset (and recalibrates on half as many training
        images): cheap enough for every epoch of an ASHA run."""
        indices, recal = None, RECAL_IMAGES
        if max_images and max_images < len(self.val_set):
            indices = strided(len(self.val_set), max_images)
            recal = min(recal, max(max_images // 2, self.cfg.batch_size))
        recalibrate_bn(self.net, self.train_set, self.cfg, self.device, images=recal)
        return evaluate(self.net, self.val_set, self.cfg, self.device, indices)

    def result(self, top1: float | None = None, loss: float | None = None) -> TrainResult:
        """The run's record; evaluates unless ``top1``/``loss`` of the last epoch are given."""
        rate = self.seen / self.seconds if self.seconds else 0.0
        if self.error:
            return TrainResult(None, None, self.seconds, rate, self.step, Status.FAILED,
                               self.error)
        if top1 is None:
            top1, loss = self.evaluate()
        assert loss is not None, "result(top1=…) needs the loss it was measured with"
        if not math.isfinite(loss):
            return TrainResult(None, None, self.seconds, rate, self.step, Status.FAILED,
                               "non-finite validation loss")
        return TrainResult(top1, loss, self.seconds, rate, self.step, Status.OK)


def train_proxy(model: nn.Module, train: Data, val: Data, cfg: TrainConfig, *,
                seed: int = 0, progress: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train ``model`` for ``cfg.epochs`` on ``train`` and evaluate val top-1 and loss.
    A non-finite loss stops the run and returns status "failed" (it does not raise)."""
    trainer = ProxyTrainer(model, train, val, cfg, seed=seed)
    while not trainer.done:
        trainer.train_epoch(progress)
    return trainer.result()
