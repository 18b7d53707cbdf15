"""Params, FLOPs and activations of any ``nn.Module``, without computing a forward pass.

FLOPs follow the paper and fvcore: multiply-adds of convolutions and fully connected layers,
integer. Activations follow fvcore and pycls: output elements of those layers.

Fast path: the network is built on the ``meta`` device, given uninitialised CPU storage
(``to_empty``), and run on a batch of **zero** images under a function mode that reads shapes:
every conv/linear reports its exact per-image count from its weight and output shapes, and no
arithmetic is done, so counting B7 at 600 px takes milliseconds. Any other op that may carry
multiply-adds (matmul, einsum, attention, …) or a network that cannot run that way sends the
count to fvcore on a real one-image forward pass (the reference); ops fvcore could not count
are reported in ``Counts.uncounted``.

For a :class:`~scalesearch.scaling.scalable.Scalable`, :func:`measure` memoises the counts at
(d, w, image size) and :func:`flops_ratio` divides by the unscaled baseline's (Table 3). Every
layer above (proxy, search, compare, the API) measures through these.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from scalesearch.errors import ScalesearchError
from scalesearch.scaling.builder import check_params

if TYPE_CHECKING:
    from scalesearch.scaling.scalable import Scalable
    from scalesearch.scaling.scaler import Multipliers

# Name fragments of ops that may carry multiply-adds; such an op without a handler is reported.
_HEAVY_HINTS = ("conv", "mm", "matmul", "einsum", "linear", "attention", "dot", "mv", "lstm",
                "gru", "rnn", "fft", "bilinear", "tensordot")
_FVCORE_OPS = ("conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum")


@dataclass(frozen=True)
class Counts:
    """Params, FLOPs (multiply-adds of conv and linear layers) and activations of one
    network; ``uncounted``: ops left out, ``method``: "shapes" or "fvcore"."""

    params: int
    flops: int
    activations: int
    uncounted: dict[str, int] = field(default_factory=dict)
    method: str = "shapes"

    def to_dict(self) -> dict:
        """Plain-JSON form (``method`` as ``count_method``)."""
        return dict(params=self.params, flops=self.flops, activations=self.activations,
                    uncounted=dict(self.uncounted), count_method=self.method)


def _conv(args, kwargs, out) -> int:  # weight (out, in/g, *k): macs = |w| · output positions
    weight = args[1] if len(args) > 1 else kwargs["weight"]
    return math.prod(weight.shape) * math.prod(out.shape[2:])


def _conv_transposed(args, kwargs, out) -> int:  # weight (in, out/g, *k): |w| · input positions
    weight = args[1] if len(args) > 1 else kwargs["weight"]
    return math.prod(weight.shape) * math.prod(args[0].shape[2:])


def _linear(args, kwargs, out) -> int:  # per image: rows × in × out
    weight = args[1] if len(args) > 1 else kwargs["weight"]
    return math.prod(args[0].shape[1:-1]) * math.prod(weight.shape)


_HANDLERS: dict[Callable, Callable] = {
    F.conv1d: _conv, F.conv2d: _conv, F.conv3d: _conv,
    F.conv_transpose1d: _conv_transposed, F.conv_transpose2d: _conv_transposed,
    F.conv_transpose3d: _conv_transposed,
    F.linear: _linear,
}


class _ShapeCounter(TorchFunctionMode):
    """Adds up per-image multiply-adds and output sizes of conv and linear calls."""

    def __init__(self):
        super().__init__()
        self.flops = 0
        self.activations = 0
        self.unhandled: Counter[str] = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        handler = _HANDLERS.get(func)
        if handler is not None:
            self.flops += int(handler(args, kwargs, out))
            self.activations += math.prod(out.shape[1:])
        else:
            name = getattr(func, "__name__", str(func))
            if any(h in name.lower() for h in _HEAVY_HINTS):
                self.unhandled[name] += 1
        return out


def num_params(model: nn.Module) -> int:
    """Number of parameter elements of ``model``."""
    return sum(p.numel() for p in model.parameters())


@contextmanager
def _counting(model: nn.Module) -> Iterator[None]:
    """Eval mode (BatchNorm on running stats, dropout off) without autograd, as FLOPs are
    defined at inference; the model's own mode is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def count_shapes(model: nn.Module, image_size: int, in_chans: int = 3) -> tuple[Counts, dict]:
    """Fast path on an existing module; returns the counts and the ops it could not count."""
    if any(p.is_meta for p in model.parameters()) or any(b.is_meta for b in model.buffers()):
        model = model.to_empty(device="cpu")
    device = next(model.parameters(), torch.empty(0)).device
    x = torch.empty(0, in_chans, image_size, image_size, device=device)
    with _counting(model), _ShapeCounter() as mode:
        model(x)
    return Counts(num_params(model), mode.flops, mode.activations), dict(mode.unhandled)


def count_fvcore(model: nn.Module, image_size: int, in_chans: int = 3) -> Counts:
    """Reference count with fvcore on a real one-image forward pass (conv + matrix products)."""
    from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis

    device = next(model.parameters(), torch.empty(0)).device
    x = torch.zeros(1, in_chans, image_size, image_size, device=device)
    with _counting(model):
        flops = FlopCountAnalysis(model, x).unsupported_ops_warnings(False)
        flops.uncalled_modules_warnings(False)
        by_op = flops.by_operator()
        acts = ActivationCountAnalysis(model, x).unsupported_ops_warnings(False)
        acts.uncalled_modules_warnings(False)
        total_acts = acts.total()
    uncounted = {k: int(v) for k, v in flops.unsupported_ops().items()
                 if any(h in k for h in _HEAVY_HINTS)}
    return Counts(num_params(model), int(sum(v for k, v in by_op.items() if k in _FVCORE_OPS)),
                  int(total_acts), uncounted, "fvcore")


_FALLBACK_SAID: set[object] = set()  # networks whose fvcore fallback was already reported


class NetworkCounter:
    """Counts the network ``factory()`` builds at any image size; builds it once. The fvcore
    fallback is reported once per ``key`` (default: the factory) and process, naming ``name``."""

    def __init__(self, factory: Callable[[], nn.Module], in_chans: int = 3,
                 name: str | None = None, key: object = None):
        self.factory = factory
        self.in_chans = in_chans
        self.name = name
        self.key = factory if key is None else key
        self._model: nn.Module | None = None
        self._fallback: str | None = None  # why the fast path cannot be used

    def __call__(self, image_size: int) -> Counts:
        if self._fallback is None:
            try:
                if self._model is None:
                    with torch.device("meta"):
                        model = self.factory()
                    check_params(model, self.name or "the network")  # before any allocation
                    self._model = model.to_empty(device="cpu")
                counts, unhandled = count_shapes(self._model, image_size, self.in_chans)
                if not unhandled:
                    return counts
                self._fallback = f"ops outside conv/linear: {sorted(unhandled)}"
            except (NotImplementedError, RuntimeError, TypeError) as err:
                self._fallback = f"shape-only run failed: {str(err).splitlines()[0][:120]}"
            self._model = None
        counts = count_fvcore(self.factory(), image_size, self.in_chans)
        if self.key not in _FALLBACK_SAID:
            _FALLBACK_SAID.add(self.key)
            note = f"; not counted: {counts.uncounted}" if counts.uncounted else ""
            who = f"{self.name}: " if self.name else ""
            warnings.warn(f"{who}counted with fvcore on a real forward pass ({self._fallback})"
                          f"{note}", stacklevel=2)
        return counts


def count(factory: Callable[[], nn.Module], image_size: int, in_chans: int = 3) -> Counts:
    """Count the network ``factory()`` builds, for one ``image_size``² image."""
    return NetworkCounter(factory, in_chans)(image_size)


@lru_cache(maxsize=8)
def _counter(baseline: Scalable, depth: float, width: float,
             num_classes: int | None) -> NetworkCounter:
    # one key for every (d, w) of a network: the fallback is said once per network, not per
    # build; the class's module keeps two plug-ins that share a name apart
    key = f"{baseline.name}|{type(baseline).__module__}.{type(baseline).__qualname__}"
    return NetworkCounter(partial(_built, baseline, depth, width, num_classes),
                          name=baseline.name, key=key)


def _built(baseline: Scalable, depth: float, width: float, num_classes: int | None) -> nn.Module:
    """``baseline.build(…)``, its prints sent to stderr (``--format json`` owns stdout), and
    checked to be a module."""
    with redirect_stdout(sys.stderr):
        model = baseline.build(depth, width, num_classes=num_classes)
    if not isinstance(model, nn.Module):
        raise TypeError(f"build() returned {type(model).__name__}, not a torch.nn.Module")
    return model


@lru_cache(maxsize=4096)
def measure(baseline: Scalable, depth: float, width: float, image_size: int,
            num_classes: int | None = None) -> Counts:
    """Counts of ``baseline`` built at (d, w) and fed ``image_size``² images (memoised; one
    build serves every image size). A network that cannot be built or run there, or that has
    nothing to scale, is refused in one line naming it, the call and the error (a plug-in's
    bug is not a traceback of ours)."""
    where = f"{baseline.name} built at d={depth:g}, w={width:g} and fed {image_size} px"
    try:
        counts = _counter(baseline, depth, width, num_classes)(image_size)
    except ScalesearchError:
        raise
    except Exception as err:  # noqa: BLE001 — any failure of user code becomes one line
        text = str(err).splitlines()[0][:200] if str(err) else ""
        raise ScalesearchError(f"{where}: {type(err).__name__}: {text}") from None
    if not counts.params or not counts.flops:
        raise ScalesearchError(f"{where}: the network has no parameters or no FLOPs "
                               f"({counts.params} params, {counts.flops} FLOPs): nothing to scale")
    return counts


def baseline_counts(baseline: Scalable, num_classes: int | None = None) -> Counts:
    """Counts of the unscaled baseline at its own image size: the reference of every ratio."""
    return measure(baseline, 1.0, 1.0, baseline.image_size, num_classes)


def flops_ratio(baseline: Scalable, mult: Multipliers, size: int | None = None,
                num_classes: int | None = None) -> float:
    """Measured FLOPs of ``baseline`` at (d, w) fed ``size``² images (default: the baseline's
    size scaled by r) over the unscaled baseline's — the FLOPs column of Table 3."""
    size = size or baseline.scaled_image_size(mult.resolution)
    scaled = measure(baseline, mult.depth, mult.width, size, num_classes)
    return scaled.flops / baseline_counts(baseline, num_classes).flops
