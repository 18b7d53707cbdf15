"""What a search leaves behind: the ranking (mean ± std over seeds), ``best.json`` for
``scale --coefficients``, the B1–B7-style family of the winner next to the paper's (Table 2),
and ``search.png`` / ``family.png``."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from scalesearch.api import scale
from scalesearch.io import write_frame, write_json
from scalesearch.plotting import pyplot, save_figure
from scalesearch.scalable import Scalable
from scalesearch.scaler import PAPER_COEFFICIENTS

KEY = ["alpha", "beta", "gamma"]
FAMILY_PHIS = tuple(range(1, 8))  # B1–B7 (the official presets were hand-rounded, Table 2)


def ranking(rows: list[dict]) -> pd.DataFrame:
    """One line per trained candidate: top-1 mean/std over seeds, sorted best first."""
    df = pd.DataFrame(rows)
    df = df[df["status"] != "rejected"] if len(df) else df
    if df.empty:
        return pd.DataFrame(columns=[*KEY, "top1_mean", "top1_std", "seeds", "failed"])
    ok = df["status"] == "ok"
    g = df.assign(ok_top1=df["top1"].where(ok)).groupby(KEY, sort=False)
    out = g.agg(product=("product", "first"), flops_ratio=("flops_ratio", "first"),
                image_size=("image_size", "max"), params=("params", "first"),
                top1_mean=("ok_top1", "mean"), top1_std=("ok_top1", "std"),
                seeds=("ok_top1", "count"), failed=("status", lambda s: int((s != "ok").sum())),
                seconds=("seconds", "sum")).reset_index()
    out["top1_std"] = out["top1_std"].fillna(0.0)
    return out.sort_values(["top1_mean", *KEY], ascending=[False, True, True, True],
                           na_position="last").reset_index(drop=True)


def best_record(rank: pd.DataFrame, meta: dict) -> dict | None:
    """The winner as ``scale --coefficients`` reads it (alpha, beta, gamma) + metadata."""
    ok = rank.dropna(subset=["top1_mean"])
    if ok.empty:
        return None
    top = ok.iloc[0]
    return dict(alpha=float(top["alpha"]), beta=float(top["beta"]), gamma=float(top["gamma"]),
                product=float(top["product"]), flops_ratio=float(top["flops_ratio"]),
                top1_mean=float(top["top1_mean"]), top1_std=float(top["top1_std"]),
                seeds=int(top["seeds"]), **meta)


def family(baseline: Scalable, coefficients: tuple[float, float, float],
           phis=FAMILY_PHIS) -> list[dict]:
    """Scale the baseline to φ = 1…7 with the found and with the paper's coefficients."""
    rows = []
    for source, coef in (("found", coefficients), ("paper", PAPER_COEFFICIENTS)):
        for phi in phis:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the product check was made by the search
                net = scale(baseline, phi=phi, alpha=coef[0], beta=coef[1], gamma=coef[2],
                            force=True)
            rows.append(dict(source=source, phi=phi, alpha=coef[0], beta=coef[1],
                             gamma=coef[2], depth=round(net.mult.depth, 4),
                             width=round(net.mult.width, 4), image_size=net.image_size,
                             params=net.counts.params, flops=net.counts.flops,
                             flops_ratio=round(net.flops_ratio, 3)))
    return rows


def plot_search(rank: pd.DataFrame, path: Path, title: str) -> None:
    """Top-1 of every candidate against α, β and γ (error bars: std over seeds), winner ★."""
    plt = pyplot()
    ok = rank.dropna(subset=["top1_mean"])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, key, label in zip(axes, KEY, ("α (depth)", "β (width)", "γ (resolution)"),
                              strict=True):
        ax.errorbar(ok[key], ok["top1_mean"], yerr=ok["top1_std"], fmt="o", ms=5, alpha=0.8,
                    capsize=2, label="candidate (mean ± std over seeds)")
        if len(ok):
            ax.plot(ok[key].iloc[0], ok["top1_mean"].iloc[0], "r*", ms=16, label="winner")
        ax.axvline(dict(zip(KEY, PAPER_COEFFICIENTS, strict=True))[key], color="grey", ls="--",
                   lw=1, label="paper (1.2, 1.1, 1.15)")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("proxy val top-1 (%)")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def plot_family(rows: list[dict], baseline: Scalable, path: Path) -> None:
    """FLOPs and params of φ = 1…7 (found vs paper coefficients), official presets as markers."""
    plt = pyplot()
    df = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for source, style in (("found", "o-"), ("paper", "s--")):
        part = df[df["source"] == source]
        label = (f"{source}: α={part['alpha'].iloc[0]:g}, β={part['beta'].iloc[0]:g}, "
                 f"γ={part['gamma'].iloc[0]:g}")
        axes[0].plot(part["phi"], part["flops"] / 1e9, style, label=label)
        axes[1].plot(part["phi"], part["params"] / 1e6, style, label=label)
    presets = [k for k in baseline.presets if k[1:].isdigit() and 1 <= int(k[1:]) <= 7]
    if presets:
        nets = [scale(baseline, preset=k) for k in presets]
        phis = [int(k[1:]) for k in presets]
        label = "official B1–B7 (hand-rounded, drawn at x = 1…7)"
        axes[0].plot(phis, [n.counts.flops / 1e9 for n in nets], "k^", label=label)
        axes[1].plot(phis, [n.counts.params / 1e6 for n in nets], "k^", label=label)
    for ax, unit in zip(axes, ("FLOPs (B multiply-adds)", "params (M)"), strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("compound coefficient φ")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(f"{baseline.name} scaled with the found vs the paper's coefficients", fontsize=10)
    save_figure(fig, path)


def write_outputs(out: Path, rows: list[dict], baseline: Scalable, meta: dict) -> dict:
    """best.json, family.csv, search.png, family.png; returns the summary printed/JSON'd."""
    rank = ranking(rows)
    best = best_record(rank, meta)
    summary = dict(best=best, ranking=rank.to_dict("records"), family=None)
    plot_search(rank, out / "search.png", f"φ=1 search on {baseline.name} "
                f"({meta.get('data')}, proxy {meta.get('proxy_size')} px)")
    if best:
        write_json(out / "best.json", best)
        fam = family(baseline, (best["alpha"], best["beta"], best["gamma"]))
        write_frame(out / "family.csv", pd.DataFrame(fam))
        plot_family(fam, baseline, out / "family.png")
        summary["family"] = fam
    return summary


def replot(out: Path) -> list[Path]:
    """search.png (and family.png) again from trials.csv, family.csv and best.json."""
    import json

    from scalesearch.registry import resolve
    from scalesearch.search.trials import TrialStore

    rank = ranking(TrialStore(out / "trials.csv").rows)
    best = json.loads((out / "best.json").read_text()) if (out / "best.json").exists() else {}
    plot_search(rank, out / "search.png", f"φ=1 search on {best.get('baseline', out.name)}")
    written = [out / "search.png"]
    if best and (out / "family.csv").exists():
        rows = pd.read_csv(out / "family.csv").to_dict("records")
        plot_family(rows, resolve(best["baseline"]), out / "family.png")
        written.append(out / "family.png")
    return written
