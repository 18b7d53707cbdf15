"""Import paths from before 0.3, when the search and compare subpackages were named
``scalesearch.search`` and ``scalesearch.compare`` — names that now belong to the API
functions :func:`scalesearch.search` and :func:`scalesearch.compare` — and the config
modules that moved into :mod:`scalesearch.settings`; and the root modules that 0.4 grouped
into folders that are the layers (:data:`MOVED_04`: ``scalesearch.arch`` is
:mod:`scalesearch.scaling.arch`). ``import
scalesearch.search.config`` still works, with a DeprecationWarning naming the new path, and
gives the new module itself (one module object, one set of classes); the old package name
stays callable as the function, so an old import does not shadow the API."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

REMOVED_IN = "0.6"  # the old paths of 0.3 and 0.4 go then
PACKAGES = {"scalesearch.search": "scalesearch.coefsearch",  # old name stays callable
            "scalesearch.compare": "scalesearch.comparison"}
MODULES = {"scalesearch.coefsearch.config": "scalesearch.settings.search",  # 0.3: settings/
           "scalesearch.coefsearch.objective": "scalesearch.settings.search",
           "scalesearch.comparison.config": "scalesearch.settings.compare"}
# --- moved in 0.4 (issue 35): written by move35.py ---
MOVED_04 = {
    "scalesearch.io": "scalesearch.util.io",
    "scalesearch.fmt": "scalesearch.util.fmt",
    "scalesearch.logs": "scalesearch.util.logs",
    "scalesearch.status": "scalesearch.util.status",
    "scalesearch.argtypes": "scalesearch.util.argtypes",
    "scalesearch.plotting": "scalesearch.util.plotting",
    "scalesearch.pareto": "scalesearch.util.pareto",
    "scalesearch.hardware": "scalesearch.util.hardware",
    "scalesearch.arch": "scalesearch.scaling.arch",
    "scalesearch.blocks": "scalesearch.scaling.blocks",
    "scalesearch.builder": "scalesearch.scaling.builder",
    "scalesearch.scalable": "scalesearch.scaling.scalable",
    "scalesearch.scaler": "scalesearch.scaling.scaler",
    "scalesearch.registry": "scalesearch.scaling.registry",
    "scalesearch.counter": "scalesearch.scaling.counter",
    "scalesearch.matching": "scalesearch.scaling.matching",
    "scalesearch.scaled": "scalesearch.scaling.scaled",
    "scalesearch.checkpoint": "scalesearch.scaling.checkpoint",
    "scalesearch.paper": "scalesearch.scaling.paper",
    "scalesearch.trackers": "scalesearch.settings.trackers",
    "scalesearch.train": "scalesearch.training.trainer",
    "scalesearch.proxy": "scalesearch.training.proxy",
    "scalesearch.cluster": "scalesearch.training.cluster",
    "scalesearch.latency": "scalesearch.training.latency",
    "scalesearch.rundir": "scalesearch.training.rundir",
    "scalesearch.htmlreport": "scalesearch.report.page",
    "scalesearch.reportdata": "scalesearch.report.sections",
    "scalesearch.coefsearch.report": "scalesearch.coefsearch.results",
}
# --- end of 0.4 moves ---
RENAMED = {**PACKAGES, **MODULES, **MOVED_04}


class _OldPackage(types.ModuleType):
    """``scalesearch.search`` imported by its old name: attributes come from the new package,
    and a call runs the API function of that name."""

    def __init__(self, old: str, new: str):
        super().__init__(old)
        self.__new_name = new

    def __getattr__(self, name: str):
        return getattr(importlib.import_module(self.__new_name), name)

    def __call__(self, *args, **kwargs):
        from scalesearch import experiments  # this module is a front door, like __init__

        return getattr(experiments, self.__name__.rsplit(".", 1)[1])(*args, **kwargs)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves the old names to the new modules (placed first on ``sys.meta_path``)."""

    def find_spec(self, name, path=None, target=None):
        old = _old_prefix(name)
        if old is None:
            return None
        return importlib.machinery.ModuleSpec(name, self, is_package=name in PACKAGES)

    def create_module(self, spec):
        return None  # the default module: replaced in sys.modules by exec_module

    def exec_module(self, module) -> None:
        name = module.__name__
        old = _old_prefix(name)
        assert old is not None  # find_spec found it
        new = RENAMED[old] + name[len(old):]
        version = "0.4" if old in MOVED_04 else "0.3"
        warnings.warn(f"{name} was renamed {new} in scalesearch {version}; import {new} "
                      f"(the old path goes in {REMOVED_IN}: CHANGELOG.md)",
                      DeprecationWarning, stacklevel=2)
        sys.modules[name] = _OldPackage(name, new) if name in PACKAGES else \
            importlib.import_module(new)


def _old_prefix(name: str) -> str | None:
    return next((old for old in RENAMED if name == old or name.startswith(old + ".")), None)


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
