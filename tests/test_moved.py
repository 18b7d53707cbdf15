"""Issue 35 grouped the root modules into folders that are the layers (0.4). What a user's
code or a saved file may name keeps working: the public front door, the plug-in paths the
built-in baselines use, every old module path (with a DeprecationWarning naming the new one,
removed in renamed.REMOVED_IN), and a checkpoint saved before the move."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import torch

import scalesearch
from scalesearch import renamed

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.mark.parametrize("old, new", sorted(renamed.MOVED_04.items()))
def test_an_old_module_path_warns_and_gives_the_new_module(old, new, monkeypatch):
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match=rf"{old} was renamed {new} in scalesearch "
                      rf"0\.4; import {new} \(the old path goes in {renamed.REMOVED_IN}"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_the_plugin_paths_and_the_front_door_keep_working(monkeypatch):
    from scalesearch.scaling import arch, blocks

    for old in ("scalesearch.blocks", "scalesearch.arch"):
        monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(DeprecationWarning, match="scalesearch.scaling.blocks"):
        from scalesearch.blocks import register_block
    with pytest.warns(DeprecationWarning, match="scalesearch.scaling.arch"):
        from scalesearch.arch import Stage, StageTable
    assert register_block is blocks.register_block and Stage is arch.Stage
    assert scalesearch.StageTable is StageTable is arch.StageTable
    monkeypatch.delattr(scalesearch, "arch", raising=False)
    monkeypatch.delitem(sys.modules, "scalesearch.arch", raising=False)
    with pytest.warns(DeprecationWarning, match="scalesearch.scaling.arch"):
        assert scalesearch.arch.Stage is arch.Stage  # attribute access, as before the move
    for name in scalesearch.__all__:
        assert getattr(scalesearch, name) is not None


def test_a_checkpoint_saved_before_the_move_loads_after_it():
    model, cfg = scalesearch.load_checkpoint(FIXTURES / "before_0.4_move.pt")
    x = torch.linspace(-1, 1, 2 * 3 * 32 * 32).reshape(2, 3, 32, 32)
    with torch.no_grad():
        y = model.eval()(x)
    assert cfg["table"] and torch.allclose(y, torch.load(FIXTURES / "before_0.4_move.out.pt"),
                                           atol=1e-6)
