"""Accuracy against cost (latency, activations) with the Pareto front marked — the trade-off
MnasNet's reward and Dollár et al.'s Figure 1 are about. Shared by compare and search."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from scalesearch.util.plotting import pyplot, save_figure


def pareto_front(points: Iterable[Mapping] | pd.DataFrame, x: str, y: str) -> list[int]:
    """Indices (positions in ``points``) of the non-dominated points, minimising ``x`` and
    maximising ``y``, ordered by ``x``. A point is dominated when another is no worse in both
    and better in one; points missing x or y are left out; exact duplicates all stay."""
    rows = points.to_dict("records") if isinstance(points, pd.DataFrame) else list(points)
    valid = [(r[x], r[y], i) for i, r in enumerate(rows)
             if r.get(x) is not None and r.get(y) is not None
             and not (math.isnan(r[x]) or math.isnan(r[y]))]
    front, best = [], -math.inf
    for _, group in _by_x(sorted(valid, key=lambda t: (t[0], -t[1]))):
        top = group[0][1]  # the best y at this x (sorted descending within an x)
        if top > best:
            front += [i for _, yy, i in group if yy == top]
            best = top
    return front


def _by_x(items: list[tuple]) -> Iterable[tuple[float, list[tuple]]]:
    group: list[tuple] = []
    for item in items:
        if group and item[0] != group[0][0]:
            yield group[0][0], group
            group = []
        group.append(item)
    if group:
        yield group[0][0], group


def plot_pareto(df: pd.DataFrame, x_col: str, y_col: str, path: Path, *,
                label_col: str = "strategy", yerr_col: str | None = None,
                styles: Mapping[str, tuple[str, str]] | None = None,
                paper: pd.DataFrame | None = None, xlabel: str | None = None,
                ylabel: str | None = None, title: str = "") -> Path:
    """Scatter of ``y_col`` against ``x_col``, one colour per ``label_col`` value, the Pareto
    front (min x, max y) as a dashed step line with ringed points. ``paper`` (columns x_col and
    ``top1``) is drawn as hollow markers on a twin axis (ImageNet accuracy is not comparable
    with a proxy's)."""
    plt = pyplot()
    styles = styles or {}
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for label, part in df.groupby(label_col, sort=False):
        color, marker = styles.get(label, (None, "o"))
        ax.errorbar(part[x_col], part[y_col], yerr=part[yerr_col] if yerr_col else None,
                    color=color, marker=marker, ls="none", capsize=3, label=str(label))
    front = df.iloc[pareto_front(df, x_col, y_col)]
    if len(front):
        ax.step(front[x_col], front[y_col], where="post", color="k", ls="--", lw=1, alpha=0.6)
        ax.plot(front[x_col], front[y_col], "o", ms=14, mfc="none", mec="k", alpha=0.6,
                label="Pareto front (min x, max y)")
    if paper is not None and len(paper):
        twin = ax.twinx()
        for _, r in paper.iterrows():
            color, marker = styles.get(r.get(label_col), ("gray", "o"))
            twin.plot(r[x_col], r["top1"], marker=marker, mfc="none", color=color, ms=9,
                      ls="none")
        twin.set_ylabel("paper ImageNet top-1 (%), hollow markers")
        ax.plot([], [], "ko", mfc="none", label="paper's networks (ImageNet, right axis)")
    ax.set_xlabel(xlabel or x_col)
    ax.set_ylabel(ylabel or y_col)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=4)  # below
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)
