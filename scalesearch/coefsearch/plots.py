"""Search figures: ``search.png`` (every candidate's mean ± 95% CI, the tied set highlighted,
the winner starred) and ``family.png`` (φ = 1…7 with the found vs the paper's coefficients)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalesearch.coefsearch.answer import tied_rule
from scalesearch.util.plotting import pyplot, save_figure
from scalesearch.util.status import Status


def plot_search(rank: pd.DataFrame, best: Mapping[str, Any] | None, path: Path,
                title: str) -> None:
    """Forest plot: one row per candidate (best first), mean score with its 95% t-interval
    (± std when one seed), tied set in red, candidates a rung stopped (ASHA or sha) grey at
    that rung's score."""
    plt = pyplot()
    ok = rank.dropna(subset=["top1_mean"]).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.28 * max(1, len(ok))))
    y = np.arange(len(ok))
    lo = np.where(ok["ci_lo"].notna(), ok["top1_mean"] - ok["ci_lo"], ok["top1_std"])
    hi = np.where(ok["ci_hi"].notna(), ok["ci_hi"] - ok["top1_mean"], ok["top1_std"])
    colors = ["tab:red" if t else ("0.6" if s == Status.STOPPED else "tab:blue")
              for t, s in zip(ok["tied"], ok["status"], strict=True)]
    for i, color in enumerate(colors):
        ax.errorbar(ok["top1_mean"].iloc[i], y[i], xerr=[[lo[i]], [hi[i]]], fmt="none",
                    ecolor=color, capsize=2)
    ax.scatter(ok["top1_mean"], y, c=colors, s=18, zorder=3)
    if best:
        hit = (ok["alpha"] == best["alpha"]) & (ok["beta"] == best["beta"]) & \
            (ok["gamma"] == best["gamma"])
        ax.scatter(ok.loc[hit, "top1_mean"], y[hit.values], marker="*", s=220, c="gold",
                   edgecolors="k", zorder=4, label=f"chosen ({best.get('tie_break')})")
    labels = [f"α={a:g} β={b:g} γ={g:g}" + ("" if s == Status.OK else f" [{s}, {e} ep]")
              for a, b, g, s, e in zip(ok["alpha"], ok["beta"], ok["gamma"], ok["status"],
                                       ok["epochs"].fillna(0).astype(int), strict=True)]
    ax.set_yticks(y, labels, fontsize=7)
    ranked = (best or {}).get("ranked") or "top-1"  # --metric ("-NAME" under --mode min)
    ax.set_xlabel(f"proxy {'val top-1 (%)' if ranked == 'top-1' else ranked}: mean and 95% "
                  "t-interval over seeds")
    ax.scatter([], [], c="tab:red", s=18, label=f"tied set ({tied_rule()})")  # rank's, now
    if (ok["status"] == Status.STOPPED).any():
        ax.scatter([], [], c="0.6", s=18, label="stopped by a rung (score at its last rung)")
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3, axis="x")
    ax.set_title(title, fontsize=10)
    save_figure(fig, path)


def plot_family(rows: Sequence[Mapping[str, Any]], name: str, path: Path,
                presets: Sequence[Mapping[str, int]] = ()) -> None:
    """FLOPs and params of ``name``'s family φ = 1…N (found vs paper coefficients), and the
    baseline's official presets ({phi, flops, params}: B1–B7) as markers."""
    plt = pyplot()
    df = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for source, style in (("found", "o-"), ("paper", "s--")):
        part = df[df["source"] == source]
        if part.empty:
            continue
        label = (f"{source}: α={part['alpha'].iloc[0]:g}, β={part['beta'].iloc[0]:g}, "
                 f"γ={part['gamma'].iloc[0]:g}")
        axes[0].plot(part["phi"], part["flops"] / 1e9, style, label=label)
        axes[1].plot(part["phi"], part["params"] / 1e6, style, label=label)
    if presets:
        phis = [p["phi"] for p in presets]
        label = "official B1–B7 (hand-rounded, drawn at x = 1…7)"
        axes[0].plot(phis, [p["flops"] / 1e9 for p in presets], "k^", label=label)
        axes[1].plot(phis, [p["params"] / 1e6 for p in presets], "k^", label=label)
    for ax, unit in zip(axes, ("FLOPs (B multiply-adds)", "params (M)"), strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("compound coefficient φ")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(f"{name} scaled with the found vs the paper's coefficients", fontsize=10)
    save_figure(fig, path)


def plot_fidelity(result: dict, path: Path) -> None:
    """Proxy score against reference score per candidate (error bars: std over seeds)."""
    plt = pyplot()
    df = pd.DataFrame(result["candidates"])
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    ax.errorbar(df["proxy_mean"], df["reference_mean"], xerr=df["proxy_std"],
                yerr=df["reference_std"], fmt="o", capsize=3, alpha=0.85)
    for r in df.to_dict("records"):
        ax.annotate(f"{r['alpha']:g}/{r['beta']:g}/{r['gamma']:g}",
                    (r["proxy_mean"], r["reference_mean"]), fontsize=7, xytext=(4, 3),
                    textcoords="offset points")
    a, b, g = result["search_winner"]
    win = df[(df["alpha"] == a) & (df["beta"] == b) & (df["gamma"] == g)]
    ax.scatter(win["proxy_mean"], win["reference_mean"], marker="*", s=220, c="gold",
               edgecolors="k", zorder=4, label="search's winner")
    ax.set_xlabel("search proxy val top-1 (%), mean ± std")
    ax.set_ylabel("reference val top-1 (%), mean ± std")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"proxy vs reference: Kendall τ = {result['kendall_tau']:.2f}, "
                 f"Spearman ρ = {result['spearman_rho']:.2f}", fontsize=9)
    save_figure(fig, path)


def plot_search_pareto(rank: pd.DataFrame, out: Path, name: str) -> list[Path]:
    """Proxy top-1 against activations (and latency, when measured): every candidate that
    trained to the end, the tied set apart, the Pareto front marked (pareto_*.png)."""
    from scalesearch.util.pareto import plot_pareto

    done = rank[(rank["status"] == Status.OK) & rank["top1_mean"].notna()]
    if done.empty or done["activations_ratio"].isna().any():
        return []
    df = done.assign(group=np.where(done["tied"], "tied set", "other candidates"))
    styles = {"tied set": ("tab:red", "o"), "other candidates": ("tab:blue", "o")}
    written = [plot_pareto(df, "activations_ratio", "top1_mean", out / "pareto_activations.png",
                           label_col="group", yerr_col="top1_std", styles=styles,
                           xlabel="activations ratio of the φ=1 network (× baseline)",
                           ylabel="proxy val top-1 (%)", title=f"{name}: accuracy vs activations")]
    if done["latency_ms"].notna().all():
        written.append(plot_pareto(df, "latency_ms", "top1_mean", out / "pareto_latency.png",
                                   label_col="group", yerr_col="top1_std", styles=styles,
                                   xlabel="latency of the φ=1 network (ms)",
                                   ylabel="proxy val top-1 (%)",
                                   title=f"{name}: accuracy vs latency"))
    return written

