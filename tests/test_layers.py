"""Imports go one way: core → settings → training → coefsearch | comparison → experiments →
cli (README, "Architecture"). Every import counts, a function-level one too; none runs back
up."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scalesearch"
TRAINING = {"train", "proxy", "cluster", "latency"}
SETTINGS = {"settings", "trackers"}  # trackers: the map --log-to validates against
EXPERIMENTS = {"options", "experiments", "study", "htmlreport", "reportdata"}
FRONT_DOOR = {"renamed"}  # with scalesearch/__init__: the old subpackage paths, above the API


def layer(module: str) -> tuple[int, str]:
    """(rank, name) of a module: a module imports only from its rank or below, and
    coefsearch/ and comparison/ (rank 2) not from each other."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if top in FRONT_DOOR:
        return 6, "front door"
    if top == "cli":
        return 5, "cli"
    if top in EXPERIMENTS:
        return 4, "experiments"
    if top in ("coefsearch", "comparison"):
        return 3, top
    if top in TRAINING:
        return 2, "training"
    return (1, "settings") if top in SETTINGS else (0, "core")


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
                      if n.startswith("scalesearch.")]
    return found


def test_imports_go_one_way():
    found = imports()
    assert len(found) > 150  # the walk sees the package
    wrong = sorted({(a, b) for a, b in found if
                    layer(b)[0] > layer(a)[0] or (layer(a)[0] == layer(b)[0] == 3
                                                  and layer(a)[1] != layer(b)[1])})
    assert wrong == []


def test_the_check_sees_an_upward_import():
    assert layer("scalesearch.coefsearch.runner")[0] < layer("scalesearch.experiments")[0]
    assert layer("scalesearch.counter") == (0, "core")
    assert layer("scalesearch.counter")[0] < layer("scalesearch.settings.search")[0] < \
        layer("scalesearch.train")[0]
    assert layer("scalesearch.comparison.run")[1] != layer("scalesearch.coefsearch.report")[1]


def test_the_wheel_lists_every_subpackage():
    """pyproject lists the packages by name: a new subpackage (settings/ in 0.3) left out of
    the list would import from a checkout and be missing from an installed wheel."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(PACKAGE.parent).parts)
             for p in PACKAGE.rglob("__init__.py")}
    assert found and found <= listed, sorted(found - listed)


def test_one_address_per_name():
    """No module re-exports what it imports (``noqa: F401``) but the public front door: a
    helper is imported from the module that defines it."""
    found = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             if "noqa: F401" in p.read_text() and p.name != "__init__.py"]
    assert found == []
