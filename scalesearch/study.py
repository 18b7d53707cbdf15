"""Studies: an experiment described in ``studies/NAME.yaml``, written to
``studies/results/NAME/``. Two kinds:

``kind: paper-table3`` — ``baselines: [...]``: the paper's Table 3 multipliers, counted.
``kind: compare`` — ``scalesearch compare``'s options by name, typed by a schema generated
from :class:`~scalesearch.settings.CompareConfig`'s fields: ``baseline``, ``flops_ratio``
(old: ``flops_ratios``), ``strategies``, ``coefficients``, ``data`` (``synthetic`` or a
folder, relative to the YAML file), ``seeds``, ``epochs``, ``proxy_size``, … and
``max_concurrent`` (old: ``workers``) (docs/compare.md).

Where a study trains (a Ray cluster, CPUs and GPUs per trial, device, AMP) is not part of
the experiment: ``scalesearch study`` takes it from its flags (``max_concurrent`` in the file
caps the trainings at once unless ``--max-concurrent`` is given).
"""

from __future__ import annotations

import operator
from dataclasses import is_dataclass, replace
from functools import reduce
from pathlib import Path
from types import UnionType
from typing import Annotated, Literal, Union, get_args, get_origin, get_type_hints

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from scalesearch.errors import ScalesearchError
from scalesearch.scaling.registry import plugin_file
from scalesearch.settings import CompareConfig, Placement, Tracking
from scalesearch.settings.fields import build, flags, resolve
from scalesearch.util.io import read_small_text
from scalesearch.util.logs import stderr

KINDS = ("compare", "paper-table3")
NEEDS = {"baseline": "a baseline", "baselines": "a list of baselines"}  # a missing key, said
RENAMED = {"flops_ratios": "flops_ratio", "workers": "max_concurrent"}  # old key → option
WHERE = ("max_concurrent",)  # the one placement option a study file may set (a cap)


class _Study(BaseModel):
    """A study file's keys, each with its type: strict, so ``seeds: 2.7`` or ``seeds: two`` is
    refused instead of read as 2, and unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)
    description: str | None = None


def _yaml_type(tp):
    """The YAML form of a settings field's type: tuples are lists (of fixed length where the
    tuple's is), a nested settings switch (``latency``) a boolean."""
    if is_dataclass(tp):
        return bool
    args = get_args(tp)
    if isinstance(tp, UnionType) or get_origin(tp) is Union:
        return reduce(operator.or_, (_yaml_type(a) for a in args))
    if get_origin(tp) is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return list[args[0]]
        return Annotated[list[args[0]], Field(min_length=len(args), max_length=len(args))]
    return tp


def _compare_keys() -> dict:
    """{key: (YAML type, None)} of a compare study: the CompareConfig options (their types
    from the settings fields) but where it runs and logs, which the flags give."""
    where = {option[1] for option in flags(Placement, Tracking)} - set(WHERE)
    return {name: (_yaml_type(get_type_hints(owner)[f.name]) | None, None)
            for f, name, _, _, owner in flags(CompareConfig) if name not in where}


CompareStudy = create_model("CompareStudy", __base__=_Study, __doc__="``kind: compare`` "
                            "(docs/compare.md): the compare options, by name",
                            # pydantic's stubs want a TypeForm, and mypy reads Literal's
                            # "compare" as a quoted annotation in one
                            kind=(Literal["compare"], ...),  # type: ignore[arg-type, maybe-unrecognized-str-typeform]
                            baseline=(str, ...),
                            **{k: v for k, v in _compare_keys().items() if k != "baseline"})


class Table3Study(_Study):
    """``kind: paper-table3``: the paper's Table 3 multipliers of each baseline, counted."""

    kind: Literal["paper-table3"]
    baselines: list[str]


MAX_DEPTH = 20  # nesting levels of a study file (a flat mapping of lists: 3 are used)
SHOWN = 80  # characters of a value an error line echoes


class _Refused(Exception):
    """A YAML construct a study file may not use; its message, with the line."""


class _StudyLoader(yaml.SafeLoader):
    """yaml's SafeLoader without aliases (``*name``), which let a few lines expand to
    gigabytes (a 'billion laughs'), and at most :data:`MAX_DEPTH` levels deep (2,000 nested
    ``[`` were a RecursionError)."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = f"line {event.start_mark.line + 1}"
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(f"YAML aliases (*{event.anchor:.{SHOWN}}) are not allowed in a "
                           f"study file ({line})")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep ({line})")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _shown(value: object) -> str:
    """``repr(value)``, cut to :data:`SHOWN` characters with …, for a one-line error."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN - 1] + "…"


def _invalid(path: Path, schema: type[_Study], err: ValidationError,
             written: dict[str, str]) -> ScalesearchError:
    """One line naming the unknown keys, or the first bad key (as ``written`` in the file, an
    old name included), its value and what it must be."""
    unknown = [str(e["loc"][0]) for e in err.errors() if e["type"] == "extra_forbidden"]
    if unknown:
        unknown = [k if len(k) <= SHOWN else _shown(k) for k in unknown]
        return ScalesearchError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: "
                                f"{', '.join(sorted(schema.model_fields))}")
    e = err.errors()[0]
    if e["type"] == "missing":
        annotation = schema.model_fields["kind"].annotation
        assert annotation is not None  # every study declares its kind: Literal[...]
        kind = annotation.__args__[0]
        key = str(e["loc"][0])  # a missing key's name (str() of a str: itself)
        return ScalesearchError(f"{path}: a {kind} study needs {NEEDS.get(key, key)}")
    loc = e["loc"] or ("(file)",)  # a union's member names are left out, list indices kept
    key = written.get(str(loc[0]), str(loc[0])) + "".join(
        f"[{part}]" for part in loc[1:] if isinstance(part, int))
    return ScalesearchError(f"{path}: {key}: {_shown(e['input'])} is not valid "
                            f"({e['msg'][0].lower()}"
                            f"{e['msg'][1:]})")


def load_study(path: Path) -> dict:
    """The study YAML at ``path``, validated key by key against :class:`CompareStudy` or
    :class:`Table3Study`; the keys it sets."""
    try:
        spec = yaml.load(read_small_text(path, "study"), Loader=_StudyLoader)  # noqa: S506
    except yaml.YAMLError as err:
        raise ScalesearchError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from None
    except _Refused as err:
        raise ScalesearchError(f"{path}: {err}") from None
    if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
        raise ScalesearchError(f"{path}: needs a mapping with kind: {' or '.join(KINDS)}")
    renamed = RENAMED if spec["kind"] == "compare" else {}
    written = {renamed[k]: k for k in spec if k in renamed}  # today's name → the file's
    spec = {renamed.get(k, k): v for k, v in spec.items()}
    schema = CompareStudy if spec["kind"] == "compare" else Table3Study
    try:
        spec = schema.model_validate(spec).model_dump(exclude_unset=True, exclude_none=True)
    except ValidationError as err:
        raise _invalid(path, schema, err, written) from None
    try:
        _plugin_files(spec)
    except ScalesearchError as err:
        raise ScalesearchError(f"{path}: {err}") from None
    return spec


def _plugin_files(spec: dict) -> list[Path]:
    """The plug-in files a loaded study runs (its baselines and training function that are
    files); a baseline that is neither a registered name nor a file is refused
    (:func:`registry.plugin_file`), and so is a module as ``train:``."""
    names = spec.get("baselines", [spec.get("baseline")])
    files = [f for f in map(plugin_file, names) if f is not None]
    if (train := spec.get("train")) is not None:  # the training function: built-in or a file
        files += [f for f in [_trainer_file(train)] if f is not None]
    return list(dict.fromkeys(files))


def _trainer_file(spec: str) -> Path | None:
    """A study's ``train:`` — the built-in (None) or a file ``path/to/file.py:fn`` (its path):
    a module would be imported, as for baselines, so it is refused."""
    from scalesearch.settings.recipe import DEFAULT_TRAINER
    from scalesearch.training.contract import trainer_file

    if spec == DEFAULT_TRAINER:
        return None
    if (path := trainer_file(spec)) is None:
        raise ScalesearchError(f"train {spec!r:.80}: a study names the built-in training "
                               f"({DEFAULT_TRAINER}) or a file (path/to/file.py:fn), not a "
                               "module")
    return path


def _compare_config(spec: dict, folder: Path, placement: Placement | None = None,
                    tracking: Tracking | None = None) -> CompareConfig:
    """The CompareConfig of a loaded compare study, through the options' resolver: ``data``
    relative to the study's folder; where it trains from ``placement`` (the flags), capped by
    the file's ``max_concurrent`` unless the flags cap it themselves."""
    given = {k: v for k, v in spec.items() if k not in ("kind", "description", *WHERE)}
    if given.get("data", "synthetic") != "synthetic":
        given["data"] = str((folder / given["data"]).resolve())
    placement = placement or Placement()
    if placement.max_concurrent is None and spec.get("max_concurrent") is not None:
        placement = replace(placement, max_concurrent=spec["max_concurrent"])
    values = resolve(given, "study", CompareConfig)
    return build(CompareConfig, values, placement=placement, tracking=tracking or Tracking())


def run_study(path: Path, out: Path | None = None, resume: bool = False,
              placement: Placement | None = None, tracking: Tracking | None = None
              ) -> list[Path]:
    """Run one study (``resume``: continue an interrupted one); returns the files it wrote.
    ``placement`` (Ray and hardware) says where it trains; ``tracking`` where its metrics are
    also logged."""
    from scalesearch.report.page import write_report

    spec = load_study(path)
    for file in _plugin_files(spec):  # said before they run, as --baseline file.py:NET runs
        stderr(f"{path}: runs the plug-in file {file}")
    out = out or path.parent / "results" / path.stem
    if spec["kind"] == "paper-table3":
        from scalesearch.comparison.strategies import paper_rows
        from scalesearch.comparison.table3 import write_table3
        from scalesearch.scaling.registry import resolve

        rows = [r for name in spec.get("baselines", ()) for r in paper_rows(resolve(name))]
        if not rows:
            raise ScalesearchError(f"{path}: list the networks under baselines:")
        out.mkdir(parents=True, exist_ok=True)
        return [*write_table3(out, rows), write_report(out)]
    from scalesearch.comparison.plots import plot_compare
    from scalesearch.comparison.run import run_compare

    try:
        cfg = _compare_config(spec, path.parent, placement, tracking)
    except ScalesearchError as err:  # a value out of range, said with the file's name
        raise ScalesearchError(f"{path}: {err}") from None
    run_compare(cfg, out, train=True, resume=resume)
    plotted = plot_compare(out)
    return [out / "compare.csv", out / "compare.md", *plotted, write_report(out)]
