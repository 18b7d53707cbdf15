"""Imports go one way: core → training → search | compare → experiments → cli (README,
"Architecture"). Every import counts, a function-level one too."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scalesearch"
TRAINING = {"train", "proxy", "cluster"}
EXPERIMENTS = {"options", "experiments", "study", "htmlreport", "reportdata"}
# ``scalesearch.search(...)`` and ``scalesearch.compare(...)``: the two subpackages are callable
# and their __init__ hands the call to the API, the one import that goes up, on purpose
FRONT_DOORS = {("scalesearch.search", "scalesearch.experiments"),
               ("scalesearch.compare", "scalesearch.experiments")}


def layer(module: str) -> tuple[int, str]:
    """(rank, name) of a module: a module imports only from its rank or below, and search/
    and compare/ (rank 2) not from each other."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top == "cli":
        return 4, "cli"
    if top in EXPERIMENTS:
        return 3, "experiments"
    if top in ("search", "compare"):
        return 2, top
    return (1, "training") if top in TRAINING else (0, "core")


def imports() -> list[tuple[str, str]]:
    """(importer, imported) for every scalesearch-internal import below the package root."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if module == "scalesearch":  # the front door imports lazily from every layer
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scalesearch"):
                names = [f"{node.module}.{a.name}" if node.module == "scalesearch" else
                         node.module for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found += [(module, n) for n in names
                      if n.startswith("scalesearch.") and n != "scalesearch.__version__"]
    return found


def test_imports_go_one_way():
    found = imports()
    assert len(found) > 150  # the walk sees the package
    wrong = sorted({(a, b) for a, b in found if (a, b) not in FRONT_DOORS and (
        layer(b)[0] > layer(a)[0] or (layer(a)[0] == layer(b)[0] == 2
                                      and layer(a)[1] != layer(b)[1]))})
    assert wrong == []


def test_the_check_sees_an_upward_import():
    assert layer("scalesearch.search.runner")[0] < layer("scalesearch.experiments")[0]
    assert layer("scalesearch.counter") == (0, "core")
    assert layer("scalesearch.compare.run")[1] != layer("scalesearch.search.report")[1]
