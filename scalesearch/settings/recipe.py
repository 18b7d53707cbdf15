"""What one proxy training computes (:class:`TrainConfig`'s recipe, :class:`ProxySetup`) and
how it uses the machine (:class:`Hardware`), with their flags (``--epochs``, ``--device``…).

Shared by the φ=1 search (§3.3, step 1) and the strategy comparison (Table 3, Fig. 8): both
train at a reduced base image size (``proxy_size``), a network with resolution multiplier r
at round(proxy_size · r).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from scalesearch.data import DEFAULT_SYNTHETIC_SIZES
from scalesearch.errors import ScalesearchError, check_number, check_whole, check_within
from scalesearch.settings.fields import nested, plain_numbers, setting
from scalesearch.util.argtypes import integer, number
from scalesearch.util.hardware import AMPS, check_amp, check_device

OPTIMIZERS = ("adamw", "sgd", "rmsprop")
SCHEDULES = ("cosine", "constant", "exponential")
HEAD_INITS = ("reference", "zero")
MIN_TRAIN = 2  # images: a training batch of one cannot train BatchNorm
DEFAULT_PROXY_SIZE = 64  # px: a base of 224 would cost 12× the FLOPs on a CPU
MAX_PROXY_SIZE = 1024  # px: above B7's 600; 100000 px trained until a 622 GB allocation failed
HARDWARE = ("device", "compile", "loader_workers", "max_memory_gb")  # where/how fast, not what
DEFAULT_TRAINER = "proxy"  # the built-in training function (scalesearch.training.proxy.train)
MODES = ("max", "min")
TRAINING = {"trainer": DEFAULT_TRAINER, "metric": "top1", "mode": "max"}  # defaults: not stored
# what a folder written before a recipe field existed trained with: absent from its
# search.json, so such a value is not stored (that folder resumes with it given)
BEFORE = {"head_init": "reference"}


@dataclass(frozen=True, kw_only=True)
class Hardware:
    """How a training uses the machine (docs/performance.md): the "hardware" flags, which a
    :class:`TrainConfig` and a :class:`~scalesearch.settings.placement.Placement` share."""

    device: str = setting("auto", flag="--device", group="hardware",
                          metavar="{auto,cpu,cuda,cuda:N}", help="where each training runs; "
                          "auto = CUDA when available (default: {default})")
    amp: str = setting("auto", flag="--amp", group="hardware", choices=AMPS,
                       help="mixed precision; auto = bf16 on CUDA GPUs that support it, off "
                       "on the CPU; fp16 adds a GradScaler (default: {default})")
    compile: bool = setting(False, flag="--compile", group="hardware", action="store_true",
                            help="torch.compile each model (slow first steps; pays off on "
                            "GPUs and long runs)")
    max_memory_gb: float | None = setting(
        None, flag="--max-memory-gb", group="hardware", type=number, metavar="GB",
        help="ImageFolder splits decoding to more than this are streamed from disk by "
        "DataLoader workers (default: a quarter of the available memory)")

    def __post_init__(self) -> None:
        plain_numbers(self)
        check_number("--max-memory-gb", self.max_memory_gb, 0, optional=True)
        check_device(self.device)
        check_amp(self.amp)

    def hardware(self) -> dict:
        """The :class:`Hardware` fields alone, to apply to another settings object."""
        return {f: getattr(self, f) for f in Hardware.__dataclass_fields__}


@dataclass(frozen=True)
class TrainConfig(Hardware):
    """The proxy training recipe (:meth:`recipe`) and where and how fast it runs
    (:data:`HARDWARE`)."""

    epochs: float = setting(5.0, flag="--epochs", type=number, help="epochs ({default})")
    batch_size: int = setting(32, flag="--batch-size", type=integer,
                              help="batch size ({default})")
    optimizer: str = setting("adamw", flag="--optimizer", choices=OPTIMIZERS,
                             help="optimizer ({default}; rmsprop is the paper's)")
    lr: float = setting(3e-3, flag="--lr", type=number, help="peak learning rate at batch 32, "
                        "scaled linearly with --batch-size ({default})")
    lr_batch: int = 32  # reference batch of the linear rule lr · batch_size / lr_batch
    weight_decay: float = 0.02
    # 0.1 (timm's) gave the search a less reproducible ranking than none: seed-split τ 0.48 vs
    # 0.54, ICC 0.58 vs 0.69 (benchmarks/bench_signal.py, embedded data, 13 × 2, one run each)
    label_smoothing: float = setting(
        0.0, flag="--label-smoothing", type=number, metavar="ε", help="label smoothing of the "
        "cross-entropy, in [0, 1) ({default}; 0.1 ranked less reproducibly in "
        "benchmarks/bench_signal.py: docs/search.md)")
    head_init: str = setting(
        "reference", flag="--head-init", choices=HEAD_INITS, help="the classifier's initial "
        "weights: reference = the network's own (the built-ins: uniform ±1/√classes, made for "
        "1,000 classes: at 5–8 the first loss is 1.5–10× ln(classes)), zero = zeros, so the "
        "first loss is ln(classes); with --metric sotl --mode min it found the long run's "
        "answer most often (default: {default}; docs/search.md)")
    schedule: str = "cosine"  # cosine | constant | exponential (the paper's 0.97 per 2.4 epochs)
    warmup_epochs: float = 0.3
    augment: bool = True  # random-resized crop + flip where the data allows it
    channels_last: bool = True  # NHWC tensors: measured faster on CPU (docs/performance.md)
    threads: int | None = None  # torch CPU threads (None: torch's default)
    check_every: int = 50  # steps between host checks of the device-side non-finite flag
    loader_workers: int | None = None  # DataLoader processes for streamed splits (None: ≤ 4)
    eval_batch_size: int = 200

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.optimizer not in OPTIMIZERS:
            raise ScalesearchError(f"unknown optimizer {self.optimizer!r}; one of {OPTIMIZERS}")
        if self.head_init not in HEAD_INITS:
            raise ScalesearchError(f"unknown head init {self.head_init!r}; one of {HEAD_INITS}")
        if self.schedule not in SCHEDULES:
            raise ScalesearchError(f"unknown schedule {self.schedule!r}; one of {SCHEDULES}")
        check_number("--epochs", self.epochs, 0, strict=True)
        check_whole("--batch-size", self.batch_size)
        check_number("--lr", self.lr, 0, strict=True)
        check_whole("lr_batch", self.lr_batch)
        for name in ("weight_decay", "warmup_epochs"):
            check_number(name, getattr(self, name), 0)
        check_within("--label-smoothing", self.label_smoothing, 0, 1, "[)")  # 1: no signal
        check_whole("threads", self.threads, optional=True)
        check_whole("loader_workers", self.loader_workers, 0, optional=True)
        check_whole("check_every", self.check_every)
        check_whole("eval_batch_size", self.eval_batch_size)

    @property
    def peak_lr(self) -> float:
        """Linear scaling rule (Goyal et al. 2017): lr · batch_size / lr_batch, so a batch of 256
        trains with 8× the lr tuned at 32 and the default batch keeps ``lr`` unchanged."""
        return self.lr * self.batch_size / self.lr_batch

    def recipe(self) -> dict:
        """The fields that decide what a run computes, as a resume compares them: all but
        where and how fast it runs (:data:`HARDWARE`)."""
        return {k: v for k, v in asdict(self).items()
                if k not in HARDWARE and not (k in BEFORE and v == BEFORE[k])}


@dataclass(frozen=True)
class ProxySetup:
    """What every candidate of one experiment is trained on, and how."""

    data: str = setting("synthetic", flag="--data", help="'synthetic' (embedded, default) or "
                        "an ImageFolder root with train/<class>/ and val/<class>/")
    proxy_size: int | None = setting(
        DEFAULT_PROXY_SIZE, flag="--proxy-size", type=integer, help="base image size for "
        "training, at most "
        f"{MAX_PROXY_SIZE}; a network with resolution r trains at round(size·r) ({{default}}; "
        "None: the baseline's own)")
    num_train: int | None = setting(None, flag="--num-train", type=integer, help="training "
                                    f"images (synthetic: {DEFAULT_SYNTHETIC_SIZES[0]})")
    num_val: int | None = setting(None, flag="--num-val", type=integer, help="validation "
                                  f"images (synthetic: {DEFAULT_SYNTHETIC_SIZES[1]})")
    data_seed: int = 0
    dropout: float | None = 0.0  # None keeps the baseline's own rates
    drop_path: float | None = 0.0
    train: TrainConfig = nested(TrainConfig, skip=tuple(Hardware.__dataclass_fields__))
    trainer: str = setting(
        DEFAULT_TRAINER, flag="--train", group="training function", metavar="SPEC",
        help="the training function every candidate is trained with, called as train(trial): "
        "path/to/file.py:fn, package.module:fn or an installed trainer ({default}: the "
        "built-in proxy training; README 'Your own training')")
    metric: str = setting("top1", flag="--metric", group="training function", metavar="NAME",
                          help="what the ranking reads: the value the training function "
                          "reports under this name, or its score (default: {default}; the "
                          "built-in also reports sotl, its mean training loss: --metric sotl "
                          "--mode min)")
    mode: str = setting("max", flag="--mode", group="training function", choices=MODES,
                        help="whether a higher (max) or a lower (min) --metric is better "
                        "(default: {default})")

    def __post_init__(self) -> None:
        plain_numbers(self)
        if not isinstance(self.data, str) or not self.data:
            raise ScalesearchError(f"--data must be 'synthetic' or a folder, got {self.data!r}")
        if not isinstance(self.trainer, str) or not self.trainer.strip():
            raise ScalesearchError(f"--train must name a training function (file.py:fn, "
                                   f"module:fn or an installed trainer), got {self.trainer!r}")
        if not isinstance(self.metric, str) or not self.metric.isidentifier():
            raise ScalesearchError(f"--metric must be a name (a Python identifier, as "
                                   f"trial.report(epoch, {self.metric}=…) takes it), got "
                                   f"{self.metric!r}")
        if self.mode not in MODES:
            raise ScalesearchError(f"--mode must be max or min, got {self.mode!r}")
        check_whole("--proxy-size", self.proxy_size, 1, MAX_PROXY_SIZE, optional=True)
        for flag, value, low in (("--num-train", self.num_train, MIN_TRAIN),
                                 ("--num-val", self.num_val, 1)):
            check_whole(flag, value, low, optional=True)
        check_whole("data_seed", self.data_seed, 0)

    def to_dict(self) -> dict:
        """Plain-JSON form (inverse of :meth:`from_dict`); the training function, metric and
        mode only where they are not the defaults, so a folder written before they existed
        resumes."""
        return stored(asdict(self))

    @property
    def builtin(self) -> bool:
        """Whether the built-in proxy training runs."""
        return self.trainer == DEFAULT_TRAINER

    @property
    def ranks_top1(self) -> bool:
        """Whether the ranking reads the built-in's val top-1 (it has a chance level: a guess's;
        a function of your own, or another --metric, has none known)."""
        return self.builtin and self.metric == "top1" and self.mode == "max"

    @property
    def keeps_top1(self) -> bool:
        """Whether trials.csv holds the built-in's val top-1, so a guess's top-1 (chance) can
        be checked: as the ranked value, or as ``own_score`` under another --metric."""
        return self.builtin and (self.ranks_top1 or self.metric != "top1")

    @property
    def sign(self) -> int:
        """+1, or −1 under ``--mode min``: trials.csv's ``top1`` column holds sign × the
        reported metric, so every ranking decision reads "higher is better"."""
        return -1 if self.mode == "min" else 1

    @property
    def ranked(self) -> str:
        """What trials.csv's ``top1`` column holds, as reports label it: "top-1" (the
        default), the --metric's name, or "-NAME" under --mode min."""
        if self.metric == "top1" and self.mode == "max":
            return "top-1"
        return f"-{self.metric}" if self.mode == "min" else self.metric

    @classmethod
    def from_dict(cls, d: dict) -> ProxySetup:
        """Inverse of :meth:`to_dict`."""
        train = dict(d["train"])
        if "workers" in train:  # written before 0.3: TrainConfig.workers, now loader_workers
            train["loader_workers"] = train.pop("workers")
        train = {**BEFORE, **train}  # a field it does not hold: what it trained with
        return cls(**{**d, "train": TrainConfig(**train)})


def stored(setup: dict) -> dict:
    """A :class:`ProxySetup`'s dict without the training function's fields at their defaults
    (:data:`TRAINING`): the form search.json and compare.json store."""
    return {k: v for k, v in setup.items() if not (k in TRAINING and v == TRAINING[k])}
