"""``report.html``: one self-contained page for a run folder, to open and to send. The
sections come from the folder's files (:mod:`scalesearch.report.sections`); the page is rendered
by a Jinja2 template (``templates/report.html.j2``, autoescaped) with the images embedded as
``data:`` URIs and the CSS inline, so it loads nothing from the network, and prints.
"""

from __future__ import annotations

import base64
import datetime
import importlib.metadata
import os
import platform
import urllib.parse
from pathlib import Path
from typing import cast

from scalesearch.errors import ScalesearchError
from scalesearch.report.images import png_bytes
from scalesearch.report.sections import KINDS, SECTIONS, Section, folder_kind
from scalesearch.util.io import write_text

REPORT = "report.html"
PACKAGES = ("scalesearch", "torch", "ray", "optuna")
TITLES = {"search": "φ=1 search", "fidelity": "Fidelity check", "compare": "Comparison",
          "table3": "Table 3 count"}


def subruns(folder: Path) -> list[Path]:
    """The run folders directly inside ``folder`` (fidelity/, compare runs), by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and folder_kind(p))


def href(*segments: str) -> str:
    """A link to ``segments`` below the page, as a relative URL: each segment percent-encoded
    and a leading ``./``, so a folder named ``javascript:alert(1)`` is a path, never a scheme
    (the template escapes the result for HTML)."""
    return "./" + "/".join(urllib.parse.quote(s, safe="") for s in segments)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu() -> str:
    import torch

    if not torch.cuda.is_available():
        return "none"
    return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))


def environment(recorded: dict | None) -> Section:
    """Versions and machine: as the run recorded them (its marker's ``environment``), else
    this process's, labelled as the environment that rendered the report."""
    from scalesearch.version import __version__

    s = Section("environment", "Versions and machine")
    if recorded:
        s.notes.append("As recorded by the run.")
        s.facts += [(k, str(v)) for k, v in recorded.items()]
        return s
    s.notes.append("The folder does not record the versions or machine it ran with; these are "
                   "of the environment that rendered this report.")
    s.facts += [(n, __version__ if n == "scalesearch" else _version(n)) for n in PACKAGES]
    s.facts += [("Python", platform.python_version()),
                ("system", f"{platform.system()} {platform.release()}"), ("CPU", _cpu()),
                ("cores", str(os.cpu_count())), ("GPU", _gpu())]
    return s


def _data_uri(path: Path) -> str | None:
    """``path`` as a ``data:`` URI, read once more through :func:`png_bytes`'s checks."""
    data = png_bytes(path, path.parent)
    return None if data is None else "data:image/png;base64," + base64.b64encode(data).decode()


def _marker(folder: Path, kind: str) -> dict:
    import json

    path = folder / KINDS[kind][0]
    try:
        return json.loads(path.read_text()) if path.suffix == ".json" else {}
    except (OSError, ValueError):
        return {}


def page(folder: Path, kind: str) -> dict:
    """What the template renders: the title, the sections and the links to sub-runs."""
    sections = SECTIONS[kind](folder)
    links = [(f"{p.name}/ — {TITLES[cast(str, folder_kind(p))].lower()}",  # subruns: a kind
              href(p.name, REPORT)) for p in subruns(folder)]
    links += [("README.md — the study's write-up", href("README.md"))] * \
        (folder / "README.md").is_file()
    if links:
        sections.insert(1, Section("subruns", "Runs in this folder", links=links))
    recorded = _marker(folder, kind)
    sections.append(environment(recorded.get("environment")))
    if recorded.get("version"):
        sections[-1].facts.insert(0, (f"scalesearch that ran it ({KINDS[kind][0]})",
                                      recorded["version"]))
    return dict(kind=kind, title=f"{TITLES[kind]}: {folder.resolve().name}", folder=str(folder),
                sections=[dict(vars(s), images=[(c, uri) for c, p in s.images
                                                if (uri := _data_uri(p))]) for s in sections],
                rendered=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"))


def render(context: dict) -> str:
    """The page's HTML from ``templates/report.html.j2``."""
    import jinja2
    import markupsafe

    env = jinja2.Environment(loader=jinja2.PackageLoader("scalesearch.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["html"] = markupsafe.Markup  # pandas' to_html, which escaped the cells
    return env.get_template("report.html.j2").render(**context)


def write_report(run_dir: str | Path, *, recurse: bool = True) -> Path:
    """Write ``run_dir/report.html`` atomically from the run's files (and, with ``recurse``,
    each sub-run's first, so the page's links lead somewhere); returns its path. A folder that
    holds no run is refused in one line."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ScalesearchError(f"{run_dir} is not a folder")
    kind = folder_kind(run_dir)
    if kind is None:
        names = ", ".join(f for files in KINDS.values() for f in files)
        raise ScalesearchError(f"{run_dir} holds no run (none of {names} found)")
    if recurse:
        for sub in subruns(run_dir):
            write_report(sub)
    html = render(page(run_dir, kind))
    return write_text(run_dir / REPORT, html)
