"""``trials.csv``: one row per (candidate, seed), the search's source of truth (a
:class:`~scalesearch.training.rundir.RowStore`: every append rewrites the file atomically, so
a killed run leaves the rows of every finished trial and nothing half-written; ``--resume``
skips what the file already holds). A ``paused`` row (synchronous successive halving) is not
finished: it names the checkpoint its candidate continues from, and a later row for the same
(candidate, seed) replaces it."""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path
from typing import TypedDict, get_args, get_type_hints

from scalesearch.coefsearch.reliability import in_seed_order
from scalesearch.coefsearch.space import Candidate
from scalesearch.errors import ScalesearchError
from scalesearch.training.rundir import RowStore, RunFolder
from scalesearch.training.runfiles import MAX_ROWS
from scalesearch.util.io import atomic_open, read_small_text
from scalesearch.util.status import Status


class TrialRow(TypedDict):
    """A row of trials.csv (its schema, written once: the columns in order, their types; an
    empty cell is None). flops/params/flops_ratio: the φ=1 network at the baseline's own size
    and the resolution it is trained at (γ, or the matched resolution); nominal_ratio: the same
    at γ; image_size: the proxy size trained; activations(_ratio): output elements of
    conv/linear layers (pycls), like FLOPs; epochs: epochs trained; rung: the highest rung
    reached (0 = the first); own_score: the training function's own score (the built-in's val
    top-1) where --metric ranks another value (top1 then holds that value, negated under
    --mode min; empty otherwise); history: the ranked value after each evaluated epoch,
    ';'-separated;
    train_loss: each epoch's mean training loss, ';'-separated (their sum is the "sum of
    training losses" of Ru et al., a ranking score measured in issue 36 §5; empty when the
    training function reports none);
    status: a :class:`~scalesearch.util.status.Status`; checkpoint: a paused row's Ray Tune
    checkpoint folder (relative to the run folder when inside it)."""

    alpha: float
    beta: float
    gamma: float
    product: float | None
    depth: float | None
    width: float | None
    resolution: float | None
    matched_resolution: float | None
    image_size: int | None
    params: int | None
    flops: int | None
    flops_ratio: float | None
    nominal_ratio: float | None
    activations: int | None
    activations_ratio: float | None
    proxy_flops: int | None
    seed: int
    epochs: int | None
    rung: int | None
    top1: float | None
    loss: float | None
    own_score: float | None
    history: str | None
    train_loss: str | None
    images: int | None
    seconds: float | None
    images_per_sec: float | None
    status: str
    error: str | None
    checkpoint: str | None


_TYPES = get_type_hints(TrialRow)
COLUMNS = tuple(_TYPES)
FLOATS = {k for k, t in _TYPES.items() if float in get_args(t) or t is float}
INTS = {k for k, t in _TYPES.items() if int in get_args(t) or t is int}
KEYS = ("alpha", "beta", "gamma", "seed")  # a row's identity: never empty
CHECKPOINTS = "checkpoints"  # Ray Tune's storage for sha's rung runs, inside the run folder


def checkpoint_path(out: Path, stored: str | None) -> Path | None:
    """A row's checkpoint folder (stored relative to the run folder), resolved; a path that
    leaves the run's checkpoints/ folder (``..``, an absolute path, a link out) raises
    ValueError: halving deletes the folder around it."""
    if not stored:
        return None
    root = out.resolve() / CHECKPOINTS
    path = (out.resolve() / stored).resolve()
    if not path.is_relative_to(root) or len(path.relative_to(root).parts) < 2:
        raise ValueError(f"checkpoint {stored[:80]!r} is not inside the run's {CHECKPOINTS}/ "
                         "folder")
    return path


def _parse(row: dict[str, str | None]) -> dict:
    """A row typed; raises ValueError naming the cell that is not what its column holds."""
    out: dict = {}
    for key in COLUMNS:
        text = row.get(key) or ""
        if text == "":
            if key in KEYS:
                raise ValueError(f"{key} is empty")
            out[key] = None
        elif key in FLOATS or key in INTS:
            try:
                out[key] = float(text) if key in FLOATS else int(text)
            except ValueError:
                kind = "a number" if key in FLOATS else "a whole number"
                raise ValueError(f"{key} is not {kind} ({text[:40]!r})") from None
        else:
            out[key] = text
    return out


def _fields(raw: dict, header: int) -> dict:
    """A csv row with as many fields as the header; raises ValueError otherwise."""
    if None in raw or None in raw.values():  # more fields / fewer fields than the header
        found = header - sum(v is None for v in raw.values()) + len(raw.get(None) or ())
        raise ValueError(f"{found} fields where the header has {header}")
    return raw


def trial_key(row: dict) -> tuple[float, float, float, int]:
    """(α, β, γ, seed) of a row, rounded as stored: its identity in trials.csv."""
    return (*Candidate.key_of(row), row["seed"])


class TrialStore(RowStore):
    """trials.csv: rows keyed by (α, β, γ, seed) (:func:`trial_key`), in :data:`COLUMNS`."""

    def key(self, row: dict) -> tuple:
        """(α, β, γ, seed), rounded as stored."""
        return trial_key(row)

    def read(self) -> list[dict]:
        """The rows of trials.csv, typed (:data:`FLOATS`, :data:`INTS`; empty cells None).
        A damaged row is refused in one line naming its row (the header is row 1, as in a
        spreadsheet); a truncated last row (a crash mid-write) is dropped with a warning, and
        of a duplicated (candidate, seed) the last row is kept, with a warning."""
        fix = "; repair or remove the file"
        text = read_small_text(self.path, "run", MAX_ROWS)  # a regular file, not too big
        lines = text.count("\n") + (not text.endswith("\n"))
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows: dict[tuple, dict] = {}
        start, dups = 1, 0
        try:
            if not set(KEYS) <= set(reader.fieldnames or ()):
                raise ScalesearchError(f"{self.path} row 1: not a trials.csv header (it needs "
                                       f"{', '.join(KEYS)}){fix}")
            start = 2
            for raw in reader:
                try:
                    row = _parse(_fields(raw, len(reader.fieldnames or ())))
                    checkpoint_path(self.path.parent, row["checkpoint"])
                except ValueError as err:
                    short = None in raw.values() or not text.endswith("\n")
                    if reader.line_num == lines and short:  # a crash mid-write
                        warnings.warn(f"{self.path} row {start} is truncated ({err}); dropped, "
                                      "its trial is trained again", stacklevel=2)
                        break
                    raise ScalesearchError(f"{self.path} row {start}: {err}{fix}") from None
                dups += trial_key(row) in rows
                rows[trial_key(row)] = row  # the last of a duplicated key wins
                start = reader.line_num + 1
        except csv.Error as err:
            raise ScalesearchError(f"{self.path} row {start}: {err}{fix}") from None
        if dups:
            warnings.warn(f"{self.path}: {dups} duplicated (candidate, seed) row(s); kept the "
                          "last of each, one seed each", stacklevel=2)
        return list(rows.values())

    def write(self) -> None:
        """Rewrite trials.csv atomically, columns in :data:`COLUMNS` order."""
        with atomic_open(self.path, "w") as f:
            writer = csv.DictWriter(f, COLUMNS, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            for r in self.rows:
                writer.writerow({k: _format(r.get(k)) for k in COLUMNS})


def _format(v: object) -> object:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, float):
        return repr(round(v, 6))
    return v


def history_at(row: dict, epoch: int) -> float | None:
    """The row's val top-1 after ``epoch`` (from its ';'-separated history), if evaluated."""
    parts = (row.get("history") or "").split(";")
    return float(parts[epoch - 1]) if len(parts) >= epoch and parts[epoch - 1] else None


def train_losses(row: dict) -> list[float] | None:
    """The row's per-epoch mean training losses (its ';'-separated train_loss); None when an
    epoch's is missing (a run recorded before the column, or a function reporting none)."""
    parts = (row.get("train_loss") or "").split(";")
    return [float(x) for x in parts] if all(parts) else None


def seed_scores_at(rows: list[dict], epoch: int) -> dict[tuple, dict[int, float]]:
    """Per candidate (α, β, γ), {seed: val top-1 after ``epoch``} (seeds that got there)."""
    out: dict[tuple, dict[int, float]] = {}
    for r in rows:
        score = history_at(r, epoch) if r["status"] != Status.REJECTED else None
        if score is not None:
            out.setdefault(Candidate.key_of(r), {})[r["seed"]] = score
    return out


def scores_at(rows: list[dict], epoch: int) -> dict[tuple, list[float]]:
    """Per candidate (α, β, γ), its seeds' val top-1 after ``epoch``, in seed order."""
    return in_seed_order(seed_scores_at(rows, epoch))


def search_folder(path: str | Path) -> RunFolder:
    """A search's run folder: search.json and trials.csv."""
    return RunFolder(path, "search", "search.json", "trials.csv", TrialStore)
