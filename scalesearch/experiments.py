"""The experiments as Python calls, with the options, defaults and files of the CLI
(:mod:`scalesearch.options` declares them once for both)::

    import scalesearch

    found = scalesearch.search("efficientnet-b0", out="runs/b0", scheduler="sha", seeds=3)
    found.coefficients, found.best["tied"], found.trials  # (α, β, γ), evidence, DataFrame
    check = scalesearch.fidelity("runs/b0", top=3, random=3)
    check.kendall_tau, check.candidates
    table3 = scalesearch.compare("mobilenet-v2", flops_ratio=[3], seeds=2, out="runs/cmp")
    table3.summary  # one row per network: FLOPs, activations, top-1 mean ± std

Keyword names are the CLI's flags with ``_`` for ``-`` (``num_train=600`` for
``--num-train 600``); an unknown one is refused with the list of known ones. A config built in
Python runs as it is: ``scalesearch.search(SearchConfig(...), out=…)``,
``scalesearch.compare(CompareConfig(...), out=…)``; the config dataclasses check every value,
whichever way they are built.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard, TypeVar

import pandas as pd

from scalesearch import options as opt
from scalesearch.errors import RunIncomplete, ScalesearchError, WriteError
from scalesearch.settings import CompareConfig, FidelityConfig, Placement, SearchConfig
from scalesearch.training.rundir import check_out
from scalesearch.util.logs import Log, stderr

C = TypeVar("C")  # a ready config: SearchConfig, CompareConfig

if TYPE_CHECKING:  # imported when run: they pull in Ray, Optuna, the trainer
    from scalesearch.coefsearch.results import Best
    from scalesearch.coefsearch.session import SearchSummary


def _existing(folder: Path, names: tuple[str, ...]) -> dict[str, Path]:
    return {n: folder / n for n in names if (folder / n).exists()}


@dataclass
class SearchResult:
    """A finished (or interrupted) φ=1 search: its summary and the files it wrote."""

    record: SearchSummary  # typed: what `scalesearch search` prints
    out: Path

    @property
    def summary(self) -> dict:
        """What ``scalesearch search --format json`` prints (the record as a dict)."""
        return self.record.to_dict()

    @property
    def best(self) -> Best | None:
        """best.json: the chosen (α, β, γ) with its evidence; None if nothing trained."""
        return self.record.best

    @property
    def coefficients(self) -> tuple[float, float, float] | None:
        """The chosen (α, β, γ); None if nothing trained."""
        b = self.best
        return (b["alpha"], b["beta"], b["gamma"]) if b else None

    @property
    def ranking(self) -> pd.DataFrame:
        """One row per trained candidate with its evidence, best first."""
        return pd.DataFrame(self.record.ranking)

    @property
    def reliability(self) -> dict:
        """How reproducible the ranking is: ``final`` (the finished candidates) and ``rungs``,
        each with τ and its interval, the ANOVA, ICC and the verdict (docs/search.md)."""
        return self.record.reliability

    @property
    def trials(self) -> pd.DataFrame:
        """trials.csv: one row per (candidate, seed)."""
        return pd.read_csv(self.out / "trials.csv")

    @property
    def study(self):
        """optuna.db as an ``optuna.Study``: one trial per candidate (issue 24 §2)."""
        from scalesearch.coefsearch.optuna_study import load

        return load(self.out)

    @property
    def complete(self) -> bool:
        """False when interrupted with candidates left (``resume=True`` continues it)."""
        return not self.record.remaining

    @property
    def paths(self) -> dict[str, Path]:
        """The files the search wrote, by name (those that exist)."""
        return _existing(self.out, ("trials.csv", "best.json", "search.json", "family.csv",
                                    "search.png", "family.png", "optuna.db", "report.html"))


@dataclass
class FidelityResult:
    """The proxy's ranking against a higher-fidelity retraining (RUN_DIR/fidelity/)."""

    result: dict  # what `scalesearch fidelity --format json` prints
    out: Path = field(init=False)

    def __post_init__(self) -> None:
        self.out = Path(self.result["out"])

    def __getattr__(self, name: str):  # kendall_tau, spearman_rho, same_winner, …
        try:
            return self.result[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def candidates(self) -> pd.DataFrame:
        """One row per retrained candidate: its proxy and reference top-1."""
        return pd.DataFrame(self.result["candidates"])

    @property
    def paths(self) -> dict[str, Path]:
        """The files the fidelity check wrote, by name (those that exist)."""
        return _existing(self.out, ("trials.csv", "fidelity.csv", "result.json",
                                    "fidelity.png", "report.html"))


def _report(out: Path) -> str:
    """The run folder's report.html, written now (issue 24), after a run that trained: a file
    the OS would not write (a full disk) is one line, exit 1 (:class:`RunIncomplete`), since
    the run's results are kept and ``scalesearch report`` writes the page later."""
    from scalesearch.report.page import write_report

    try:
        return str(write_report(out))
    except WriteError as err:
        raise RunIncomplete(f"{err}; the run's results are kept: make room, then "
                            f"scalesearch report {out}") from None


def run_search_options(args: argparse.Namespace, log: Log = stderr) -> SearchResult:
    """The search the options describe (the CLI's entry point)."""
    return _run_search(opt.search_config(args), args.out, args.resume, log)


def _run_search(cfg: SearchConfig, out: str | Path, resume: bool, log: Log) -> SearchResult:
    from scalesearch.coefsearch.session import run_search

    check_out(out, cfg.setup.data)
    summary = run_search(cfg, out, resume=resume, log=log)
    return SearchResult(replace(summary, report=_report(Path(out))), Path(out))


def _config_alone(config: object, kind: type[C], options: dict) -> TypeGuard[C]:
    """Whether the first argument is a ready config (then no options may come with it)."""
    if not isinstance(config, kind):
        return False
    if options:
        raise ScalesearchError(f"give a {kind.__name__} or options ({', '.join(sorted(options))})"
                               ", not both")
    return True


def search(baseline: str | SearchConfig = "efficientnet-b0", data: str = "synthetic", *,
           out: str | Path = "runs/search", resume: bool = False, log: Log = stderr,
           **options) -> SearchResult:
    """Run (or ``resume``) the φ=1 search of ``baseline`` on ``data`` into ``out``; options
    as ``scalesearch search --help`` lists them, by their flag's name (``scheduler="sha"``,
    ``num_train=600``, ``max_concurrent=2``). ``baseline`` may be a ready
    :class:`SearchConfig` instead (then without ``data`` or options)."""
    if _config_alone(baseline, SearchConfig, options | ({"data": data} if data != "synthetic"
                                                         else {})):
        return _run_search(baseline, out, resume, log)
    values = opt.api_options(options, "search", SearchConfig, baseline=str(baseline),
                             data=str(data))
    return _run_search(opt.search_config(values), out, resume, log)


def run_fidelity_options(run_dir: str | Path, args: argparse.Namespace | dict,
                         log: Log = stderr) -> FidelityResult:
    """The fidelity check the options describe (the CLI's entry point)."""
    from scalesearch.coefsearch.fidelity import run_fidelity

    placement = opt.placement_from_args(args)  # the device is checked before anything else
    result = run_fidelity(Path(run_dir), opt.fidelity_config(args),
                          resume=bool(opt.option(args, "resume")), placement=placement, log=log,
                          baseline=opt.option(args, "baseline"),
                          trust_baseline=bool(opt.option(args, "trust_baseline")),
                          train=opt.option(args, "train"))
    _report(Path(run_dir))  # the search's page, linking the check's own
    return FidelityResult(dict(result, report=str(Path(result["out"]) / "report.html")))


def fidelity(run_dir: str | Path, *, resume: bool = False, baseline: str | None = None,
             trust_baseline: bool = False, train: str | None = None, log: Log = stderr,
             **options) -> FidelityResult:
    """Retrain the best and random candidates of the search in ``run_dir`` at a higher
    fidelity and compare the rankings; options as ``scalesearch fidelity --help`` lists them.
    A search of a plug-in baseline is retrained only when ``baseline`` names it again, or
    with ``trust_baseline=True`` (its code is imported); so is one trained by a training
    function's file (``train``)."""
    values = opt.api_options(options, "fidelity", FidelityConfig, Placement, resume=resume,
                             baseline=baseline, trust_baseline=trust_baseline, train=train)
    return run_fidelity_options(run_dir, values, log)


@dataclass
class CompareResult:
    """Strategies at matched FLOPs: the per-network summary and the files written."""

    summary: pd.DataFrame  # one row per network (what `scalesearch compare --format json` prints)
    out: Path | None

    @property
    def trainings(self) -> pd.DataFrame | None:
        """compare.csv: one row per network × seed (None without training)."""
        path = self.out / "compare.csv" if self.out else None
        return pd.read_csv(path) if path and path.exists() else None

    @property
    def paths(self) -> dict[str, Path]:
        """The files the comparison wrote, by name ({} without an output folder)."""
        if not self.out:
            return {}
        return _existing(self.out, ("compare.csv", "compare.md", "compare.json",
                                    "flops_top1.png", "multiplier_top1.png",
                                    "pareto_latency.png", "pareto_activations.png", "report.html"))


def run_compare_options(args: argparse.Namespace, log: Log = stderr) -> CompareResult:
    """The comparison the options describe (the CLI's entry point)."""
    return _run_compare(opt.compare_config(args), args.out, not args.no_train, args.resume, log)


def _run_compare(cfg: CompareConfig, out: str | Path | None, train: bool, resume: bool,
                 log: Log) -> CompareResult:
    from scalesearch.comparison.run import run_compare

    check_out(out, cfg.setup.data)
    out = Path(out) if out else (Path("runs/compare") if train else None)
    summary = run_compare(cfg, out, train=train, resume=resume, log=log)
    if train:
        assert out is not None  # runs/compare when not given
        plot_dir(out)
        _report(out)
    return CompareResult(summary, out)


def compare(baseline: str | CompareConfig, *, out: str | Path | None = None,
            no_train: bool = False, resume: bool = False, log: Log = stderr,
            **options) -> CompareResult:
    """Solve every strategy at every FLOPs ratio and (unless ``no_train=True``) train each
    network into ``out``; options as ``scalesearch compare --help`` lists them
    (``flops_ratio=[2, 4]``, ``strategies="compound,fast"``, ``seeds``, …). ``baseline`` may
    be a ready :class:`CompareConfig` instead (then without options)."""
    if _config_alone(baseline, CompareConfig, options):
        return _run_compare(baseline, out, not no_train, resume, log)
    values = opt.api_options(options, "compare", CompareConfig, baseline=str(baseline),
                             no_train=no_train, resume=resume)
    return _run_compare(opt.compare_config(values), out, not no_train, resume, log)


def plot_dir(folder: Path) -> list[Path]:
    """Regenerate every figure whose CSV is in ``folder`` (compare.csv, table3.csv,
    trials.csv); returns the files written (``scalesearch plot``)."""
    from scalesearch.comparison.plots import plot_compare

    written = plot_compare(folder)
    if (folder / "trials.csv").exists():
        from scalesearch.coefsearch.results import replot
        from scalesearch.training.runfiles import read_json

        if not (folder / "search.json").exists():
            raise ScalesearchError(f"{folder} holds a trials.csv but no search.json: not a "
                                   "search's folder")
        read_json(folder / "search.json")  # the project's marker, checked

        written.extend(replot(folder))
    return written
