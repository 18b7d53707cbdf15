"""The candidate grid, counted once (issue 36 §6): :func:`cached_space` is
:func:`~scalesearch.coefsearch.space.build_space` with its result kept on disk.

Counting the grid's FLOPs builds a network for every (α, β) the constraint keeps and solves
each one's image size (B0's 2,541 points: ~25 s on an idle 2-core machine), the same every time
for the same settings. The result is stored as JSON (never a pickle: a cache file cannot run
code) in ``grids/`` of the user's scalesearch cache (``~/.cache/scalesearch``, moved by
``$XDG_CACHE_HOME`` or ``$SCALESEARCH_CACHE`` as the decoded-image cache is), or in
``$SCALESEARCH_GRID_CACHE``; ``SCALESEARCH_GRID_CACHE=off`` turns it off. A file is named by a
hash of everything the counts depend on — the baseline (its name, class, base size, counts,
stage table and the source file of its class), the ranges, the grid step, both tolerances,
FLOPs matching and its tolerance, the package and torch versions and the source of the code
that counts (scaling/, space.py) — and holds that key in full; it is read with a schema
check, and a file that is unreadable, damaged or for another key is counted again and
replaced, never an error. Writes are atomic (temp file + rename); a cache that cannot be
written (a read-only home) is skipped with one line. A search's family (:func:`cached_members`:
the paper's in every search, the found one whenever it wins again) and the baseline's official
presets drawn beside it (:func:`official_presets`) are kept the same way.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from scalesearch.coefsearch.space import TARGET, Candidate, Space, build_space
from scalesearch.errors import ScalesearchError, WriteError
from scalesearch.scaling.counter import baseline_counts
from scalesearch.scaling.matching import MATCH_TOLERANCE
from scalesearch.scaling.scalable import Scalable
from scalesearch.scaling.scaled import scale
from scalesearch.settings.search import Ranges
from scalesearch.training.runfiles import MAX_JSON, NUM, OPT_NUM, problem
from scalesearch.util.io import read_small_text, write_text
from scalesearch.util.logs import Log, stderr
from scalesearch.version import __version__

CACHE_ENV = "SCALESEARCH_GRID_CACHE"
OFF = ("", "0", "off", "no", "none", "false")
FORMAT = 1
GRID = {"total": int, "removed_formula": int, "removed_measured": int, "matched": bool,
        "merged": int, "candidates": [{"alpha": NUM, "beta": NUM, "gamma": NUM,
                                       "nominal_ratio": NUM, "matched_resolution": OPT_NUM,
                                       "matched_ratio": OPT_NUM, "aliases": [[NUM, 3]]}]}
# a family's members (family.Member) and the line said where it stopped (a large α)
MEMBERS = {"members": [{"source": str, "phi": NUM, "alpha": NUM, "beta": NUM, "gamma": NUM,
                        "depth": NUM, "width": NUM, "image_size": int, "params": int,
                        "flops": int, "flops_ratio": NUM, "px_matched": int,
                        "width_matched": NUM, "ratio_matched": NUM}],
           "stopped": (str, type(None))}
# the official presets' counts (official_presets)
PRESETS = {"presets": [{"phi": int, "flops": int, "params": int}]}
_PACKAGE = Path(__file__).resolve().parents[1]
# the code the counts come from: the rounding, the builders, the counter, the matcher, the grid
_CODE = (*sorted((_PACKAGE / "scaling").glob("*.py")), Path(__file__).with_name("space.py"))


def cache_dir() -> Path | None:
    """The grid cache's folder: ``$SCALESEARCH_GRID_CACHE``, or ``grids/`` in the folder of
    the decoded-image cache (``$SCALESEARCH_CACHE/scalesearch``, else ``$XDG_CACHE_HOME`` or
    ``~/.cache``); None when ``SCALESEARCH_GRID_CACHE`` turns it off."""
    from scalesearch.data.imagefolder import default_cache_dir

    value = os.environ.get(CACHE_ENV)
    if value is None:
        return default_cache_dir() / "grids"
    return None if value.strip().lower() in OFF else Path(value).expanduser()


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def _source(obj: object) -> str | None:
    """A hash of the file that defines ``obj`` (a plug-in edited in place changes it)."""
    try:
        path = inspect.getsourcefile(obj)  # type: ignore[arg-type]
        return _digest(Path(path).read_bytes()) if path else None
    except (OSError, TypeError):
        return None


def fingerprint(baseline: Scalable) -> dict:
    """What identifies the baseline's networks: name, class, base size, counts at its own
    size, its stage table (when it has one) and its class's source file."""
    counts = baseline_counts(baseline)
    table = getattr(baseline, "table", None)
    return dict(name=baseline.name, cls=f"{type(baseline).__module__}."
                f"{type(baseline).__qualname__}", image_size=baseline.image_size,
                divisor=baseline.resolution_divisor, params=counts.params, flops=counts.flops,
                activations=counts.activations,
                table=None if table is None else _digest(repr(table).encode()),
                source=_source(type(baseline)))


def _key(baseline: Scalable, code: tuple[Path, ...] = _CODE, **settings) -> str:
    """The key (JSON text) of a count: the baseline, ``settings``, the versions, the code."""
    import torch

    return json.dumps(dict(settings, baseline=fingerprint(baseline), target=TARGET,
                           match_tolerance=MATCH_TOLERANCE, version=__version__,
                           torch=torch.__version__,
                           code=_digest(*(p.read_bytes() for p in code))), sort_keys=True)


def cache_key(baseline: Scalable, ranges: Ranges, tolerance: float, flops_tolerance: float,
              match_flops: bool) -> str:
    """The key of a grid: everything its counts depend on."""
    return _key(baseline, ranges=asdict(ranges), tolerance=tolerance,
                flops_tolerance=flops_tolerance, match_flops=match_flops)


def _to_json(space: Space) -> dict:
    return dict(total=space.total, removed_formula=space.removed_formula,
                removed_measured=space.removed_measured, matched=space.matched,
                merged=space.merged,
                candidates=[dict(asdict(c), aliases=[list(a) for a in c.aliases])
                            for c in space.candidates])


def _from_json(d: dict) -> Space:
    cands = tuple(Candidate.from_dict(c) for c in d["candidates"])
    if not all(math.isfinite(c.nominal_ratio) for c in cands):
        raise ValueError("a candidate's FLOPs ratio is not a number")
    return Space(cands, d["total"], d["removed_formula"], d["removed_measured"], d["matched"],
                 d["merged"])


def _path(kind: str, key: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"{kind}-{_digest(key.encode())[:32]}.json"


def read_cached(path: Path, key: str, schema: dict = GRID) -> tuple[dict | None, str | None]:
    """(the value stored in ``path`` for ``key``, None) or (None, why it cannot be used;
    None when there is no file)."""
    if not os.path.lexists(path):
        return None, None
    try:
        data = json.loads(read_small_text(path, "cache", MAX_JSON))
    except ValueError as err:  # not a regular file, not UTF-8, not JSON (ScalesearchError too)
        return None, str(err).splitlines()[0]
    wrong = problem(data, {"format": int, "key": str, "value": schema})
    if wrong:
        return None, wrong
    if data["format"] != FORMAT or data["key"] != key:
        return None, "written for other settings"
    return data["value"], None


def _keep(path: Path, key: str, value: dict, log: Log) -> None:
    try:
        write_text(path, json.dumps(dict(format=FORMAT, key=key, value=value)))
    except (WriteError, ScalesearchError) as err:
        log(f"not cached: {err}")


def cached_space(baseline: Scalable, ranges: Ranges, tolerance: float, flops_tolerance: float,
                 match_flops: bool, log: Log = stderr) -> Space:
    """:func:`build_space`'s grid, from the cache when it holds it (module docstring)."""
    key = cache_key(baseline, ranges, tolerance, flops_tolerance, match_flops)
    path = _path("grid", key)
    if path is None:
        log(f"building the candidate grid for {baseline.name} (counting each network's "
            f"FLOPs; {CACHE_ENV} turns the grid cache off) …")
        return build_space(baseline, ranges, tolerance, flops_tolerance, match_flops)
    stored, why = read_cached(path, key)
    if stored is not None:
        try:
            space = _from_json(stored)
            log(f"candidate grid for {baseline.name} from the cache ({path})")
            return space
        except (TypeError, ValueError) as err:
            why = str(err)
    again = f"; {path} is not usable ({why}), counting again" if why else ""
    log(f"building the candidate grid for {baseline.name} (counting each network's FLOPs, "
        f"once: kept in {path.parent}){again} …")
    space = build_space(baseline, ranges, tolerance, flops_tolerance, match_flops)
    _keep(path, key, _to_json(space), log)
    return space


def _cached(baseline: Scalable, kind: str, schema: dict, count: Callable[[], dict],
            counted_in: Path, log: Log, **settings) -> dict:
    """``count()``'s value for ``kind`` and ``settings``, from the cache when it holds it (the
    key holds the source of ``counted_in``, the file ``count`` lives in); a damaged file is
    counted again, in silence."""
    key = _key(baseline, (*_CODE, counted_in), kind=kind, **settings)
    path = _path(kind, key)
    stored, _ = read_cached(path, key, schema) if path else (None, None)
    if stored is not None:
        return stored
    value = count()
    if path is not None:
        _keep(path, key, value, log)
    return value


def cached_members(baseline: Scalable, source: str, coefficients: tuple[float, float, float],
                   phis: tuple, count: Callable[[], tuple[list, str | None]],
                   log: Log = stderr) -> tuple[list, str | None]:
    """A family's members (``count()``: the members and where they stopped, or None), from
    the cache when it holds them: the paper's family is the same in every search, and the found
    one whenever the same coefficients win."""
    def counted() -> dict:
        members, stopped = count()
        return dict(members=[dict(m) for m in members], stopped=stopped)

    value = _cached(baseline, "family", MEMBERS, counted, Path(__file__).with_name("results.py"),
                    log, source=source, coefficients=list(coefficients), phis=list(phis))
    return value["members"], value["stopped"]


def official_presets(baseline: Scalable, log: Log = stderr) -> list[dict]:
    """The baseline's official presets B1–B7 ({phi, flops, params}, φ = the preset's number,
    drawn on family.png), from the cache: the same for every search of the baseline (counting
    B1–B7 takes 2.7 s in a fresh process)."""
    def count() -> dict:
        nets = {int(k[1:]): scale(baseline, preset=k) for k in baseline.presets
                if k[1:].isdigit() and 1 <= int(k[1:]) <= 7}
        return dict(presets=[dict(phi=phi, flops=n.counts.flops, params=n.counts.params)
                             for phi, n in sorted(nets.items())])

    return _cached(baseline, "presets", PRESETS, count, Path(__file__), log)["presets"]
