"""Plain-text formatting for the CLI (kept free of pandas so `scale` starts fast)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from scalesearch.errors import ScalesearchError

UNITS = {"s": 1, "m": 60, "h": 3600}


def printable(name: object) -> str:
    """A name read from disk (a file, a folder, a path in a run file) as a one-line message
    shows it: as is when every character prints, else quoted ``repr``-style, so a newline
    cannot start a forged line and an escape sequence never reaches the terminal raw."""
    text = str(name)
    return text if text.isprintable() else repr(text)


def one_line(message: str) -> str:
    """``message`` with every character that does not print escaped (``\\n``, ``\\x1b``):
    the CLI's last guard that an error or warning is one line, whatever it quotes."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def human(n: float, unit: str = "") -> str:
    """5288548 → '5.29M'; 385814752 with unit 'FLOPs' → '0.386B' (the paper's FLOPs style)."""
    if unit == "FLOPs":
        return f"{n / 1e9:.3f}B" if n >= 1e8 else f"{n / 1e6:.1f}M"
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.2f}{suffix}"
    return f"{n:g}"


def percent(p: float | None) -> str:
    """A probability as '71.3%'; '' where none was measured (None or NaN)."""
    return "" if p is None or p != p else f"{100 * p:.1f}%"


def is_top1(ranked: object) -> bool:
    """Whether best.json's ``ranked`` names val top-1 ("top-1", or None: written before
    --metric existed), shown in %; else it is a --metric's own value ("-sotl")."""
    return ranked in (None, "top-1")


def ranked_value(ranked: object, value: float, name: str = "val top-1",
                 relation: str = "") -> str:
    """A stored score as the logs say it: "val top-1 71.2%" (``name`` for val top-1,
    :func:`is_top1`), or the --metric's own ("-sotl -2.13" under --mode min: trials.csv's
    sign); ``relation`` goes before the value ("≥ ": a rung's bar)."""
    if is_top1(ranked):
        return f"{name} {relation}{value:.1f}%"
    return f"{ranked} {relation}{value:.4g}"


def score_digits(ranked: object) -> int:
    """Decimals a ranked value is shown with: 1 for val top-1 in % (:func:`is_top1`), 3 for
    another --metric in its own units (a loss such as -sotl differs in the second decimal)."""
    return 1 if is_top1(ranked) else 3


def mean_spread(mean: float | None, std: float | None, digits: int = 1) -> str:
    """'42.9 ± 1.2'; '42.9' where no spread was measured (one seed: std None or NaN)."""
    if std is None or std != std:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def render_table(rows: Sequence[Mapping[str, Any]], columns: list[str] | None = None) -> str:
    """Left-aligned text table of ``rows`` (missing values blank)."""
    columns = columns or list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
              for r in cells]
    return "\n".join(lines)


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def parse_duration(text: str) -> float:
    """Seconds in ``"90s"``, ``"4m"``, ``"2h"``, ``"1h30m"`` or ``"1.5h"``; > 0."""
    parts = re.fullmatch(r"\s*((?:\d+(?:\.\d+)?\s*[smh]\s*)+)", str(text))
    if not parts:
        raise ScalesearchError(f"--budget must be a duration such as 90s, 4m, 2h or 1h30m, "
                               f"got {text!r}")
    seconds = sum(float(n) * UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)\s*([smh])", text))
    if not seconds > 0:
        raise ScalesearchError(f"--budget must be longer than 0 s, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """``3m05s`` / ``1h02m`` / ``45s``."""
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
