"""ImageFolder images (listed by listing.py): decoded once, cached as uint8 (splits over the
memory budget are streamed instead: stream.py)."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from scalesearch.errors import ScalesearchError
from scalesearch.util.fmt import printable
from scalesearch.util.io import atomic_open

DECODER = 2  # in the cache key: 2 scales 16-bit grey (1 clipped it to white)
CROP_MARGIN = 1.14  # images are stored at round(size × 1.14) so training can crop (224/256 rule)
# The only decoders a data file reaches, whatever its content: PIL's others include EPS, which
# runs Ghostscript on the file (an EPS named x.jpg would); anything else is "unreadable"
FORMATS = ("JPEG", "PNG")


def stored_size(image_size: int) -> int:
    """Side at which images are decoded for ``image_size``: round(image_size × CROP_MARGIN)."""
    return round(image_size * CROP_MARGIN)


def to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB. 16-bit grey (modes I;16, I;16B, …, and I, as PNG's 16-bit grey is read) is
    scaled to 8 bits (value / 257); ``convert("RGB")`` would clip it to white."""
    if im.mode.startswith("I"):
        grey = np.rint(np.asarray(im, dtype=np.float64) / 257).clip(0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    return im.convert("RGB")


def decode(path: Path, size: int) -> torch.Tensor | None:
    """Resize the short side to ``size``, centre-crop a square; None (with a warning) if corrupt
    or not a JPEG or PNG (:data:`FORMATS`, whatever the file's extension)."""
    im: Image.Image  # the opened file, then the RGB image cropped from it
    try:
        with Image.open(path, formats=FORMATS) as im:
            im = to_rgb(im)
            w, h = im.size
            scale = size / min(w, h)
            im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))),
                           Image.Resampling.BILINEAR)
            left, top = (im.width - size) // 2, (im.height - size) // 2
            im = im.crop((left, top, left + size, top + size))
            data = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as err:
        warnings.warn(f"skipping unreadable image {printable(path)}: {err}", stacklevel=3)
        return None
    return data.view(size, size, 3).permute(2, 0, 1).clone()


def _cache_key(files: list[tuple[Path, int]], size: int) -> str:
    h = hashlib.sha256(f"{DECODER}|{size}".encode())
    for f, label in files:
        st = f.stat()
        h.update(f"{f}|{label}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def load_split(files: list[tuple[Path, int]], size: int,
               cache_dir: Path | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode (or read from the disk cache) every image of a split at ``size``²."""
    cache = cache_dir / f"{_cache_key(files, size)}.pt" if cache_dir else None
    if cache and cache.exists():
        blob = torch.load(cache, weights_only=True)
        return blob["images"], blob["labels"]
    images, labels = [], []
    for path, label in files:
        img = decode(path, size)
        if img is not None:
            images.append(img)
            labels.append(label)
    if not images:
        raise ScalesearchError(f"no readable image among {len(files)} files")
    result = torch.stack(images), torch.tensor(labels)
    if cache:
        with atomic_open(cache, "wb") as f:
            torch.save(dict(images=result[0], labels=result[1]), f)
    return result


def default_cache_dir() -> Path:
    """Where decoded splits are cached: ``scalesearch/`` under $SCALESEARCH_CACHE, else
    $XDG_CACHE_HOME, else ~/.cache."""
    base = os.environ.get("SCALESEARCH_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(base or Path.home() / ".cache") / "scalesearch"
