"""A search's answer in words, as the terminal and report.html say it (issue 36 §2): when the
pick is not separated, the tied set first, then the pick with its probability of being best and
the rule that chose it; and one line for the pooled model (:mod:`.surface`). Both read
best.json alone, so an old folder's (no ``pick_rule``, no ``surface``, no ``tie_p``) reads
too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scalesearch.coefsearch.stats import OLD_TIE_P, TIE_P
from scalesearch.util.fmt import is_top1, percent, score_digits


def _point(c: Mapping[str, Any]) -> str:
    return f"({c['alpha']:g}, {c['beta']:g}, {c['gamma']:g})"


def pick_rule(best: Mapping[str, Any]) -> str:
    """The figure that chose the pick; a best.json written before ``pick_rule`` was chosen by
    its tie-break (balanced, the default then)."""
    return best.get("pick_rule") or best.get("tie_break") or "balanced"


def tied_rule(best: Mapping[str, Any] | None = None) -> str:
    """'p_best ≥ 2%': the rule that drew this best.json's tied set (an old one's: 5%)."""
    threshold = TIE_P if best is None else best.get("tie_p") or OLD_TIE_P
    return f"p_best ≥ {threshold:.0%}"


def headline(best: Mapping[str, Any]) -> str:
    """'tied set (α, β, γ) mean% p_best …; pick α=… β=… γ=… (p_best …, by RULE)', or 'best:
    … (separated, p_best …)' when one candidate is separated."""
    pick = f"α={best['alpha']:g} β={best['beta']:g} γ={best['gamma']:g}"
    p = percent(best.get("p_best")) or "unmeasured"
    if best.get("separated"):
        return f"best: {pick} (separated, p_best {p})"
    tied = best.get("tied") or []
    if not tied:
        return f"pick {pick} (p_best unmeasured: one seed per candidate; by {pick_rule(best)})"
    unit, digits = _unit(best), score_digits(best.get("ranked"))
    members = ", ".join(f"{_point(t)} {t['top1_mean']:.{digits}f}{unit} p_best "
                        f"{percent(t['p_best'])}" for t in tied)
    return f"tied set {members}; pick {pick} (p_best {p}, by {pick_rule(best)})"


def _unit(best: Mapping[str, Any]) -> str:
    """"%" for top-1; none for another --metric's own values (best.json's ``ranked``)."""
    return "%" if is_top1(best.get("ranked")) else ""


def surface_line(best: Mapping[str, Any]) -> str | None:
    """The pooled model in one line: its kind, its own best point with the 95% range over the
    posterior, its most likely best candidate, and whether the pick used it; None without one."""
    s = best.get("surface")
    if not s:
        return None
    b, ci, digits = s["best"], s["best"]["ci95"], score_digits(best.get("ranked"))
    top = max(s["candidates"], key=lambda c: c["model_p_best"])
    use = "the pick uses it" if s["used_for_pick"] else \
        "reported beside the per-candidate figures: it is not calibrated (docs/search.md)"
    return (f"pooled model ({s['kind']} over {s['trainings']} trainings, noise sd "
            f"{s['noise_sd']:.{digits}f}): its best point {_point(b)} {b['mean']:.{digits}f} ± "
            f"{b['se']:.{digits}f}{_unit(best)}"
            f" (95%: α {ci['alpha'][0]:g}–{ci['alpha'][1]:g}, β {ci['beta'][0]:g}–"
            f"{ci['beta'][1]:g}); most likely best {_point(top)} model p_best "
            f"{percent(top['model_p_best'])}; {use}")
