"""Comparison figures, regenerated from the CSVs alone (``scalesearch plot DIR``):
top-1 vs FLOPs per strategy (Figure 8), top-1 vs the single multiplier (Figure 3), top-1 vs
latency and vs activations with the Pareto front, and our FLOPs next to the paper's
(Table 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from scalesearch.scaling.paper import TABLE3
from scalesearch.settings.compare import STRATEGIES
from scalesearch.training.runfiles import read_csv
from scalesearch.util.pareto import plot_pareto
from scalesearch.util.plotting import pyplot, save_figure

STYLE = {"baseline": ("k", "o"), "depth": ("tab:blue", "s"), "width": ("tab:orange", "^"),
         "resolution": ("tab:green", "D"), "compound": ("tab:red", "*"),
         "fast": ("tab:purple", "P"), "nonuniform": ("tab:brown", "X")}


def _flops_unit(values) -> tuple[float, str]:
    return (1e9, "B") if max(values) >= 1e9 else (1e6, "M")


def plot_flops_top1(summary: pd.DataFrame, name: str, path: Path) -> Path:
    """Figure 8 style: proxy top-1 (mean ± std) vs FLOPs, one line per strategy from the
    baseline through every target ratio; the paper's ImageNet points on a twin axis."""
    plt = pyplot()
    div, unit = _flops_unit(summary["flops"])
    base = summary[summary["strategy"] == "baseline"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for strategy in STRATEGIES:
        part = pd.concat([base, summary[summary["strategy"] == strategy]])
        if len(part) <= len(base):
            continue
        color, marker = STYLE[strategy]
        ax.errorbar(part["flops"] / div, part["top1_mean"], yerr=part["top1_std"], color=color,
                    marker=marker, capsize=3, label=f"scale by {strategy}")
    ax.set_xlabel(f"FLOPs ({unit} multiply-adds)")
    ax.set_ylabel("proxy val top-1 (%), mean ± std over seeds")
    ax.grid(alpha=0.3)
    paper = TABLE3.get(name)
    if paper:
        twin = ax.twinx()
        for row in paper:
            color, marker = STYLE[row.strategy]
            twin.plot(row.flops / div, row.top1, marker=marker, mfc="none", color=color, ms=9,
                      ls="none")
        twin.set_ylabel("paper ImageNet top-1 (%), hollow markers")
        ax.plot([], [], "ko", mfc="none", label="paper (ImageNet, right axis)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"{name}: scaling strategies at matched FLOPs", fontsize=10)
    return save_figure(fig, path)


def plot_multiplier_top1(summary: pd.DataFrame, name: str, path: Path) -> Path:
    """Figure 3 style: top-1 vs the one multiplier each single-dimension strategy grows."""
    plt = pyplot()
    base = summary[summary["strategy"] == "baseline"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, strategy in zip(axes, ("width", "depth", "resolution"), strict=True):
        part = pd.concat([base, summary[summary["strategy"] == strategy]])
        color, marker = STYLE[strategy]
        ax.errorbar(part[strategy], part["top1_mean"], yerr=part["top1_std"], color=color,
                    marker=marker, capsize=3)
        for _, r in part.iterrows():
            ax.annotate(f"{r['flops'] / 1e9:.2f}B", (r[strategy], r["top1_mean"]), fontsize=7,
                        xytext=(3, -10), textcoords="offset points")
        ax.set_xlabel({"width": "width multiplier w", "depth": "depth multiplier d",
                       "resolution": "resolution multiplier r (image / base size)"}[strategy])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("proxy val top-1 (%)")
    fig.suptitle(f"{name}: one dimension at a time (labels: FLOPs, B multiply-adds)",
                 fontsize=10)
    return save_figure(fig, path)


def _paper_points(name: str) -> pd.DataFrame | None:
    """The paper's Table 3 networks (its multipliers), activations counted by us, with the
    paper's ImageNet top-1; None where the paper has no rows for ``name``."""
    if name not in TABLE3:
        return None
    from scalesearch.comparison.strategies import paper_rows
    from scalesearch.scaling.registry import resolve

    return pd.DataFrame(paper_rows(resolve(name))).rename(columns={"paper_top1": "top1"})


def plot_pareto_dir(summary: pd.DataFrame, name: str, folder: Path) -> list[Path]:
    """Top-1 vs activations (always) and vs latency (when measured), Pareto front marked;
    the paper's networks on the activations plot (it reports no latency for them)."""
    df = summary.dropna(subset=["top1_mean"]).copy()
    df["activations_m"] = df["activations"] / 1e6
    paper = _paper_points(name)
    if paper is not None:
        paper["activations_m"] = paper["activations"] / 1e6
    common: dict[str, Any] = dict(label_col="strategy", yerr_col="top1_std", styles=STYLE,
                                  ylabel="proxy val top-1 (%), mean ± std over seeds")
    written = [plot_pareto(df, "activations_m", "top1_mean", folder / "pareto_activations.png",
                           paper=paper, xlabel="activations (M, conv/linear outputs)",
                           title=f"{name}: accuracy vs activations", **common)]
    if "latency_ms" in df and df["latency_ms"].notna().all():
        written.append(plot_pareto(df, "latency_ms", "top1_mean", folder / "pareto_latency.png",
                                   xlabel="latency (ms, median; see compare.csv for settings)",
                                   title=f"{name}: accuracy vs latency", **common))
    return written


def plot_table3(rows: pd.DataFrame, path: Path) -> Path:
    """Our measured FLOPs beside the paper's, per network and strategy (Table 3)."""
    plt = pyplot()
    names = list(dict.fromkeys(rows["baseline"]))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        part = rows[rows["baseline"] == name].reset_index(drop=True)
        x = range(len(part))
        ax.bar([i - 0.2 for i in x], part["flops"] / 1e9, width=0.4, label="ours (counted)",
               color="tab:blue")
        ax.bar([i + 0.2 for i in x], part["paper_flops"] / 1e9, width=0.4, label="paper",
               color="tab:gray")
        ax.set_xticks(list(x), part["strategy"], rotation=30, fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    axes[0][0].set_ylabel("FLOPs (B multiply-adds)")
    fig.tight_layout()
    fig.suptitle("Table 3 multipliers: FLOPs counted by scalesearch vs printed in the paper",
                 fontsize=10, y=1.04)
    return save_figure(fig, path)


def plot_compare(folder: Path) -> list[Path]:
    """Regenerate the figures of compare.csv and table3.csv in ``folder``; returns the files
    written (a search's figures: :func:`scalesearch.coefsearch.results.replot`)."""
    from scalesearch.comparison.summary import summarize

    written = []
    if (folder / "compare.csv").exists():
        df = read_csv(folder / "compare.csv")  # checked: scalesearch.training.runfiles
        name = df["baseline"].iloc[0] if "baseline" in df else folder.name
        if "top1" in df and df["top1"].notna().any():
            summary = summarize(df)
            written.append(plot_flops_top1(summary, name, folder / "flops_top1.png"))
            written.append(plot_multiplier_top1(summary, name, folder / "multiplier_top1.png"))
            if "activations" in summary:  # CSVs written before activations were recorded lack it
                written.extend(plot_pareto_dir(summary, name, folder))
    if (folder / "table3.csv").exists():
        written.append(plot_table3(read_csv(folder / "table3.csv"), folder / "table3.png"))
    return written
