"""Find a baseline by name: entry points, ``package.module:attr`` or ``path/to/file.py:attr``.

Built-in baselines are registered in the ``scalesearch.baselines`` entry-point group, the same
mechanism a third-party package uses. Names match ignoring case, ``-`` and ``_``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType

from scalesearch.errors import ScalesearchError
from scalesearch.scaling.arch import StageTable
from scalesearch.scaling.scalable import Scalable, TableBaseline

GROUP = "scalesearch.baselines"


@dataclass(frozen=True)
class BaselineInfo:
    """A registered baseline's name and where it comes from."""

    name: str
    source: str  # "entry point (dist)" or the import spec

    def to_dict(self) -> dict:
        """Plain-JSON form: name and source."""
        return dict(name=self.name, source=self.source)


def normalize(name: str) -> str:
    """The name as matched: lower case, without ``-`` and ``_``."""
    return name.lower().replace("-", "").replace("_", "")


def _entry_points() -> dict[str, EntryPoint]:
    return {normalize(ep.name): ep for ep in entry_points(group=GROUP)}


def as_scalable(obj: object, spec: str) -> Scalable:
    """Accept a Scalable, a StageTable, a Scalable subclass or a zero-argument factory."""
    if isinstance(obj, type) and issubclass(obj, Scalable):
        obj = obj()
    elif callable(obj) and not isinstance(obj, Scalable | StageTable):
        obj = obj()
    if isinstance(obj, StageTable):
        obj = TableBaseline(obj)
    if not isinstance(obj, Scalable):
        raise ScalesearchError(f"{spec!r} is a {type(obj).__name__}, not a Scalable or StageTable")
    return obj


def _networks(module: ModuleType) -> list[str]:
    """Names in ``module`` that --baseline could take: Scalable or StageTable instances and
    the Scalable subclasses it defines (not imported ones such as TableBaseline)."""
    return sorted(name for name, obj in vars(module).items()
                  if not name.startswith("_") and (
                      isinstance(obj, Scalable | StageTable)
                      or isinstance(obj, type) and issubclass(obj, Scalable)
                      and obj.__module__ == module.__name__))


def _functions(module: ModuleType) -> list[str]:
    """Names in ``module`` that --train could take: the functions it defines."""
    return sorted(name for name, obj in vars(module).items() if not name.startswith("_")
                  and callable(obj) and getattr(obj, "__module__", None) == module.__name__
                  and not isinstance(obj, type))


def _attribute(module: ModuleType, attr: str, where: str, spec: str,
               what: str = "baseline") -> object:
    if not hasattr(module, attr):
        kind, found = ("functions", _functions(module)) if what != "baseline" else \
            ("Scalable / StageTable attributes", _networks(module))
        raise ScalesearchError(f"cannot load {what} {spec!r}: {where} has no attribute "
                               f"{attr!r}; its {kind}: {', '.join(found) or 'none'}")
    return getattr(module, attr)


def _load_file(path: Path, attr: str, spec: str, what: str = "baseline") -> object:
    if not path.is_file():
        raise ScalesearchError(f"plug-in file not found: {path}")
    module_name = f"scalesearch_plugin_{abs(hash(path.resolve()))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ScalesearchError(f"cannot load {what} {spec!r}: {path} is not a Python (.py) "
                               "file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    folder = str(path.resolve().parent)
    if folder not in sys.path:  # as for a script: the plug-in imports modules beside it
        sys.path.insert(0, folder)
    with contextlib.redirect_stdout(sys.stderr):  # --format json owns stdout
        module_spec.loader.exec_module(module)
    return _attribute(module, attr, str(path), spec, what)


def load_spec(spec: str, what: str) -> object:
    """The object a ``path/to/file.py:attr`` or ``package.module:attr`` spec names (a plug-in
    of another kind than a baseline: ``what`` names it in the one-line errors)."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise ScalesearchError(f"cannot load {what} {spec!r}: give path/to/file.py:NAME or "
                               "package.module:NAME")
    if _is_file(target):
        return _load(lambda: _load_file(Path(target), attr, spec, what), spec, what)
    return _load(lambda: _attribute(importlib.import_module(target), attr, target, spec, what),
                 spec, what)


def resolve(spec: str | Scalable | StageTable) -> Scalable:
    """Turn a name, import spec or object into a :class:`Scalable`."""
    if isinstance(spec, Scalable | StageTable):
        return as_scalable(spec, repr(spec))
    if not isinstance(spec, str):
        raise ScalesearchError(f"a baseline is a name, a spec (file.py:NAME) or a Scalable / "
                               f"StageTable, got {type(spec).__name__} {spec!r:.80}")
    if not spec.strip():
        raise ScalesearchError("no baseline given")
    eps = _entry_points()
    if normalize(spec) in eps:
        return as_scalable(_load(lambda: eps[normalize(spec)].load(), spec), spec)
    if ":" not in spec:
        known = ", ".join(sorted(ep.name for ep in eps.values())) or "none installed"
        raise ScalesearchError(f"unknown baseline {spec!r}; available: {known}; "
                               "or give package.module:attr or path/to/file.py:attr")
    target, attr = spec.rsplit(":", 1)
    if _is_file(target):
        obj = _load(lambda: _load_file(Path(target), attr, spec), spec)
    else:
        obj = _load(lambda: _attribute(importlib.import_module(target), attr, target, spec), spec)
    return as_scalable(obj, spec)


def _is_file(target: str) -> bool:
    """Whether the part before ``:`` of a spec is a file's path (else a module's name)."""
    return target.endswith(".py") or "/" in target or "\\" in target


def plugin_file(spec: str) -> Path | None:
    """What a study (``baseline:``, ``baselines:``) may name: a registered baseline (None: no
    file runs) or a plug-in file ``path/to/file.py:NAME`` (its path, resolved: that file runs
    when the study does). A ``module:attr`` spec is refused, as it would import any installed
    module (``this:s`` ran the standard library's ``this``)."""
    if not isinstance(spec, str) or normalize(spec) in _entry_points():
        return None  # not a name: resolve() says what is wrong with it
    target, sep, _ = spec.rpartition(":")
    if not sep or not _is_file(target):
        raise ScalesearchError(f"baseline {spec!r:.80}: a study names a registered baseline "
                               "(scalesearch baselines) or a plug-in file (path/to/file.py:NAME)"
                               ", not a module")
    return Path(target).resolve()


def _load(loader, spec: str, what: str = "baseline") -> object:
    try:
        return loader()
    except ScalesearchError:
        raise
    except AttributeError as err:
        raise ScalesearchError(f"cannot load {what} {spec!r}: {err}") from err
    except Exception as err:  # a plug-in's own import error, syntax error, …
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ScalesearchError(f"cannot load {what} {spec!r}: "
                               f"{type(err).__name__}: {first}") from err


def registered(spec: object) -> bool:
    """Whether ``spec`` names an installed baseline (an entry point): resolving it imports no
    file or module that a run folder or a study names."""
    return isinstance(spec, str) and normalize(spec) in _entry_points()


def available() -> list[BaselineInfo]:
    """Every baseline registered in the entry-point group."""
    infos = [BaselineInfo(ep.name, f"{ep.value} ({ep.dist.name if ep.dist else '?'})")
             for ep in entry_points(group=GROUP)]
    return sorted(infos, key=lambda i: i.name)


def portable_spec(spec: str) -> str:
    """``file.py:attr`` with an absolute path, so worker processes (Ray, a process pool)
    resolve the same baseline from any working directory; other specs unchanged."""
    path, sep, attr = spec.rpartition(":")
    if sep and path.endswith(".py"):
        return f"{Path(path).resolve()}:{attr}"
    return spec
