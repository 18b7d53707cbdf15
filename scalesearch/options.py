"""The options of ``search``, ``fidelity`` and ``compare``, defined once for the command line
and the Python API (``scalesearch.search(...)``, ``fidelity(...)``, ``compare(...)``).

Each ``add_*_args`` function declares options on an argparse parser — flag, type, default,
help. A default is read from the config dataclass's field (:func:`default`: SearchConfig,
Ranges, TrainConfig, ProxySetup, CompareConfig), so the CLI, the API and a config built in
Python agree; the API reads the parser's defaults back (:func:`resolve_options`). The
``*_config`` functions turn the option values into the library's config objects for both.
The parser only reads text (:mod:`scalesearch.argtypes`); every range is checked once, by
the config dataclasses' ``__post_init__``, so the CLI and the API refuse the same values with
the same message (README's bad-input table, run both ways by tests/test_readme.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import MISSING

from scalesearch.argtypes import duration, integer, number, read_coefficients, value_range
from scalesearch.coefsearch.config import SAMPLERS, SCHEDULERS, FidelityConfig, SearchConfig
from scalesearch.coefsearch.objective import LATENCY_WEIGHT, OBJECTIVES, Objective
from scalesearch.coefsearch.space import Ranges
from scalesearch.coefsearch.stats import TIE_BREAKS
from scalesearch.errors import ScalesearchError
from scalesearch.proxy import ProxySetup
from scalesearch.train import OPTIMIZERS, TrainConfig


def default(cls: type, name: str):
    """The default of field ``name`` of dataclass ``cls``: the one place it is written."""
    f = cls.__dataclass_fields__[name]
    return f.default_factory() if f.default is MISSING else f.default


def add_training_args(p: argparse.ArgumentParser) -> None:
    """--data, --epochs, --proxy-size, --batch-size, --lr, --optimizer, --label-smoothing,
    --num-train, --num-val (the "proxy training" group)."""
    t = p.add_argument_group("proxy training")
    t.add_argument("--data", default=default(ProxySetup, "data"), help="'synthetic' (embedded, "
                   "default) or an ImageFolder root with train/<class>/ and val/<class>/")
    epochs = default(TrainConfig, "epochs")
    t.add_argument("--epochs", type=number, default=epochs, help=f"epochs ({epochs:g})")
    size = default(ProxySetup, "proxy_size")
    t.add_argument("--proxy-size", type=integer, default=size, help="base image size for "
                   f"training; a network with resolution r trains at round(size·r) ({size})")
    batch, lr = default(TrainConfig, "batch_size"), default(TrainConfig, "lr")
    t.add_argument("--batch-size", type=integer, default=batch, help=f"batch size ({batch})")
    t.add_argument("--lr", type=number, default=lr, help=f"peak learning rate at batch "
                   f"{default(TrainConfig, 'lr_batch')}, scaled linearly with --batch-size "
                   f"({lr:g})")
    optimizer = default(TrainConfig, "optimizer")
    t.add_argument("--optimizer", choices=OPTIMIZERS, default=optimizer,
                   help=f"optimizer ({optimizer}; rmsprop is the paper's)")
    smoothing = default(TrainConfig, "label_smoothing")
    t.add_argument("--label-smoothing", type=number, default=smoothing, metavar="ε",
                   help=f"label smoothing of the cross-entropy ({smoothing:g}; 0.1 ranked "
                   "less reproducibly in benchmarks/bench_signal.py: docs/search.md)")
    t.add_argument("--num-train", type=integer, help="training images (synthetic: 1000)")
    t.add_argument("--num-val", type=integer, help="validation images (synthetic: 400)")


def add_hardware_args(p: argparse.ArgumentParser) -> None:
    """--device, --amp, --compile, --gpus-per-trial, --max-memory-gb (docs/performance.md)."""
    from scalesearch.cluster import Placement
    from scalesearch.hardware import AMPS

    h = p.add_argument_group("hardware")
    device, amp = default(TrainConfig, "device"), default(TrainConfig, "amp")
    h.add_argument("--device", default=device, metavar="{auto,cpu,cuda,cuda:N}",
                   help=f"where each training runs; auto = CUDA when available (default: "
                   f"{device})")
    h.add_argument("--amp", choices=AMPS, default=amp, help="mixed precision; auto = bf16 "
                   "on CUDA GPUs that support it, off on the CPU; fp16 adds a GradScaler "
                   f"(default: {amp})")
    h.add_argument("--compile", action="store_true", help="torch.compile each model (slow "
                   "first steps; pays off on GPUs and long runs)")
    gpus = default(Placement, "gpus_per_trial")
    h.add_argument("--gpus-per-trial", type=number, default=gpus, metavar="G",
                   help="GPUs per training, fractional allowed: 0.25 lets 4 trainings share "
                   f"a GPU (default: {gpus:g}, CPU only)")
    h.add_argument("--max-memory-gb", type=number, metavar="GB", help="ImageFolder "
                   "splits decoding to more than this are streamed from disk by DataLoader "
                   "workers (default: a quarter of the available memory)")


def setup_from_args(args: argparse.Namespace):
    """The ProxySetup of the training and hardware flags (add_training_args and
    add_hardware_args); the learning rate is the peak at batch 32, scaled linearly."""
    from scalesearch.proxy import ProxySetup
    from scalesearch.train import TrainConfig

    return ProxySetup(data=args.data, proxy_size=args.proxy_size, num_train=args.num_train,
                      num_val=args.num_val, train=TrainConfig(
                          epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          optimizer=args.optimizer, label_smoothing=args.label_smoothing,
                          **hardware_from_args(args)))


def hardware_from_args(args: argparse.Namespace) -> dict:
    """TrainConfig's device, amp, compile and max_memory_gb from add_hardware_args' flags (the
    device checked)."""
    from scalesearch.hardware import check_device

    check_device(args.device)
    return dict(device=args.device, amp=args.amp, compile=args.compile,
                max_memory_gb=args.max_memory_gb)


def add_latency_args(p: argparse.ArgumentParser) -> None:
    """--latency, --latency-batch, --latency-threads, --latency-device (LatencySpec's
    defaults)."""
    from scalesearch.latency import DEVICES, LatencySpec

    d = LatencySpec()
    g = p.add_argument_group("latency (torch.utils.benchmark, median of an adaptive autorange)")
    g.add_argument("--latency", action="store_true", help="measure inference latency "
                   "(latency_ms) of every network at its full image size")
    g.add_argument("--latency-batch", type=integer, default=d.batch, metavar="N",
                   help=f"images per forward pass ({d.batch}, as EfficientNet's Table 4)")
    g.add_argument("--latency-threads", type=integer, default=d.threads, metavar="N",
                   help=f"torch threads while timing ({d.threads})")
    g.add_argument("--latency-device", choices=DEVICES, default=d.device,
                   help=f"where to time ({d.device})")


def latency_from_args(args: argparse.Namespace):
    """The LatencySpec of --latency*, or None without --latency."""
    from scalesearch.latency import LatencySpec

    if not args.latency:
        return None
    return LatencySpec(args.latency_batch, args.latency_threads, args.latency_device)


def add_ray_args(p: argparse.ArgumentParser) -> None:
    """--address and --cpus-per-trial (Placement's defaults), the "Ray" group."""
    from scalesearch.cluster import Placement

    r = p.add_argument_group("Ray")
    r.add_argument("--address", help="join a running Ray cluster (ray://host:10001 or 'auto'); "
                   "default: a local one, dashboard off")
    cpus = default(Placement, "cpus_per_trial")
    r.add_argument("--cpus-per-trial", type=integer, default=cpus,
                   help=f"CPUs (= torch threads) per trial; trials run concurrently on the rest "
                   f"({cpus})")


def add_tracker_args(p: argparse.ArgumentParser) -> None:
    """--log-to and --mlflow-uri (:mod:`scalesearch.trackers`), the "experiment trackers" group."""
    t = p.add_argument_group("experiment trackers")
    t.add_argument("--log-to", default="", metavar="LIST", help="also log each run's per-epoch "
                   "metrics, as Ray Tune callbacks: tensorboard (OUT/tensorboard/), "
                   "mlflow (OUT/mlruns/ unless --mlflow-uri); comma-separated, e.g. "
                   "tensorboard,mlflow (default: neither)")
    t.add_argument("--mlflow-uri", metavar="URI", help="MLflow tracking URI, e.g. "
                   "http://host:5000 (default: sqlite:///OUT/mlruns/mlflow.db)")


def tracking_from_args(args: argparse.Namespace):
    """The Tracking of --log-to and --mlflow-uri."""
    from scalesearch.trackers import Tracking

    return Tracking(args.log_to or (), args.mlflow_uri)


def add_search_args(p: argparse.ArgumentParser) -> None:
    """Every option of ``scalesearch search`` but --format."""
    p.add_argument("--baseline", default="efficientnet-b0",
                   help="network to search on (default: efficientnet-b0)")
    p.add_argument("--out", default="runs/search", help="output folder (default: runs/search)")
    p.add_argument("--resume", action="store_true", help="continue the search in --out "
                   "without retraining finished trials")
    def d(name: str):
        return default(SearchConfig, name)

    g = p.add_argument_group("candidates")
    step = default(Ranges, "step")
    g.add_argument("--grid-step", type=number, default=step, help=f"grid step ({step:g})")
    g.add_argument("--tolerance", type=number, default=d("tolerance"),
                   help=f"keep |α·β²·γ²/2 − 1| ≤ this, relative ({d('tolerance'):g}: the "
                   "paper's 1.2, 1.1, 1.15 with product 1.92 is in)")
    g.add_argument("--match-flops", action=argparse.BooleanOptionalAction,
                   default=d("match_flops"),
                   help="solve each candidate's training resolution so its measured FLOPs "
                   "ratio is 2 ± 3%% (fair candidates: none wins by having more FLOPs); "
                   "--no-match-flops trains at γ and filters by --flops-tolerance (default: "
                   f"{'on' if d('match_flops') else 'off'})")
    g.add_argument("--flops-tolerance", type=number, default=d("flops_tolerance"),
                   help="with --no-match-flops: keep |measured FLOPs ratio − 2| ≤ this, at the "
                   f"baseline's image size ({d('flops_tolerance'):g})")
    for name in ("alpha", "beta", "gamma"):
        lo, hi = default(Ranges, name)
        g.add_argument(f"--{name}-range", type=value_range, default=(lo, hi),
                       metavar="LO:HI", help=f"{name} range ({lo:g}:{hi:g})")
    g.add_argument("--sampler", choices=SAMPLERS, default=d("sampler"), help="grid: every "
                   "filtered candidate; tpe: --trials candidates, γ solved from α, β (grid)")
    g.add_argument("--trials", type=integer, help="TPE budget (trained candidates)")
    g.add_argument("--sampler-seed", "--seed", dest="seed", type=integer,
                   default=d("sampler_seed"), help="the sampler's seed: the grid's start "
                   f"order, TPE's draws ({d('sampler_seed')}); not a training seed (--seeds "
                   "counts those, --seed-offset moves them); --seed is the old spelling")
    e = p.add_argument_group("evidence and budget")
    e.add_argument("--seeds", type=integer, default=d("seeds"), help="trainings per "
                   "candidate; the ranking uses the mean, the 95%% interval and p_best from the "
                   "seed noise pooled over candidates, and the seed-split τ says whether it "
                   "reproduces "
                   f"({d('seeds')}; 1 cannot measure seed noise)")
    e.add_argument("--scheduler", choices=SCHEDULERS, default=d("scheduler"),
                   help="sha: synchronous successive halving on Ray Tune — at each rung "
                   "--min-epochs·η^k, once every candidate has reported, the best 1/η go on "
                   "from their checkpoints (the answer does not depend on arrival order); "
                   "asha: Ray Tune's asynchronous "
                   "ASHA (no waiting, works with TPE, but cuts by arrival order: "
                   "docs/search.md); none: every candidate trains --epochs (default: "
                   f"{d('scheduler')})")
    e.add_argument("--min-epochs", type=integer, default=d("min_epochs"), help="the first "
                   f"rung ({d('min_epochs')}: after one epoch the candidates' ranking was noise, "
                   "docs/search.md)")
    e.add_argument("--curves", action="store_true", help="without a scheduler, evaluate every "
                   "epoch too (on the 200-image val subset; trials.csv's history): learning "
                   "curves, to choose where rungs go (docs/search.md)")
    e.add_argument("--budget", type=duration, metavar="DURATION", help="plan the proxy from "
                   "a time budget (90s, 4m, 2h, 1h30m): a pilot times the cheapest and the "
                   "most expensive candidate, then --num-train is the most images per epoch "
                   "that fit, every candidate trained to the end (docs/search.md)")
    e.add_argument("--cut-unrankable", action="store_true", help="sha: cut at every rung, "
                   "even where the seeds cannot rank the candidates (by default such a rung "
                   "lets every candidate go on: docs/search.md, 'Reliability')")
    e.add_argument("--seed-offset", type=integer, default=d("seed_offset"), help="train "
                   "seeds N … N + --seeds − 1: a second run with other training seeds checks "
                   f"whether the answer holds ({d('seed_offset')})")
    e.add_argument("--reduction-factor", type=number, default=d("reduction_factor"),
                   help=f"η: about 1/η of the candidates go on at each rung "
                   f"({d('reduction_factor'):g})")
    e.add_argument("--family-phi", type=integer, default=d("family_phi"), metavar="N",
                   help="emit the family φ = 1…N (family.csv; B1–B7 is 7; a winner with a large "
                   "α makes deep members slow to count) (default: "
                   f"{d('family_phi')})")
    e.add_argument("--tie-break", choices=TIE_BREAKS, default=d("tie_break"), help="choose within "
                   "the tied set (p_best ≥ 0.05): balanced = most even log α, 2·log β, 2·log γ "
                   "(the paper's case for compound scaling), score, params, latency "
                   f"(default: {d('tie_break')})")
    o = p.add_argument_group("objective (MnasNet / EfficientNet §4: top1·(cost/T)^w)")
    o.add_argument("--objective", choices=OBJECTIVES, default=OBJECTIVES[0], help="rank by "
                   "top-1 (accuracy) or by top1·(LAT/T)^w or top1·(FLOPs/T)^w (mnas); ranking, "
                   "p_best and ties use it (default: accuracy)")
    o.add_argument("--target-latency", type=number, metavar="MS", help="mnas: the "
                   "latency target T in ms (measures latency)")
    o.add_argument("--target-flops", type=number, metavar="N", help="mnas: the FLOPs "
                   "target T in multiply-adds of the φ=1 network at full size")
    o.add_argument("--latency-weight", type=number, default=LATENCY_WEIGHT, metavar="W",
                   help=f"mnas: the exponent w ({LATENCY_WEIGHT:g})")
    add_latency_args(p)
    add_training_args(p)
    add_hardware_args(p)
    add_ray_args(p)
    add_tracker_args(p)


def search_config(args: argparse.Namespace):
    """The SearchConfig of the search options."""
    if args.sampler == "grid" and args.trials:
        raise ScalesearchError("--trials is the TPE budget; use it with --sampler tpe")
    ranges = Ranges(args.alpha_range, args.beta_range, args.gamma_range, args.grid_step)
    return SearchConfig(args.baseline, ranges=ranges, tolerance=args.tolerance,
                        flops_tolerance=args.flops_tolerance, match_flops=args.match_flops,
                        sampler=args.sampler, trials=args.trials, seeds=args.seeds,
                        seed_offset=args.seed_offset, cut_unrankable=args.cut_unrankable,
                        budget=args.budget,
                        sampler_seed=args.seed, scheduler=args.scheduler,
                        min_epochs=args.min_epochs, reduction_factor=args.reduction_factor,
                        curves=args.curves,
                        tie_break=args.tie_break, family_phi=args.family_phi,
                        objective=Objective(args.objective, args.target_latency,
                                            args.target_flops, args.latency_weight),
                        latency=latency_from_args(args), setup=setup_from_args(args),
                        placement=placement_from_args(args),
                        tracking=tracking_from_args(args))


def add_fidelity_args(p: argparse.ArgumentParser) -> None:
    """Every option of ``scalesearch fidelity`` but RUN_DIR and --format."""
    d = FidelityConfig()
    p.add_argument("--top", type=integer, default=d.top,
                   help=f"best candidates to retrain ({d.top})")
    p.add_argument("--random", type=integer, default=d.random,
                   help=f"random other candidates ({d.random})")
    p.add_argument("--epochs", type=number, help="reference epochs (default: 4× the "
                   "search's)")
    p.add_argument("--proxy-size", type=integer, help="reference base image size "
                   "(default: 2× the search's)")
    p.add_argument("--seeds", type=integer, help="seeds per candidate (default: the "
                   "search's)")
    p.add_argument("--sample-seed", type=integer, default=d.sample_seed,
                   help=f"seed of the random pick ({d.sample_seed})")
    p.add_argument("--resume", action="store_true", help="continue an interrupted check")
    add_hardware_args(p)  # placement for this run, whatever the search used
    add_ray_args(p)


def fidelity_config(args: argparse.Namespace):
    """The FidelityConfig of the fidelity options."""
    return FidelityConfig(args.top, args.random, args.epochs, args.proxy_size, args.seeds,
                          args.sample_seed)


def resolve_options(add_args: Callable[[argparse.ArgumentParser], None], given: dict,
                    what: str, **fixed) -> argparse.Namespace:
    """The defaults ``add_args`` declares, overridden by ``given`` (Python keyword names, e.g.
    ``scheduler="sha"``, ``num_train=600``) and ``fixed``; an unknown name is refused."""
    parser = argparse.ArgumentParser(add_help=False)
    add_args(parser)
    known = {a.dest: a.default for a in parser._actions}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ScalesearchError(f"unknown {what} option(s) {', '.join(unknown)}; known: "
                               f"{', '.join(sorted(known))}")
    return argparse.Namespace(**{**known, **given, **fixed})


def add_compare_args(p: argparse.ArgumentParser) -> None:
    """Every option of ``scalesearch compare`` but --paper-table3 and --format."""
    from scalesearch.comparison.strategies import FAST_ALPHA, PAPER_STRATEGIES, STRATEGIES

    p.add_argument("--baseline", required=True, help="network to scale")
    from scalesearch.comparison.config import CompareConfig

    ratios = list(default(CompareConfig, "ratios"))
    p.add_argument("--flops-ratio", type=number, nargs="+", default=ratios, metavar="X",
                   help=f"target FLOPs ratios vs the baseline (default: "
                   f"{' '.join(f'{r:g}' for r in ratios)})")
    p.add_argument("--strategies", default=",".join(PAPER_STRATEGIES),
                   help=f"comma-separated subset of {','.join(STRATEGIES)} (default: "
                   f"{','.join(PAPER_STRATEGIES)}; fast and nonuniform: docs/compare.md)")
    p.add_argument("--coefficients", metavar="JSON", help="α, β, γ for compound and "
                   "nonuniform (e.g. a search's best.json; default: the paper's 1.2, 1.1, 1.15)")
    p.add_argument("--fast-alpha", type=number, default=FAST_ALPHA, metavar="A",
                   help="fast scaling's share of the FLOPs growth given to width: w = s^(A/2), "
                   f"d = s^((1-A)/2), r = s^((1-A)/4); 1/3 is uniform (default: {FAST_ALPHA:g})")
    p.add_argument("--max-image-size", type=integer, metavar="PX", help="cap the image "
                   "size of every strategy (EfficientNetV2 caps at 480); growth the cap takes "
                   "away goes to depth and width in the strategy's own split (default: no cap)")
    add_latency_args(p)
    p.add_argument("--no-train", action="store_true", help="count only (fast)")
    p.add_argument("--out", help="output folder (needed for training; default: runs/compare)")
    seeds = default(CompareConfig, "seeds")
    p.add_argument("--seeds", type=integer, default=seeds,
                   help=f"trainings per network ({seeds})")
    p.add_argument("--resume", action="store_true", help="continue the comparison in --out "
                   "without retraining the networks × seeds compare.csv already holds")
    add_training_args(p)
    add_hardware_args(p)
    add_placement_args(p)
    add_tracker_args(p)


def add_placement_args(p: argparse.ArgumentParser) -> None:
    """--address, --cpus-per-trial and --max-concurrent: where compare and study train."""
    add_ray_args(p)
    p.add_argument("--max-concurrent", "--workers", dest="workers", type=integer, metavar="N",
                   help="at most N trainings at once (default: as many as the CPUs and GPUs "
                   "allow); --workers is the old spelling")


def placement_from_args(args: argparse.Namespace):
    """The Placement of --address, --cpus-per-trial, --gpus-per-trial and --max-concurrent
    (search has none: as many trials at once as the resources allow)."""
    from scalesearch.cluster import Placement

    return Placement(args.address, args.cpus_per_trial, args.gpus_per_trial,
                     getattr(args, "workers", None))


def compare_config(args: argparse.Namespace):
    """The CompareConfig of the compare options (coefficients read from --coefficients)."""
    from scalesearch.comparison.config import CompareConfig
    from scalesearch.scaler import PAPER_COEFFICIENTS

    coefficients = read_coefficients(args.coefficients) if args.coefficients else \
        PAPER_COEFFICIENTS
    if args.resume and args.no_train:
        raise ScalesearchError("--resume continues a training run; drop --no-train")
    return CompareConfig(args.baseline, args.flops_ratio, args.strategies, coefficients,
                         args.seeds, setup_from_args(args), placement_from_args(args),
                         fast_alpha=args.fast_alpha,
                         max_image_size=args.max_image_size, latency=latency_from_args(args),
                         tracking=tracking_from_args(args))

