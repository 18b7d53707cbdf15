"""Where and how a run trains — never what it computes, so a resume ignores it: the Ray
placement with the machine's hardware (:class:`Placement`), the experiment trackers it also
logs to (:class:`Tracking`) and how latency is timed (:class:`LatencySpec`)."""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch

from scalesearch.errors import MAX_WORKERS, ScalesearchError, check_number, check_whole
from scalesearch.settings.fields import nested, plain_numbers, setting
from scalesearch.settings.recipe import Hardware, ProxySetup
from scalesearch.settings.trackers import TRACKERS
from scalesearch.util.argtypes import integer, number
from scalesearch.util.hardware import parallel_device

LATENCY_DEVICES = ("cpu", "cuda")
LATENCY_GROUP = "latency (torch.utils.benchmark, median of an adaptive autorange)"


@dataclass(frozen=True)
class Placement(Hardware):
    """Where a run's trainings go: a Ray cluster (None: a local runtime), each trial's CPUs and
    GPUs (fractional below 1: 0.25 lets four trials share a GPU), at most ``max_concurrent``
    trials at once (None: as many as the resources allow), and the :class:`Hardware` each
    training uses."""

    address: str | None = setting(None, flag="--address", group="Ray", help="join a running "
                                  "Ray cluster (ray://host:10001 or 'auto'); default: a local "
                                  "one, dashboard off")
    cpus_per_trial: int = setting(1, flag="--cpus-per-trial", group="Ray", type=integer,
                                  help="CPUs (= torch threads) per trial; trials run "
                                  "concurrently on the rest ({default})")
    gpus_per_trial: float = setting(0.0, flag="--gpus-per-trial", group="hardware",
                                    type=number, metavar="G", help="GPUs per training, "
                                    "fractional allowed: 0.25 lets 4 trainings share a GPU "
                                    "(default: {default}, CPU only)")
    max_concurrent: int | None = setting(None, flag="--max-concurrent", group="Ray",
                                         aliases=("--workers",), type=integer, metavar="N",
                                         help="at most N trainings at once (default: as many "
                                         "as the CPUs and GPUs allow); --workers is the old "
                                         "spelling")

    def __post_init__(self):
        super().__post_init__()
        check_whole("--cpus-per-trial", self.cpus_per_trial)
        check_number("--gpus-per-trial", self.gpus_per_trial, 0)
        g = self.gpus_per_trial
        if g > 1 and g != int(g):
            raise ScalesearchError(f"--gpus-per-trial must be whole above 1 (Ray cannot split "
                                   f"a trial over GPUs), got {g:g}")
        check_whole("--max-concurrent", self.max_concurrent, 1, MAX_WORKERS, optional=True)

    def on(self, setup: ProxySetup) -> ProxySetup:
        """``setup`` trained with this placement's hardware; a hardware field the training
        sets and this placement leaves at its default is the training's."""
        train, base = setup.train, Hardware()
        chosen = {f.name: getattr(train, f.name) if getattr(self, f.name) == getattr(base, f.name)
                  else getattr(self, f.name) for f in fields(Hardware)}
        return replace(setup, train=replace(train, **chosen))

    def trial_setup(self, setup: ProxySetup) -> ProxySetup:
        """The setup one trial trains with (:meth:`on`): torch threads = its CPUs (unless set),
        ``auto`` on the CPU unless the trial was given GPUs, and a relative data folder made
        absolute here (a trial's working directory is its Ray worker's, not this process's)."""
        setup = self.on(setup)
        train = setup.train
        data = setup.data if setup.data == "synthetic" else str(Path(setup.data).resolve())
        return replace(setup, data=data, train=replace(
            train, threads=train.threads or self.cpus_per_trial,
            device=parallel_device(train.device, bool(self.gpus_per_trial))))


@dataclass(frozen=True)
class Tracking:
    """Which trackers a run logs to, and MLflow's tracking URI (None: ``RUN/mlruns``); the
    callbacks are :func:`scalesearch.settings.trackers.callbacks`'."""

    log_to: tuple[str, ...] | str = setting(
        (), flag="--log-to", group="experiment trackers", metavar="LIST", help="also log each "
        "run's per-epoch metrics, as Ray Tune callbacks: " + ", ".join(
            f"{name} ({t.help})" for name, t in TRACKERS.items()) + "; comma-separated, e.g. "
        f"{','.join(TRACKERS)} (default: none)")
    mlflow_uri: str | None = setting(None, flag="--mlflow-uri", group="experiment trackers",
                                     metavar="URI", help="MLflow tracking URI, e.g. "
                                     "http://host:5000 (default: sqlite:///OUT/mlruns/mlflow.db)")

    def __post_init__(self) -> None:
        plain_numbers(self)
        names = self.log_to.split(",") if isinstance(self.log_to, str) else self.log_to
        names = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
        unknown = [n for n in names if n not in TRACKERS]
        if unknown:
            raise ScalesearchError(f"--log-to: unknown tracker {unknown[0]!r}; choose from "
                                   f"{', '.join(TRACKERS)} (comma-separated)")
        if self.mlflow_uri is not None and "mlflow" not in names:
            raise ScalesearchError("--mlflow-uri is where MLflow runs go: add --log-to mlflow")
        for name in names:
            tracker = TRACKERS[name]
            if importlib.util.find_spec(tracker.package) is None:
                raise ScalesearchError(f"--log-to {name} needs the {tracker.package} package: "
                                       f"pip install 'scalesearch[{tracker.extra}]'")
        object.__setattr__(self, "log_to", names)


@dataclass(frozen=True)
class LatencySpec:
    """How latency is measured (defaults: EfficientNet Table 4's batch 1, one CPU thread)."""

    batch: int = setting(1, flag="--latency-batch", group=LATENCY_GROUP, type=integer,
                         metavar="N", help="images per forward pass ({default}, as "
                         "EfficientNet's Table 4)")
    threads: int = setting(1, flag="--latency-threads", group=LATENCY_GROUP, type=integer,
                           metavar="N", help="torch threads while timing ({default})")
    device: str = setting("cpu", flag="--latency-device", group=LATENCY_GROUP,
                          choices=LATENCY_DEVICES, help="where to time ({default})")
    rounds: int = 3  # measure_many: interleaved rounds; the median over rounds is reported

    def __post_init__(self) -> None:
        plain_numbers(self)
        if min(self.batch, self.threads, self.rounds) < 1:
            raise ScalesearchError(f"latency batch, threads and rounds must be ≥ 1, got batch "
                                   f"{self.batch}, threads {self.threads}, rounds {self.rounds}")
        if self.device not in LATENCY_DEVICES:
            raise ScalesearchError(f"latency device must be one of {', '.join(LATENCY_DEVICES)}"
                                   f", got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ScalesearchError("latency device cuda requested but CUDA is not available")

    def to_dict(self) -> dict:
        """Plain-JSON form (``LatencySpec(**d)`` rebuilds it)."""
        return asdict(self)


def latency_field():
    """The ``--latency`` switch: a :class:`LatencySpec` from its flags, or None without it."""
    return nested(LatencySpec, group=LATENCY_GROUP, flag="--latency", optional=True,
                  help="measure inference latency (latency_ms) of every network at its full "
                  "image size")


@dataclass(frozen=True)
class Timing:
    """Whether and how ``scale`` times the network it emits."""

    latency: LatencySpec | None = latency_field()
