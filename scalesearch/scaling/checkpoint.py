"""Save a scaled network as a state dict plus everything needed to rebuild it, and load it."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
from torch import nn

from scalesearch.errors import ScalesearchError
from scalesearch.scaling.arch import StageTable
from scalesearch.scaling.builder import build
from scalesearch.util.io import atomic_open, check_target, write_json

FORMAT = "scalesearch-model/1"


def save_targets(path: str | Path) -> tuple[Path, Path]:
    """(model file, summary file) of a save to ``path``, both checked before anything is
    written: a ``.json`` model path is refused (the summary would overwrite it), and so is a
    name ending in a slash (``newdir/`` named a folder, and the model was written as a file
    ``newdir``)."""
    if isinstance(path, str) and path.endswith(("/", os.sep)):
        raise ScalesearchError(f"refusing to save the model as {path}: that names a folder; "
                               f"give a file name, e.g. {path}model.pt")
    path = Path(path)
    if path.suffix.lower() == ".json":
        raise ScalesearchError(f"refusing to save the model as {path}: a .json name is its "
                               f"summary's; use e.g. {path.with_suffix('.pt')}")
    return check_target(path), check_target(path.with_suffix(".json"))


def save_checkpoint(net, path: Path) -> tuple[Path, Path]:
    """``path`` gets {format, config, state_dict}; ``path.with_suffix('.json')`` the summary.
    Stage-table networks store the scaled table itself, others the baseline spec and (d, w)."""
    path, json_path = save_targets(path)
    summary = net.to_dict()
    table = net.table()
    config = dict(spec=net.spec, depth=net.mult.depth, width=net.mult.width,
                  image_size=net.image_size, num_classes=net.num_classes, dropout=net.dropout,
                  table=table.to_dict() if table else None)
    with atomic_open(path, "wb") as f:
        torch.save(dict(format=FORMAT, config=config, summary=summary,
                        state_dict=net.model.state_dict()), f)
    return path, write_json(json_path, summary)


def load_checkpoint(path: str | Path, *, trust_spec: bool = False) -> tuple[nn.Module, dict]:
    """Rebuild the saved network, load its weights; returns (model, config). A file that
    stores a stage table rebuilds from it; one that names a plug-in (``file.py:NAME``,
    ``module:attr``) imports that code, so it is refused unless ``trust_spec=True``."""
    if Path(path).exists() and not Path(path).is_file():  # a FIFO would block the read
        raise ScalesearchError(f"cannot read checkpoint {path}: not a regular file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # its own message advises weights_only=False
        raise ScalesearchError(f"refusing to load checkpoint {path}: it holds pickled objects "
                               "other than tensors (a scalesearch model file never does)") from err
    except Exception as err:  # noqa: BLE001 (torch raises many kinds on a damaged file)
        raise ScalesearchError(f"cannot read checkpoint {path}: {_first_line(err)}") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ScalesearchError(f"{path} is not a scalesearch model file ({FORMAT})")
    try:
        cfg = ckpt["config"]
        model = _rebuild(cfg, path, trust_spec)
        model.load_state_dict(ckpt["state_dict"])
    except ScalesearchError:
        raise
    except Exception as err:  # noqa: BLE001 (a damaged config or state dict)
        raise ScalesearchError(f"{path} is damaged: {type(err).__name__}: "
                               f"{_first_line(err)}") from err
    return model, cfg


def _rebuild(cfg: dict, path: str | Path, trust_spec: bool) -> nn.Module:
    if cfg.get("table"):
        return build(StageTable.from_dict(cfg["table"]))
    if not trust_spec:
        raise ScalesearchError(f"{path} stores no stage table: rebuilding it imports the plug-in "
                               f"{cfg.get('spec')!r}; if you trust the file, pass "
                               "load_checkpoint(path, trust_spec=True)")
    from scalesearch.scaling.registry import resolve

    return resolve(cfg["spec"]).build(cfg["depth"], cfg["width"],
                                      num_classes=cfg["num_classes"], dropout=cfg["dropout"])


def _first_line(err: BaseException) -> str:
    """An exception's message on one line, at most 300 characters (torch's state-dict errors
    span several and list every key)."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:299] + "…"
