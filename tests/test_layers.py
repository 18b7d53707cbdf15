"""Imports go one way, down the layers, and each layer is a folder: its ``__init__.py``
docstring starts "Layer N" (README, "Architecture"). A module imports only from its layer or
below, and two folders of one layer (scaling/ and data/; coefsearch/ and comparison/) not from
each other. Every import counts, a function-level one too; none runs back up."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scalesearch"
# the modules at the top of the package, beside the folders: the errors and the version at the
# bottom, the Python API (experiments, its options, studies) above report/, the front door
# (renamed, with __init__: the old import paths) above everything
TOP = {"errors": 0, "version": 0, "options": 6, "experiments": 6, "study": 6, "renamed": 8,
       "__main__": 8}


@functools.cache
def folder_layer(folder: str) -> int:
    """The N of a folder's docstring "Layer N"."""
    found = re.match(r'"""Layer (\d+)\b', (PACKAGE / folder / "__init__.py").read_text())
    assert found, f"scalesearch/{folder}/__init__.py: its docstring does not name its layer"
    return int(found.group(1))


def layer(module: str) -> tuple[int, str]:
    """(rank, room) of a module: its folder's layer and the folder, or a top module's rank
    and "top"."""
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    if (PACKAGE / top).is_dir():
        return folder_layer(top), top
    return TOP[top], "top"


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
    wrong = sorted({(a, b) for a, b in found if layer(b)[0] > layer(a)[0] or (
        layer(a)[0] == layer(b)[0] and "top" not in (layer(a)[1], layer(b)[1])
        and layer(a)[1] != layer(b)[1])})
    assert wrong == []


def test_every_folder_names_its_layer_and_every_top_module_is_listed():
    folders = [p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()]
    assert len(folders) >= 9 and all(folder_layer(f) >= 0 for f in folders)
    assert {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"} == set(TOP)


def test_the_check_sees_an_upward_import():
    assert layer("scalesearch.coefsearch.runner")[0] < layer("scalesearch.experiments")[0]
    assert layer("scalesearch.scaling.counter") == (1, "scaling")
    assert layer("scalesearch.util.io")[0] < layer("scalesearch.scaling.counter")[0] < \
        layer("scalesearch.settings.search")[0] < layer("scalesearch.training.trainer")[0] < \
        layer("scalesearch.coefsearch.runner")[0] < layer("scalesearch.report.page")[0] < \
        layer("scalesearch.experiments")[0] < layer("scalesearch.cli.main")[0] < \
        layer("scalesearch.renamed")[0]
    assert layer("scalesearch.comparison.run")[1] != layer("scalesearch.coefsearch.results")[1]


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
