"""Studies: an experiment described in ``studies/NAME.yaml``, written to
``studies/results/NAME/``. Two kinds:

``kind: paper-table3`` — ``baselines: [...]``: the paper's Table 3 multipliers, counted.
``kind: compare`` — ``baseline``, ``flops_ratios``, ``strategies``, ``coefficients``
(optional [α, β, γ]), ``data`` (``synthetic`` or a folder, relative to the YAML file),
``seeds``, ``epochs``, ``proxy_size``, ``num_train``, ``num_val``, ``batch_size``, ``lr``,
``optimizer``, ``max_concurrent`` (old spelling: ``workers``); beyond the paper:
``fast_alpha``, ``max_image_size``, ``latency`` (true/false), ``latency_batch``,
``latency_threads`` (docs/compare.md).

Where a study trains (a Ray cluster, CPUs and GPUs per trial, device, AMP) is not part of
the experiment: ``scalesearch study`` takes it from its flags (``max_concurrent`` in the file
caps the trainings at once unless ``--max-concurrent`` is given).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scalesearch.errors import ScalesearchError
from scalesearch.io import read_small_text

KINDS = ("compare", "paper-table3")
NEEDS = {"baseline": "a baseline", "baselines": "a list of baselines"}  # a missing key, said
Positive = Annotated[int, Field(gt=0)]
PositiveNumber = Annotated[float, Field(gt=0)]


class _Study(BaseModel):
    """A study file's keys, each with its type: strict, so ``seeds: 2.7`` or ``seeds: two`` is
    refused instead of read as 2, and unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)
    description: str | None = None


class CompareStudy(_Study):
    """``kind: compare`` (docs/compare.md)."""

    kind: Literal["compare"]
    baseline: str
    flops_ratios: list[PositiveNumber] | None = None
    strategies: list[str] | str | None = None
    coefficients: Annotated[list[PositiveNumber], Field(min_length=3, max_length=3)] | None = None
    data: str | None = None
    seeds: Positive | None = None
    epochs: PositiveNumber | None = None
    proxy_size: Positive | None = None
    num_train: Positive | None = None
    num_val: Positive | None = None
    batch_size: Positive | None = None
    lr: PositiveNumber | None = None
    optimizer: str | None = None
    max_concurrent: Positive | None = None
    workers: Positive | None = None  # the old spelling of max_concurrent
    fast_alpha: PositiveNumber | None = None
    max_image_size: Positive | None = None
    latency: bool | None = None
    latency_batch: Positive | None = None
    latency_threads: Positive | None = None


class Table3Study(_Study):
    """``kind: paper-table3``: the paper's Table 3 multipliers of each baseline, counted."""

    kind: Literal["paper-table3"]
    baselines: list[str]


def _invalid(path: Path, schema: type[_Study], err: ValidationError) -> ScalesearchError:
    """One line naming the unknown keys, or the first bad key, its value and what it must be."""
    unknown = [str(e["loc"][0]) for e in err.errors() if e["type"] == "extra_forbidden"]
    if unknown:
        return ScalesearchError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: "
                                f"{', '.join(sorted(schema.model_fields))}")
    e = err.errors()[0]
    if e["type"] == "missing":
        kind = schema.model_fields["kind"].annotation.__args__[0]
        key = e["loc"][0]
        return ScalesearchError(f"{path}: a {kind} study needs {NEEDS.get(key, key)}")
    loc = e["loc"] or ("(file)",)  # a union's member names are left out, list indices kept
    key = str(loc[0]) + "".join(f"[{part}]" for part in loc[1:] if isinstance(part, int))
    return ScalesearchError(f"{path}: {key}: {e['input']!r} is not valid ({e['msg'][0].lower()}"
                            f"{e['msg'][1:]})")


def load_study(path: Path) -> dict:
    """The study YAML at ``path``, validated key by key against :class:`CompareStudy` or
    :class:`Table3Study`; the keys it sets."""
    try:
        spec = yaml.safe_load(read_small_text(path, "study"))
    except yaml.YAMLError as err:
        raise ScalesearchError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(spec, dict) or spec.get("kind") not in KINDS:
        raise ScalesearchError(f"{path}: needs a mapping with kind: {' or '.join(KINDS)}")
    schema = CompareStudy if spec["kind"] == "compare" else Table3Study
    try:
        return schema.model_validate(spec).model_dump(exclude_unset=True, exclude_none=True)
    except ValidationError as err:
        raise _invalid(path, schema, err) from None


def _compare_config(spec: dict, folder: Path, placement=None, hardware: dict | None = None,
                    tracking=None):
    from dataclasses import replace

    from scalesearch.cluster import Placement
    from scalesearch.comparison.config import CompareConfig
    from scalesearch.comparison.strategies import (
        FAST_ALPHA,
        PAPER_STRATEGIES,
        check_ratio,
        parse_strategies,
    )
    from scalesearch.latency import LatencySpec
    from scalesearch.proxy import DEFAULT_PROXY_SIZE, ProxySetup
    from scalesearch.scaler import PAPER_COEFFICIENTS
    from scalesearch.trackers import Tracking
    from scalesearch.train import TrainConfig

    ratios = tuple(float(r) for r in spec.get("flops_ratios", (2.0, 4.0)))
    for r in ratios:
        check_ratio(r)
    data = str(spec.get("data", "synthetic"))
    if data != "synthetic":
        data = str((folder / data).resolve())
    train = TrainConfig(**{k: spec[k] for k in ("epochs", "batch_size", "lr", "optimizer")
                           if k in spec}, **(hardware or {}))
    placement = placement or Placement()
    concurrent = spec.get("max_concurrent", spec.get("workers"))
    if placement.max_concurrent is None and concurrent is not None:
        placement = replace(placement, max_concurrent=concurrent)
    setup = ProxySetup(data=data, proxy_size=spec.get("proxy_size", DEFAULT_PROXY_SIZE),
                       num_train=spec.get("num_train"), num_val=spec.get("num_val"), train=train)
    latency = LatencySpec(int(spec.get("latency_batch", 1)), int(spec.get("latency_threads", 1))) \
        if spec.get("latency") else None
    cap = spec.get("max_image_size")
    return CompareConfig(spec["baseline"], ratios,
                         parse_strategies(spec.get("strategies", list(PAPER_STRATEGIES))),
                         tuple(spec.get("coefficients", PAPER_COEFFICIENTS)),
                         spec.get("seeds", 1), setup, placement,
                         fast_alpha=float(spec.get("fast_alpha", FAST_ALPHA)),
                         max_image_size=None if cap is None else int(cap), latency=latency,
                         tracking=tracking or Tracking())


def run_study(path: Path, out: Path | None = None, resume: bool = False, placement=None,
              hardware: dict | None = None, tracking=None) -> list[Path]:
    """Run one study (``resume``: continue an interrupted one); returns the files it wrote.
    ``placement`` (a :class:`scalesearch.cluster.Placement`) and ``hardware`` (TrainConfig's
    device, amp, compile, max_memory_gb) say where it trains; ``tracking``
    (:class:`scalesearch.trackers.Tracking`) where its metrics are also logged."""
    from scalesearch.htmlreport import write_report

    spec = load_study(path)
    out = out or path.parent / "results" / path.stem
    if spec["kind"] == "paper-table3":
        from scalesearch.comparison.strategies import paper_rows
        from scalesearch.comparison.table3 import write_table3
        from scalesearch.registry import resolve

        rows = [r for name in spec.get("baselines", ()) for r in paper_rows(resolve(name))]
        if not rows:
            raise ScalesearchError(f"{path}: list the networks under baselines:")
        out.mkdir(parents=True, exist_ok=True)
        return [*write_table3(out, rows), write_report(out)]
    from scalesearch.comparison.plots import plot_compare
    from scalesearch.comparison.run import run_compare

    run_compare(_compare_config(spec, path.parent, placement, hardware, tracking), out,
                train=True, resume=resume)
    plotted = plot_compare(out)
    return [out / "compare.csv", out / "compare.md", *plotted, write_report(out)]
