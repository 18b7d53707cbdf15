"""Per-candidate inference latency, measured once per candidate (not per seed) on the driver
after training, when the machine is quiet (EfficientNet Table 4's setting by default: batch 1,
one CPU thread; :mod:`scalesearch.training.latency`). Cached in ``latency.json`` so a resumed or
re-reported search does not measure twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from scalesearch.coefsearch.space import Candidate
from scalesearch.scaling.scalable import Scalable
from scalesearch.settings.placement import LatencySpec
from scalesearch.training.latency import measure_many
from scalesearch.training.runfiles import read_json
from scalesearch.util.io import write_json
from scalesearch.util.status import Status


def _key(k: tuple) -> str:
    return ",".join(f"{v:g}" for v in k)


def _stored(path: Path) -> dict | None:
    return read_json(path) if path.exists() else None  # checked (scalesearch.training.runfiles)


def load_latencies(folder: Path) -> dict[tuple, float] | None:
    """The latencies a search stored in ``folder/latency.json``, keyed by (α, β, γ)."""
    saved = _stored(folder / "latency.json")
    return _by_candidate(saved["latency_ms"]) if saved else None


def _by_candidate(stored: dict[str, float]) -> dict[tuple, float]:
    return {tuple(float(v) for v in k.split(",")): ms for k, ms in stored.items()}


def candidate_latencies(baseline: Scalable, rows: list[dict], spec: LatencySpec, out: Path,
                        log: Callable[[str], None]) -> dict[tuple, float]:
    """latency_ms of each trained candidate's φ=1 network at the baseline's full image size
    (at the resolution it was trained with), keyed by (α, β, γ)."""
    path = out / "latency.json"
    saved = _stored(path)
    cached: dict[str, float] = saved["latency_ms"] if saved and saved.get("spec") == \
        spec.to_dict() else {}
    todo: dict[tuple, dict] = {}
    for r in rows:
        k = Candidate.key_of(r)
        if r["status"] != Status.REJECTED and _key(k) not in cached:
            todo.setdefault(k, r)
    if todo:
        log(f"measuring the latency of {len(todo)} candidate(s) (batch {spec.batch}, "
            f"{spec.threads} thread(s), {spec.device}, median of {spec.rounds} rounds) …")
        items = [(baseline.build(r["depth"], r["width"]),
                  baseline.scaled_image_size(r["resolution"])) for r in todo.values()]
        for k, ms in zip(todo, measure_many(items, spec), strict=True):
            cached[_key(k)] = ms
        write_json(path, dict(spec=spec.to_dict(), latency_ms=cached))
    return _by_candidate(cached)
