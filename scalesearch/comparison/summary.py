"""A comparison's summary: one line per network (top-1 mean ± std over seeds), and the
markdown table in the layout of the paper's Table 3 (compare.md)."""

from __future__ import annotations

import pandas as pd

from scalesearch.comparison.rows import sorted_rows
from scalesearch.util.fmt import human, mean_spread
from scalesearch.util.status import Status


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One line per network: top-1 mean ± std over seeds (when trained)."""
    keys = ["target_ratio", "strategy"]
    first = df.groupby(keys, sort=False).first().reset_index()
    if "top1" in df:
        stats = df.groupby(keys, sort=False)["top1"].agg(["mean", "std", "count"]).reset_index()
        first = first.merge(stats.rename(columns={"mean": "top1_mean", "std": "top1_std",
                                                  "count": "seeds"}), on=keys)
    return sorted_rows(first.to_dict("records"))


def _label(r: dict, name: str) -> str:
    """What the strategy chose, in the paper's words (Table 3's first column)."""
    s, mults = r["strategy"], f"d={r['depth']:g}, w={r['width']:g}, r={r['resolution']:g}"
    if s == "baseline":
        return f"{name} (baseline)"
    if r.get("capped") in (True, 1):  # a bool, or numpy's from a CSV; NaN or absent: no
        return f"{s}, image capped at {r['image_size']} px ({mults})"
    if s == "compound":
        return f"compound (φ={r['phi']:g}: {mults})"
    if s == "nonuniform":
        return f"nonuniform (φ={r['phi']:g}: {mults}; repeats {r['stage_repeats']})"
    if s == "fast":
        return f"fast (s={r['fast_s']:g}: {mults})"
    return f"scale by {s} ({s[0]}={r[s]:g})"


def _has(summary: pd.DataFrame, col: str) -> bool:
    return bool(col in summary and summary[col].notna().any())


def markdown(summary: pd.DataFrame, name: str) -> str:
    """Table 3 layout: model | FLOPs (achieved / target) | activations | latency | params | px
    | top-1; the latency and top-1 columns where they were measured."""
    trained, timed = _has(summary, "top1_mean"), _has(summary, "latency_ms")
    head = ["model", "FLOPs", "ratio (target)", "activations (ratio)"] + \
        ["latency ms (ratio)"] * timed + ["params", "image"] + ["top-1 (%)"] * trained
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base_ms = summary.loc[summary["strategy"] == "baseline", "latency_ms"].iloc[0] \
        if timed else None
    for r in summary.to_dict("records"):
        cells = [_label(r, name), human(r["flops"], "FLOPs"),
                 f"{r['flops_ratio']:.2f}× ({r['target_ratio']:g}×)",
                 f"{human(r['activations'])} ({r['activations_ratio']:.2f}×)"]
        if timed:
            cells.append(f"{r['latency_ms']:.1f} ({r['latency_ms'] / base_ms:.2f}×)")
        cells += [human(r["params"]), f"{r['image_size']} px"]
        if trained:
            cells.append(f"{mean_spread(r['top1_mean'], r['top1_std'])} (n={r['seeds']})"
                         if pd.notna(r["top1_mean"]) else Status.FAILED)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
