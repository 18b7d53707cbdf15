"""What ``report.html`` shows of a run folder, read from the folder's own files: one
:class:`Section` after another, the answer first. Rankings, tables and verdicts come from the
modules that wrote the files (:func:`search.report.ranking`, :func:`compare.summary.markdown`,
:func:`search.reliability.describe`); nothing here recomputes them.

Folder kinds (:func:`folder_kind`): a search (search.json), a fidelity check (fidelity.json),
a comparison (compare.json, or compare.csv or compare.md: a compare study's results folder, a
``--no-train`` count) and a Table 3 count (table3.csv or table3.md; a paper-table3 study's
results folder). Every file is checked against its schema as it is read
(:mod:`scalesearch.training.runfiles`): another tool's file of the same name is refused in one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from scalesearch.errors import ScalesearchError
from scalesearch.report.images import plots
from scalesearch.training.runfiles import markdown_rows, read_csv, read_json
from scalesearch.util.fmt import human, is_top1, mean_spread, percent, score_digits

KINDS = {"fidelity": ("fidelity.json",), "search": ("search.json",),
         "compare": ("compare.json", "compare.csv", "compare.md"),
         "table3": ("table3.csv", "table3.md")}
KEY = ["alpha", "beta", "gamma"]


@dataclass
class Section:
    """One heading of the page: sentences, label/value facts, tables (caption, HTML from
    pandas), images (caption, file) and links (text, relative href)."""

    id: str
    title: str
    notes: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, str]] = field(default_factory=list)
    images: list[tuple[str, Path]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)


def folder_kind(folder: Path) -> str | None:
    """The kind of run ``folder`` holds (a key of :data:`KINDS`), or None; its files are
    checked when its sections read them."""
    return next((k for k, files in KINDS.items()
                 if any((folder / f).exists() for f in files)), None)


def _json(path: Path) -> dict:
    """A run file, checked; {} when absent (a FIFO or a folder of its name is refused)."""
    return read_json(path) if path.exists() or path.is_symlink() else {}


def html_table(frame: pd.DataFrame, name: str) -> str:
    """``frame`` as an HTML table (pandas escapes the cells), class ``name``."""
    return frame.to_html(index=False, na_rep="", classes=name, border=0, table_id=name)


def _g(v) -> str:
    return "" if v is None or v != v else f"{v:g}"


def _abc(r: dict) -> str:
    return f"({_g(r['alpha'])}, {_g(r['beta'])}, {_g(r['gamma'])})"


def _ranked(best: dict) -> str:
    """What the ranking read, as best.json records it: "val top-1", or the --metric of a
    training function of your own ("-NAME" under --mode min)."""
    return "val top-1" if is_top1(best.get("ranked")) else best["ranked"]


def _column(best: dict) -> str:
    """The ranked value's column header: "top-1 %", or the --metric's name."""
    ranked = _ranked(best)
    return "top-1 %" if ranked == "val top-1" else ranked


def _frame(rows: list[dict], columns: dict[str, object]) -> pd.DataFrame:
    """One column per label of ``columns``: a row key, or a function of the row."""
    return pd.DataFrame([{label: (get(r) if callable(get) else r.get(get))
                          for label, get in columns.items()} for r in rows],
                        columns=list(columns))


def settings_section(config: dict, source: str) -> Section:
    """The settings as run: ``config`` flattened to dotted names."""
    def flat(d: dict, prefix: str = "") -> list[tuple[str, str]]:
        out = []
        for k, v in d.items():
            out += flat(v, f"{prefix}{k}.") if isinstance(v, dict) else \
                [(f"{prefix}{k}", json.dumps(v) if isinstance(v, list) else str(v))]
        return out

    frame = pd.DataFrame(flat(config), columns=["setting", "value"])
    group = frame["setting"].str.rpartition(".")[0]
    return Section("settings", "Settings as run", notes=[f"From {source}."], tables=[
        (name or "the run", html_table(g.assign(setting=g["setting"].str.rpartition(".")[2]),
                                       "settings")) for name, g in frame.groupby(group)])


# --- search --------------------------------------------------------------------------------

def _ranking(folder: Path, rows: list[dict], best: dict, marker: dict) -> pd.DataFrame:
    from scalesearch.coefsearch.costs import load_latencies
    from scalesearch.coefsearch.results import ranking, stored_objective
    from scalesearch.settings.search import SearchConfig

    try:
        rungs = SearchConfig.from_dict(marker["config"]).milestones()
    except (KeyError, TypeError, ValueError):
        rungs = None
    return ranking(rows, stored_objective(best, folder / "best.json"), load_latencies(folder),
                   rungs, (best.get("reliability") or {}).get("final", {}).get("chance"))


def _answer(best: dict, rank: pd.DataFrame) -> Section:
    from scalesearch.coefsearch.answer import headline, pick_rule, surface_line, tied_rule
    from scalesearch.coefsearch.reliability import describe

    s = Section("answer", "The answer")
    if not best:
        s.notes.append("No candidate trained successfully: there is no answer (best.json is "
                       "absent).")
        return s
    tied, open_ = best.get("tied", []), best.get("not_ruled_out", [])
    s.notes.append(headline(best) + ".")
    ranked, digits = _ranked(best), score_digits(best.get("ranked"))
    s.notes.append(f"α, β, γ = {_g(best['alpha'])}, {_g(best['beta'])}, {_g(best['gamma'])}: "
                   f"{ranked} {mean_spread(best['top1_mean'], best['top1_std'], digits)}"
                   f"{'%' if ranked == 'val top-1' else ''} over "
                   f"{best['seeds']} seed(s), p_best "
                   f"{percent(best.get('p_best')) or 'unmeasured'}.")
    if len(tied) > 1:
        s.notes.append(f"{len(tied)} candidates are statistically tied ({tied_rule(best)}); the "
                       f"{pick_rule(best)} rule chose this one.")
    if surface_line(best):
        s.notes.append(f"{surface_line(best)}.")
    s.notes.append("Separated: yes — one candidate is best, nothing stopped early could still "
                   "be." if best.get("separated") else "Separated: no — take the tied set, "
                   "not the chosen point, as the answer.")
    lo, hi = best.get("top1_ci95") or (None, None)
    chance = best.get("chance")
    s.facts += [("95% t-interval", f"[{lo:.{digits}f}, {hi:.{digits}f}]" if lo is not None
                 else ""),
                ("chance (a guess's top-1)", f"{chance:.1f}%" if chance is not None else "—"),
                ("α·β²·γ²", _f(best.get("product"), ".3f")),
                ("FLOPs ratio as trained", _f(best.get("flops_ratio"), ".3f") + "×"),
                ("γ trained", _g(best.get("gamma_trained"))),
                ("complete", "yes" if best.get("complete") else "no (continue with --resume)")]
    evidence = best.get("reliability") or rank.attrs.get("reliability", {})
    if evidence.get("final"):
        where = "best.json" if best.get("reliability") else "trials.csv (best.json predates it)"
        s.facts.append(("reliability", f"{describe(evidence['final'])} — from {where}"))
        s.facts += [(f"reliability at rung {r['rung']} (epoch {r['epoch']})", describe(r))
                    for r in evidence.get("rungs", [])]
    s.tables.append((f"Tied set ({tied_rule(best)}: the probability of being the best under the "
                     "seeds' noise; docs/search.md)", html_table(_frame(tied, {
                         "α": "alpha", "β": "beta", "γ": "gamma",
                         _column(best): lambda r: mean_spread(r["top1_mean"], r["top1_std"],
                                                              digits),
                         "p_best": lambda r: percent(r["p_best"]), "seeds": "seeds"}), "tied")))
    if best.get("stopped"):
        s.tables.append(("Stopped by the scheduler", html_table(_frame(best["stopped"], dict(
            rung="rung", epoch="epoch", stopped="stopped", cut=lambda r: _g(r["cut"]),
            missed_the_cut_by=lambda r: f"{r['missed_min']:.1f}–{r['missed_max']:.1f} points",
            not_ruled_out="not_ruled_out")), "stopped")))
    if open_:
        s.tables.append(("Not ruled out: stopped early, but within its seeds' noise of the best "
                         "at its rung", html_table(_frame(open_, dict(
                             α="alpha", β="beta", γ="gamma", rung="rung",
                             rung_p_best=lambda r: percent(r["rung_p_best"]),
                             missed_by=lambda r: f"{r['missed_by']:.1f}")), "not-ruled-out")))
    return s


def _ranking_section(rank: pd.DataFrame, best: dict) -> Section:
    from scalesearch.coefsearch.evidence import not_ruled_out

    chosen = tuple(best[k] for k in KEY) if best else None
    digits = score_digits((best or {}).get("ranked"))

    def mark(r):
        if tuple(r[k] for k in KEY) == chosen:
            return "chosen"
        return "tied" if r["tied"] else ("not ruled out" if not_ruled_out(r["ruled_out"]) else "")

    frame = _frame(rank.to_dict("records"), {
        "α": "alpha", "β": "beta", "γ": "gamma", "": mark, "status": "status",
        "epochs": "epochs", _column(best or {}): lambda r: mean_spread(r["top1_mean"],
                                                                     r["top1_std"], digits)
        if r["top1_mean"] == r["top1_mean"] else "",
        "95% interval": lambda r: f"[{r['ci_lo']:.{digits}f}, {r['ci_hi']:.{digits}f}]"
        if r["ci_lo"] == r["ci_lo"] else "",
        **({"own score": lambda r: "" if r["own_mean"] != r["own_mean"] else f"{r['own_mean']:.1f}"}
           if "own_mean" in rank and rank["own_mean"].notna().any() else {}),
        "p_best": lambda r: percent(r["p_best"]), "seeds": "seeds",
        "FLOPs ×": lambda r: f"{r['flops_ratio']:.3f}", "px": "image_size",
        "params": lambda r: human(r["params"]), "seconds": lambda r: f"{r['seconds']:.0f}"})
    notes = ["Computed from trials.csv by scalesearch's ranking: finished candidates first "
             "by mean score, then those a scheduler stopped, by the rung they reached; p_best "
             "and the tied set over the finished ones; the interval from the noise pooled over "
             "the candidates that trained as long."]
    again = {tuple(r) for r in rank.loc[rank["tied"], KEY].values}
    if best and best.get("tied") and again != {tuple(t[k] for k in KEY) for t in best["tied"]}:
        notes.append("This ranking's tied set differs from the answer's (best.json): the "
                     "folder was written by an earlier scalesearch, whose statistics differed.")
    return Section("ranking", "Ranking", notes=notes, tables=[("", html_table(frame, "ranking"))])


def _f(v, spec: str) -> str:
    """A number formatted by ``spec``, or "—" when it is not recorded (None)."""
    return "—" if v is None else format(v, spec)


def _family(folder: Path) -> Section | None:
    if not (folder / "family.csv").exists():
        return None
    fam = read_csv(folder / "family.csv")
    short = {"depth": "d", "width": "w", "image_size": "px", "params": "params",
             "flops": "FLOPs", "flops_ratio": "× FLOPs"}
    wide = fam.assign(params=fam["params"].map(human), flops=fam["flops"].map(
        lambda v: human(v, "FLOPs")), depth=fam["depth"].round(3), width=fam["width"].round(3)
    ).rename(columns=short).pivot(index="phi", columns="source", values=list(short.values()))
    wide = wide.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)
    wide = wide.rename_axis(index="φ", columns=[None, None])
    coef = fam.groupby("source")[KEY].first()
    notes = [f"{src}: α, β, γ = {_abc(r)}" for src, r in coef.iterrows()]
    html = wide.to_html(na_rep="", classes="family", border=0, table_id="family")
    return Section("family", "The family, found beside the paper's (φ = 1…7)", notes=notes,
                   tables=[("", html)], images=plots(folder, ["family.png"], ()))


def _timings(trials: list[dict], marker: dict) -> Section:
    from scalesearch.coefsearch.trials import COLUMNS

    rows = pd.DataFrame(trials, columns=list(COLUMNS))
    per = rows.assign(rung=rows["rung"].fillna(0)).groupby("rung").agg(
        trainings=("seed", "size"), epochs=("epochs", "max"), images=("images", "sum"),
        seconds=("seconds", "sum")).reset_index().astype({"seconds": int})
    s = Section("timings", "Timings", notes=[
        f"Training time summed over trials.csv: {rows['seconds'].sum():,.0f} s in "
        f"{len(rows)} trainings, by the rung each training reached. Ray's start-up and the "
        "search's wall-clock time are not recorded in the folder."],
        tables=[("", html_table(per.rename(columns={"rung": "rung reached"}), "timings"))])
    s.facts += [(k, str(v)) for k, v in (marker.get("timings") or {}).items()]
    return s


def search_sections(folder: Path) -> list[Section]:
    """A search's page: the answer, ranking, plots, family, timings and settings."""
    marker, best = _json(folder / "search.json"), _json(folder / "best.json")
    settings = [settings_section(marker["config"], "search.json")] if marker.get("config") else []
    if not (folder / "trials.csv").exists():  # started, but no training recorded yet
        absent = "No training is recorded yet (trials.csv is absent): there is no answer."
        return [Section("answer", "The answer", notes=[absent])] + settings
    from scalesearch.coefsearch.trials import TrialStore

    rows = TrialStore(folder / "trials.csv").rows
    rank = _ranking(folder, rows, best, marker)
    sections = [_answer(best, rank), _ranking_section(rank, best),
                Section("plots", "Plots", images=plots(folder, ["search.png"], ("pareto_*.png",))),
                _family(folder), _timings(rows, marker), _tools(folder)]
    return [s for s in sections if s is not None] + settings


def _tools(folder: Path) -> Section | None:
    """How to open the run's Optuna study and tracker logs, where the folder holds them."""
    notes = [text for name, text in (
        ("optuna.db", "The Optuna study, one trial per candidate: optuna-dashboard "
         "sqlite:///optuna.db (pip install 'scalesearch[dashboard]')"),
        ("tensorboard", "TensorBoard event files, one run per candidate: tensorboard "
         "--logdir tensorboard"),
        ("mlruns", "MLflow runs, one per candidate: mlflow ui --backend-store-uri "
         "sqlite:///mlruns/mlflow.db (the full mlflow package)")) if (folder / name).exists()]
    return Section("tools", "Open it in other tools (from this folder)",
                   notes=notes) if notes else None


# --- fidelity, compare, Table 3 -------------------------------------------------------------

def fidelity_sections(folder: Path) -> list[Section]:
    """A fidelity check's page: the verdict, the two rankings, the plot and the settings."""
    r, marker = _json(folder / "result.json"), _json(folder / "fidelity.json")
    s = Section("answer", "Does the proxy's ranking hold?")
    if r:
        lo, hi = r.get("kendall_tau_ci95") or (None, None)
        interval = f", 95% bootstrap interval [{lo:.2f}, {hi:.2f}]" if lo is not None else ""
        verdict = f": {r['tau_verdict']}" if r.get("tau_verdict") else ""
        s.notes.append(f"Kendall τ = {_f(r['kendall_tau'], '.2f')}{interval}{verdict} "
                       f"(Spearman ρ = {_f(r['spearman_rho'], '.2f')}).")
        s.facts += [("same winner", "yes" if r["same_winner"] else "no"),
                    ("search's winner", str(tuple(r["search_winner"]))),
                    ("reference's winner", str(tuple(r.get("reference_winner") or ()))),
                    ("search's winner in the reference's tied set",
                     "yes" if r["winner_in_tied"] else "no"),
                    ("reference", f"{r['reference_epochs']:g} epochs at "
                     f"{r['reference_proxy_size']} px"
                     + (f", {r['reference_num_train']} training images"
                        if r.get("reference_num_train") else "") + f", {r['seeds']} seed(s)")]
        s.tables.append(("Candidates: the search's ranking against the reference's",
                         html_table(pd.DataFrame(r["candidates"]).round(2), "fidelity")))
    sections = [s, Section("plots", "Plots", images=plots(folder, ["fidelity.png"]))]
    if marker.get("config"):
        sections.append(settings_section(marker["config"], "fidelity.json"))
    return sections


def markdown_frame(path: Path, text: str | None = None) -> pd.DataFrame:
    """The first Markdown pipe table in ``path`` (or ``text``, its content) as a frame of
    strings; a ragged table is refused (:func:`scalesearch.training.runfiles.markdown_rows`)."""
    cells = markdown_rows(path, text)
    return pd.DataFrame(cells[1:], columns=cells[0]) if cells else pd.DataFrame()


def _flops_check(rows: pd.DataFrame) -> Section:
    nets = rows.drop_duplicates(["strategy", "target_ratio"])
    frame = pd.DataFrame({"strategy": nets["strategy"], "target ×": nets["target_ratio"],
                          "measured ×": nets["flops_ratio"].round(3),
                          "off target": ((nets["flops_ratio"] / nets["target_ratio"] - 1)
                                         .map(lambda v: f"{100 * v:+.1f}%")),
                          "FLOPs": nets["flops"].map(lambda v: human(v, "FLOPs"))})
    return Section("flops", "FLOPs check: each network's measured FLOPs against its target",
                   tables=[("", html_table(frame, "flops-check"))])


def compare_sections(folder: Path) -> list[Section]:
    """A comparison's page: Table 3, the FLOPs check, the plots and the settings."""
    from scalesearch.comparison.summary import markdown, summarize

    rows = read_csv(folder / "compare.csv") if (folder / "compare.csv").exists() else None
    if (folder / "compare.md").exists():
        frame = markdown_frame(folder / "compare.md")
    elif rows is not None and len(rows):
        frame = markdown_frame(folder / "compare.md", markdown(
            summarize(rows), str(rows["baseline"].iloc[0])))
    else:
        raise ScalesearchError(f"{folder} holds a comparison with no rows (no compare.csv "
                               "rows, no compare.md)")
    sections = [Section("answer", "Table 3: the strategies at matched FLOPs", tables=[
        ("", html_table(frame, "table3"))])]
    if rows is not None and {"flops_ratio", "target_ratio"} <= set(rows):
        sections.append(_flops_check(rows))
    sections.append(Section("plots", "Plots", images=plots(folder, ["flops_top1.png"])))
    tools = _tools(folder)
    if tools:
        sections.append(tools)
    config = _json(folder / "compare.json").get("config") or _json(folder / "config.json")
    if config:
        sections.append(settings_section(config, "compare.json" if (
            folder / "compare.json").is_file() else "config.json"))
    return sections


def table3_sections(folder: Path) -> list[Section]:
    """A Table 3 count's page: the table (our FLOPs beside the paper's) and its plot."""
    md = folder / "table3.md"
    frame = markdown_frame(md) if md.exists() else read_csv(folder / "table3.csv")
    return [Section("answer", "Table 3: our counts beside the paper's", tables=[
        ("", html_table(frame, "table3"))]),
            Section("plots", "Plots", images=plots(folder, ["table3.png"]))]


SECTIONS = {"search": search_sections, "fidelity": fidelity_sections,
            "compare": compare_sections, "table3": table3_sections}
