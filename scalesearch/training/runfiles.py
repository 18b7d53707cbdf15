"""The files a run folder holds, one schema each, checked whenever a file is read: a damaged,
reshaped or foreign file is refused in one line that names it and says what is wrong, never
a KeyError or TypeError further on. Only regular files are read, and only up to a size cap
(a FIFO would block the read, ``/dev/zero`` would fill the memory).

A schema is written as the data it checks: a dict lists the keys an object needs (``key?``
may be absent), a one-item list is a list of such items, a type or tuple of types is a value
(:data:`NUM` is a number, never a bool). A CSV file's schema lists its columns: :data:`NUM`
columns must hold numbers (or be empty). trials.csv checks itself row by row
(:class:`scalesearch.coefsearch.trials.TrialStore`); the Markdown tables are checked by
:func:`markdown_rows`.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from scalesearch.errors import ScalesearchError
from scalesearch.util.io import read_small_text

MAX_JSON = 16 << 20  # bytes: a marker or result file (search.json lists the candidate grid)
MAX_ROWS = 256 << 20  # bytes: a rows file (trials.csv, compare.csv, family.csv, …)

NUM = (int, float)
OPT_NUM = (int, float, type(None))
OPT_INT = (int, type(None))
KEY = {"alpha": NUM, "beta": NUM, "gamma": NUM}
MARKER = {"format?": int, "version?": str}  # 0.1.0 wrote neither; a resume needs the format

JSON_FILES: dict[str, dict] = {
    "search.json": {**MARKER, "config": {"baseline": str, "setup": {
        "data": str, "num_train": OPT_INT, "num_val": OPT_INT}},
        "space": {"candidates": [KEY]},
        "baseline_fingerprint?": {"name": str, "params": int, "flops": int}},
    "fidelity.json": {**MARKER, "config": {"reference": dict, "fidelity": dict}},
    "compare.json": {**MARKER, "config": dict},
    "best.json": {
        **KEY, "top1_mean": NUM, "top1_std": OPT_NUM, "seeds": int, "baseline": str,
        "tie_break?": str, "pick_rule?": str, "tie_p?": NUM, "surface?": (dict, type(None)),
        "top1_ci95?": ([OPT_NUM, 2], type(None)), "p_best?": OPT_NUM,
        "chance?": OPT_NUM, "product?": OPT_NUM, "flops_ratio?": OPT_NUM,
        "gamma_trained?": OPT_NUM, "objective?": ({"kind": str}, type(None)),
        "reliability?": ({"final": dict, "rungs?": [dict]}, type(None)),
        "tied?": [{**KEY, "top1_mean": NUM, "top1_std": OPT_NUM, "p_best": OPT_NUM,
                   "seeds": int}],
        "stopped?": [{"rung": int, "epoch": NUM, "stopped": int, "cut": OPT_NUM,
                      "missed_min": NUM, "missed_max": NUM, "not_ruled_out": int}],
        "not_ruled_out?": [{**KEY, "rung": int, "rung_p_best": OPT_NUM,
                            "missed_by": OPT_NUM}]},
    "result.json": {
        "kendall_tau": OPT_NUM, "spearman_rho": OPT_NUM, "same_winner": bool,
        "winner_in_tied": bool, "search_winner": [NUM, 3],
        "reference_winner": ([NUM, 3], type(None)), "reference_epochs": NUM,
        "reference_proxy_size": OPT_INT, "kendall_tau_ci95?": [OPT_NUM, 2],
        "tau_verdict?": str, "candidates": [{**KEY, "proxy_mean": OPT_NUM,
                                             "reference_mean": OPT_NUM}]},
    "latency.json": {"spec": dict, "latency_ms": dict},
    "config.json": {"baseline": str},  # a compare study's results folder, before compare.json
}

CSV_FILES: dict[str, dict] = {
    "family.csv": {"source": str, "phi": NUM, **KEY, "depth": NUM, "width": NUM,
                   "image_size": NUM, "params": NUM, "flops": NUM, "flops_ratio": NUM},
    "compare.csv": {"strategy": str, "target_ratio": NUM, "baseline": str, "depth": NUM,
                    "width": NUM, "resolution": NUM, "flops": NUM, "flops_ratio": NUM},
    "fidelity.csv": {**KEY, "proxy_mean": NUM, "reference_mean": NUM},
    "table3.csv": {"baseline": str, "strategy": str, "flops": NUM, "paper_flops": NUM},
}


_SAID = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
         type(None): "null", int: "a whole number", float: "a number"}


def _kind(value: object) -> str:
    return "a number" if isinstance(value, float) else _SAID.get(type(value), "a number")


def _names(types: tuple) -> str:
    said = [_SAID[t] for t in types if not (t is int and float in types)]
    return " or ".join(dict.fromkeys(said))


def problem(value: object, schema: object, where: str = "") -> str | None:
    """What is wrong with ``value`` against ``schema`` (module docstring), or None."""
    at = where or "the file"
    if isinstance(schema, tuple) and any(isinstance(s, dict | list) for s in schema):
        found = [problem(value, s, where) for s in schema]  # one of several shapes
        return None if None in found else found[0]
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return f"{at} is {_kind(value)}, not an object"
        for key, sub in schema.items():
            name = key.rstrip("?")
            if name not in value:
                if key.endswith("?"):
                    continue
                return f"{where + '.' if where else ''}{name} is missing"
            wrong = problem(value[name], sub, f"{where + '.' if where else ''}{name}")
            if wrong:
                return wrong
        return None
    if isinstance(schema, list):
        if not isinstance(value, list):
            return f"{at} is {_kind(value)}, not a list"
        if len(schema) == 2 and len(value) != schema[1]:
            return f"{at} has {len(value)} items, not {schema[1]}"
        return next(filter(None, (problem(v, schema[0], f"{where}[{i}]")
                                  for i, v in enumerate(value))), None)
    types = schema if isinstance(schema, tuple) else (schema,)
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        return f"{at} is {_kind(value)}, not {_names(types)}"
    return None


def damaged(path: Path, what: str) -> ScalesearchError:
    """The one-line refusal of a run file ``path``: ``what`` is wrong with it."""
    return ScalesearchError(f"{path}: {what}; not a file this scalesearch wrote (repair or "
                            "remove it, or start a new output folder)")


def parse_json(path: str | Path) -> object:
    """The JSON in ``path`` (a regular file, at most :data:`MAX_JSON` bytes), unchecked."""
    try:
        return json.loads(read_small_text(path, "run", MAX_JSON))
    except json.JSONDecodeError as err:
        raise ScalesearchError(f"{path} is unreadable ({err}); start a new output folder") \
            from None


def check_json(path: str | Path, data: object, name: str | None = None) -> dict:
    """``data`` read from ``path``, refused in one line unless it fits the schema of
    ``name`` (default: the file's name) in :data:`JSON_FILES`."""
    wrong = problem(data, JSON_FILES[name or Path(path).name])
    if wrong or not isinstance(data, dict):
        raise damaged(Path(path), wrong or "not a JSON object")
    return data


def read_json(path: str | Path, name: str | None = None) -> dict:
    """A run folder's JSON file, checked (:func:`check_json`)."""
    return check_json(path, parse_json(path), name)


def read_csv(path: str | Path, name: str | None = None):
    """A run folder's CSV file as a pandas DataFrame, refused in one line unless it has the
    columns of ``name`` (default: the file's name) in :data:`CSV_FILES`, numbers where
    numbers belong."""
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(io.StringIO(read_small_text(path, "run", MAX_ROWS)))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise damaged(path, f"not a CSV table ({' '.join(str(err).split())})") from None
    for column, kind in CSV_FILES[name or path.name].items():
        if column not in frame:
            raise damaged(path, f"column {column} is missing")
        if kind is NUM and len(frame) and not (pd.api.types.is_numeric_dtype(frame[column])
                                and not pd.api.types.is_bool_dtype(frame[column])):
            raise damaged(path, f"column {column} holds values that are not numbers")
    return frame


def markdown_rows(path: str | Path, text: str | None = None) -> list[list[str]]:
    """The cells of the first Markdown pipe table in ``path`` (a regular file; or ``text``,
    written for it), header first; a row with more or fewer cells than the header is refused
    in one line."""
    text = read_small_text(path, "run", MAX_ROWS) if text is None else text
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("|")]
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines
             if not set(ln) <= set("|-: ")]
    for i, row in enumerate(cells[1:], 2):
        if len(row) != len(cells[0]):
            raise damaged(Path(path), f"table row {i} has {len(row)} cells where the header "
                          f"has {len(cells[0])}")
    return cells
