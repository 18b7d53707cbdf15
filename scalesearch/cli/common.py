"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from scalesearch.errors import ScalesearchError
from scalesearch.train import OPTIMIZERS


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def add_format(parser: argparse.ArgumentParser, choices=("table", "json")) -> None:
    parser.add_argument("--format", choices=choices, default=choices[0],
                        help=f"output format (default: {choices[0]})")


def read_coefficients(path: str) -> tuple[float, float, float]:
    """α, β, γ from a JSON file with top-level keys alpha, beta, gamma (e.g. search's best.json)."""
    try:
        data = json.loads(Path(path).read_text())
        values = tuple(float(data[k]) for k in ("alpha", "beta", "gamma"))
    except FileNotFoundError:
        raise ScalesearchError(f"coefficients file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ScalesearchError(f"coefficients file {path} is not valid JSON: {err}") from None
    except (KeyError, TypeError, ValueError):
        raise ScalesearchError(f"coefficients file {path} needs numeric keys alpha, beta, "
                               "gamma") from None
    if not all(math.isfinite(v) for v in values):
        raise ScalesearchError(f"coefficients in {path} must be finite")
    return values


def add_training_args(p: argparse.ArgumentParser, epochs: float) -> None:
    t = p.add_argument_group("proxy training")
    t.add_argument("--data", default="synthetic", help="'synthetic' (embedded, default) or an "
                   "ImageFolder root with train/<class>/ and val/<class>/")
    t.add_argument("--epochs", type=finite_float, default=epochs, help=f"epochs ({epochs:g})")
    t.add_argument("--proxy-size", type=positive_int, default=64, help="base image size for "
                   "training; a network with resolution r trains at round(size·r) (64)")
    t.add_argument("--batch-size", type=positive_int, default=32, help="batch size (32)")
    t.add_argument("--lr", type=finite_float, default=3e-3, help="peak learning rate at batch "
                   "32, scaled linearly with --batch-size: lr·batch/32 (3e-3)")
    t.add_argument("--optimizer", choices=OPTIMIZERS, default=OPTIMIZERS[0],
                   help=f"optimizer ({OPTIMIZERS[0]}; rmsprop is the paper's)")
    t.add_argument("--num-train", type=positive_int, help="training images (synthetic: 1000)")
    t.add_argument("--num-val", type=positive_int, help="validation images (synthetic: 400)")


def non_negative_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {value:g}")
    return value


def add_hardware_args(p: argparse.ArgumentParser) -> None:
    """--device, --amp, --compile, --gpus-per-trial, --max-memory-gb (docs/performance.md)."""
    from scalesearch.hardware import AMPS

    h = p.add_argument_group("hardware")
    h.add_argument("--device", default="auto", metavar="{auto,cpu,cuda,cuda:N}",
                   help="where each training runs; auto = CUDA when available (default: auto)")
    h.add_argument("--amp", choices=AMPS, default="auto", help="mixed precision; auto = bf16 "
                   "on CUDA GPUs that support it, off on the CPU; fp16 adds a GradScaler "
                   "(default: auto)")
    h.add_argument("--compile", action="store_true", help="torch.compile each model (slow "
                   "first steps; pays off on GPUs and long runs)")
    h.add_argument("--gpus-per-trial", type=non_negative_float, default=0.0, metavar="G",
                   help="GPUs per training, fractional allowed: 0.25 lets 4 trainings share "
                   "a GPU (default: 0, CPU only)")
    h.add_argument("--max-memory-gb", type=non_negative_float, metavar="GB", help="ImageFolder "
                   "splits decoding to more than this are streamed from disk by DataLoader "
                   "workers (default: a quarter of the available memory)")


def setup_from_args(args: argparse.Namespace):
    """The ProxySetup of the training and hardware flags (add_training_args and
    add_hardware_args); the learning rate is the peak at batch 32, scaled linearly."""
    from scalesearch.hardware import check_device
    from scalesearch.proxy import ProxySetup
    from scalesearch.train import TrainConfig

    if args.epochs <= 0:
        raise ScalesearchError(f"--epochs must be positive, got {args.epochs:g}")
    check_device(args.device)
    return ProxySetup(data=args.data, proxy_size=args.proxy_size, num_train=args.num_train,
                      num_val=args.num_val, train=TrainConfig(
                          epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          optimizer=args.optimizer, device=args.device, amp=args.amp,
                          compile=args.compile, max_memory_gb=args.max_memory_gb))


def print_json(obj: object) -> None:
    from scalesearch.io import json_safe

    json.dump(json_safe(obj), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
