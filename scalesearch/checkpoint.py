"""Save a scaled network as a state dict plus everything needed to rebuild it, and load it."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from scalesearch.arch import StageTable
from scalesearch.builder import build
from scalesearch.errors import ScalesearchError
from scalesearch.io import atomic_open, check_target, write_json

FORMAT = "scalesearch-model/1"


def save_targets(path: str | Path) -> tuple[Path, Path]:
    """(model file, summary file) of a save to ``path``, both checked before anything is
    written: a ``.json`` model path is refused (the summary would overwrite it)."""
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


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild the saved network, load its weights; returns (model, config)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, json.JSONDecodeError) as err:
        raise ScalesearchError(f"cannot read checkpoint {path}: {err}") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ScalesearchError(f"{path} is not a scalesearch model file ({FORMAT})")
    cfg = ckpt["config"]
    if cfg.get("table"):
        model = build(StageTable.from_dict(cfg["table"]))
    else:
        from scalesearch.registry import resolve

        model = resolve(cfg["spec"]).build(cfg["depth"], cfg["width"],
                                           num_classes=cfg["num_classes"], dropout=cfg["dropout"])
    model.load_state_dict(ckpt["state_dict"])
    return model, cfg
