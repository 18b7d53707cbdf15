"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from scalesearch.errors import ScalesearchError


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
    t.add_argument("--lr", type=finite_float, default=3e-3, help="peak learning rate (3e-3)")
    t.add_argument("--optimizer", choices=("adamw", "sgd", "rmsprop"), default="adamw")
    t.add_argument("--num-train", type=positive_int, help="training images (synthetic: 1000)")
    t.add_argument("--num-val", type=positive_int, help="validation images (synthetic: 400)")


def add_latency_args(p: argparse.ArgumentParser) -> None:
    from scalesearch.latency import DEVICES, LatencySpec

    d = LatencySpec()
    g = p.add_argument_group("latency (torch.utils.benchmark, median of an adaptive autorange)")
    g.add_argument("--latency", action="store_true", help="measure inference latency "
                   "(latency_ms) of every network at its full image size")
    g.add_argument("--latency-batch", type=positive_int, default=d.batch, metavar="N",
                   help=f"images per forward pass ({d.batch}, as EfficientNet's Table 4)")
    g.add_argument("--latency-threads", type=positive_int, default=d.threads, metavar="N",
                   help=f"torch threads while timing ({d.threads})")
    g.add_argument("--latency-device", choices=DEVICES, default=d.device,
                   help=f"where to time ({d.device})")


def latency_from_args(args: argparse.Namespace):
    """The LatencySpec of --latency*, or None without --latency."""
    from scalesearch.latency import LatencySpec

    if not args.latency:
        return None
    return LatencySpec(args.latency_batch, args.latency_threads, args.latency_device)


def setup_from_args(args: argparse.Namespace):
    from scalesearch.proxy import ProxySetup
    from scalesearch.train import TrainConfig

    if args.epochs <= 0:
        raise ScalesearchError(f"--epochs must be positive, got {args.epochs:g}")
    return ProxySetup(data=args.data, proxy_size=args.proxy_size, num_train=args.num_train,
                      num_val=args.num_val, train=TrainConfig(
                          epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          optimizer=args.optimizer))


def print_json(obj: object) -> None:
    from scalesearch.io import json_safe

    json.dump(json_safe(obj), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
