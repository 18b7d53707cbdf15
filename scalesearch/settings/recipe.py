"""What one proxy training computes (:class:`TrainConfig`'s recipe, :class:`ProxySetup`) and
how it uses the machine (:class:`Hardware`), with their flags (``--epochs``, ``--device``…).

Shared by the φ=1 search (§3.3, step 1) and the strategy comparison (Table 3, Fig. 8): both
train at a reduced base image size (``proxy_size``), a network with resolution multiplier r
at round(proxy_size · r).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

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
LOSS = "sotl"  # the built-in's mean training loss (training.proxy.sotl): a search's default score
# what the built-in reports every epoch without evaluating: ranked by one of these, a scheduler's
# intermediate epochs need no evaluation
UNEVALUATED = (LOSS, "train_loss")
# what an absent training field means in a stored search.json / compare.json: the plain recipe
# (val top-1, higher is better) and what a folder that stores none ranked by (not stored)
TRAINING = {"trainer": DEFAULT_TRAINER, "metric": "top1", "mode": "max"}
# what a folder written before a recipe field existed trained with: absent from its
# search.json, so such a value is not stored (that folder resumes with it given)
BEFORE = {"head_init": "reference"}
UNSET = ("metric", "mode", "head_init")  # None until the command settles them (ProxySetup.settled)


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
    head_init: str | None = setting(
        None, flag="--head-init", choices=HEAD_INITS, help="the classifier's initial "
        "weights: reference = the network's own (the built-ins: uniform ±1/√classes, made for "
        "1,000 classes: at 5–8 the first loss is 1.5–10× ln(classes)), zero = zeros, so the "
        "first loss is ln(classes) (default: zero where the ranking reads the built-in's "
        f"training loss, --metric {LOSS} --mode min, else reference; docs/search.md)")
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
        if self.head_init is not None and self.head_init not in HEAD_INITS:
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
                if k not in HARDWARE and not (k in BEFORE and v in (None, BEFORE[k]))}


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
    metric: str | None = setting(
        None, flag="--metric", group="training function", metavar="NAME", help="what the "
        "ranking reads: the value the training function reports under this name, or its score "
        f"(top1). Default: {LOSS}, the built-in's mean training loss (with --mode min and "
        "--head-init zero), in a search with the built-in training; top1 otherwise (compare, "
        "your own training, --objective mnas; docs/search.md, 'The default score')")
    mode: str | None = setting(None, flag="--mode", group="training function", choices=MODES,
                               help="whether a higher (max) or a lower (min) --metric is "
                               f"better (default: min for the built-in's {LOSS}, else max)")

    def __post_init__(self) -> None:
        plain_numbers(self)
        if not isinstance(self.data, str) or not self.data:
            raise ScalesearchError(f"--data must be 'synthetic' or a folder, got {self.data!r}")
        if not isinstance(self.trainer, str) or not self.trainer.strip():
            raise ScalesearchError(f"--train must name a training function (file.py:fn, "
                                   f"module:fn or an installed trainer), got {self.trainer!r}")
        if self.metric is not None and (not isinstance(self.metric, str)
                                        or not self.metric.isidentifier()):
            raise ScalesearchError(f"--metric must be a name (a Python identifier, as "
                                   f"trial.report(epoch, {self.metric}=…) takes it), got "
                                   f"{self.metric!r}")
        if self.mode is not None and self.mode not in MODES:
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

    def settled(self, search: bool) -> ProxySetup:
        """This setup with its unset (None) --metric, --mode and --head-init at the command's
        defaults: a ``search`` with the built-in training ranks by its mean training loss
        (``sotl``, lower is better) from a zeroed classifier — it found the long run's answer
        most often (docs/search.md, 'The default score') —; anything else by val top-1 (or
        the function's score) with the network's own head."""
        metric = self.metric or (LOSS if search and self.builtin else TRAINING["metric"])
        loss = self.builtin and metric == LOSS
        mode = self.mode or ("min" if loss else TRAINING["mode"])
        head = self.train.head_init or ("zero" if loss and mode == "min" else BEFORE["head_init"])
        return replace(self, metric=metric, mode=mode, train=replace(self.train, head_init=head))

    def unset(self) -> tuple[str, ...]:
        """Which of :data:`UNSET` are None: left to the command's default (:meth:`settled`)."""
        return tuple(k for k in UNSET if getattr(self.train if k == "head_init" else self, k)
                     is None)

    def with_fields(self, values: dict) -> ProxySetup:
        """This setup with ``values`` of :data:`UNSET` (``head_init`` into the recipe)."""
        train = replace(self.train, head_init=values["head_init"]) if "head_init" in values \
            else self.train
        return replace(self, **{k: v for k, v in values.items() if k != "head_init"},
                       train=train)

    @property
    def plain(self) -> ProxySetup:
        """Itself once settled; unsettled (built directly, not by a command), its unset fields
        at the defaults outside a search: what the properties below read."""
        return self.settled(search=False) if self.unset() else self

    @property
    def ranks_loss(self) -> bool:
        """Whether the ranking reads the built-in's training loss, a stand-in for val top-1
        (a fidelity check's longer training ranks by top-1 instead)."""
        return self.builtin and self.plain.metric == LOSS

    @property
    def ranks_unevaluated(self) -> bool:
        """Whether the ranked value comes with every epoch of the built-in without an
        evaluation (:data:`UNEVALUATED`): a scheduler's rungs then evaluate nothing."""
        return self.builtin and self.plain.metric in UNEVALUATED

    def judged(self) -> ProxySetup:
        """The setup a longer training judges this one's ranking with: ranked by val top-1
        where this one ranks by the built-in's training loss (what that loss stands in for),
        else this one (a function's own --metric is what its user asks for)."""
        if not self.ranks_loss:
            return self
        return replace(self, metric=TRAINING["metric"], mode=TRAINING["mode"])

    @property
    def ranks_top1(self) -> bool:
        """Whether the ranking reads the built-in's val top-1 (it has a chance level: a guess's;
        a function of your own, or another --metric, has none known)."""
        return self.builtin and self.plain.ranked == "top-1"

    @property
    def keeps_top1(self) -> bool:
        """Whether trials.csv holds the built-in's val top-1, so a guess's top-1 (chance) can
        be checked: as the ranked value, or as ``own_score`` under another --metric."""
        return self.builtin and (self.ranks_top1 or self.plain.metric != "top1")

    @property
    def sign(self) -> int:
        """+1, or −1 under ``--mode min``: trials.csv's ``top1`` column holds sign × the
        reported metric, so every ranking decision reads "higher is better"."""
        return -1 if self.plain.mode == "min" else 1

    @property
    def ranked(self) -> str:
        """What trials.csv's ``top1`` column holds, as reports label it: "top-1" (val top-1,
        higher is better), the --metric's name, or "-NAME" under --mode min."""
        s = self.plain
        if s.metric == "top1" and s.mode == "max":
            return "top-1"
        return f"-{s.metric}" if s.mode == "min" else str(s.metric)

    @classmethod
    def from_dict(cls, d: dict) -> ProxySetup:
        """Inverse of :meth:`to_dict`."""
        train = dict(d["train"])
        if "workers" in train:  # written before 0.3: TrainConfig.workers, now loader_workers
            train["loader_workers"] = train.pop("workers")
        train = {**BEFORE, **train}  # a field it does not hold: what it trained with
        return cls(**{**TRAINING, **d, "train": TrainConfig(**train)})


def stored(setup: dict) -> dict:
    """A :class:`ProxySetup`'s dict without the training function's fields at their defaults
    (:data:`TRAINING`): the form search.json and compare.json store."""
    return {k: v for k, v in setup.items() if not (k in TRAINING and v == TRAINING[k])}
