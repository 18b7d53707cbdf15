"""Where and in which precision a proxy training runs: the device (CUDA when asked for and
present, else the CPU with one warning) and mixed precision (autocast; fp16 adds a GradScaler).
Measured choices behind the defaults: docs/performance.md."""

from __future__ import annotations

import re
import warnings

import torch

from scalesearch.errors import ScalesearchError

DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")
AMPS = ("auto", "off", "bf16", "fp16")
_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
_warned_no_cuda = False  # the CPU fallback warns once per process, not once per trial


def check_device(name: str) -> None:
    """Refuse a device name other than auto, cpu, cuda or cuda:N."""
    if not DEVICE_PATTERN.fullmatch(name):
        raise ScalesearchError(f"unknown device {name!r}; one of auto, cpu, cuda, cuda:N")


def check_amp(amp: str) -> None:
    """Refuse an amp mode not in :data:`AMPS`."""
    if amp not in AMPS:
        raise ScalesearchError(f"unknown amp mode {amp!r}; one of {AMPS}")


def parallel_device(device: str, gpus_requested: bool) -> str:
    """The device of one of many parallel trainings: ``auto`` stays on the CPU unless GPUs were
    requested for the trainings (``--gpus-per-trial``), so none lands on a GPU that Ray (or the
    process pool) does not account for; an explicit device is kept."""
    return "cpu" if device == "auto" and not gpus_requested else device


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available. CUDA asked for but absent falls back to the CPU with one
    warning; inside a Ray trial "cuda" is the GPU Ray assigned (it sets CUDA_VISIBLE_DEVICES)."""
    global _warned_no_cuda
    check_device(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type != "cuda":
        return device
    if not torch.cuda.is_available():
        if not _warned_no_cuda:
            warnings.warn(f"device {name!r} requested but CUDA is not available: training on "
                          "the CPU", RuntimeWarning, stacklevel=2)
            _warned_no_cuda = True
        return torch.device("cpu")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ScalesearchError(f"device {name!r} does not exist: {torch.cuda.device_count()} "
                               "CUDA device(s) visible")
    return device


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: ``auto`` is bf16 on CUDA GPUs that support it, off elsewhere (on the CPU
    bf16 autocast was measured slower than fp32, docs/performance.md)."""
    check_amp(amp)
    if amp == "auto":
        cuda = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda else None
    return _DTYPES[amp]


class Precision:
    """Autocast for the forward pass and the loss; fp16 scales the loss with a GradScaler."""

    def __init__(self, amp: str, device: torch.device):
        self.device_type, self.dtype = device.type, amp_dtype(amp, device)
        self.scaler = torch.amp.GradScaler(device.type) if self.dtype == torch.float16 else None

    def autocast(self):
        """Autocast context for the forward pass and the loss (off without an AMP dtype)."""
        return torch.autocast(self.device_type, dtype=self.dtype or torch.float32,
                              enabled=self.dtype is not None)

    def backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        """Backpropagate ``loss`` and step ``opt`` (through the GradScaler under fp16)."""
        if self.scaler is None:
            loss.backward()
            opt.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)  # skips the update when the scaled gradients overflowed
        self.scaler.update()
