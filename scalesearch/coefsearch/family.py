"""The family of a search's answer (Table 2): the baseline scaled to φ = 1…7 with the found
coefficients and with the paper's, each member's FLOPs measured and its image size matched to
2^φ (family.csv, family.png)."""

from __future__ import annotations

import warnings
from functools import partial
from typing import TypedDict

from scalesearch.coefsearch.gridcache import cached_members
from scalesearch.errors import TooLarge
from scalesearch.scaling.matching import match_ratio
from scalesearch.scaling.scalable import Scalable
from scalesearch.scaling.scaled import scale
from scalesearch.scaling.scaler import PAPER_COEFFICIENTS

FAMILY_PHIS = tuple(range(1, 8))  # B1–B7 (the official presets were hand-rounded, Table 2)


class Member(TypedDict):
    """A row of family.csv (its schema): a member φ of the found or the paper's family."""

    source: str
    phi: int
    alpha: float
    beta: float
    gamma: float
    depth: float
    width: float
    image_size: int
    params: int
    flops: int
    flops_ratio: float
    px_matched: int
    width_matched: float
    ratio_matched: float



def family(baseline: Scalable, coefficients: tuple[float, float, float],
           phis=FAMILY_PHIS) -> list[Member]:
    """Scale the baseline to φ = 1…7 with the found and with the paper's coefficients: each
    member at r = γ^φ with its measured FLOPs ratio, and ``px_matched`` / ``ratio_matched``: the
    image size that brings the measured ratio closest to 2^φ (as ``scale --match-flops``), with
    ``width_matched`` ≠ w only where no image size lands within 3%
    (:func:`matching.match_ratio`)."""
    rows: list[Member] = []
    for source, coef in (("found", coefficients), ("paper", PAPER_COEFFICIENTS)):
        members, stopped = cached_members(baseline, source, coef, tuple(phis),
                                          partial(_members, baseline, source, coef, phis))
        if stopped:
            warnings.warn(stopped, stacklevel=2)
        rows += members
    return rows


def _members(baseline: Scalable, source: str, coef: tuple[float, float, float],
             phis) -> tuple[list[Member], str | None]:
    """One source's members of :func:`family`, and why they stop early (None: they do not)."""
    rows: list[Member] = []
    for phi in phis:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the product check was made by the search
                net = scale(baseline, phi=phi, alpha=coef[0], beta=coef[1], gamma=coef[2],
                            force=True)
        except TooLarge as err:  # a large α: the deep members are not built
            return rows, f"family ({source}) stops before φ={phi:g}: {err}"
        px, width, ratio = match_ratio(net.baseline, net.mult, 2.0**phi)
        rows.append(Member(source=source, phi=phi, alpha=coef[0], beta=coef[1],
                           gamma=coef[2], depth=round(net.mult.depth, 4),
                           width=round(net.mult.width, 4), image_size=net.image_size,
                           params=net.counts.params, flops=net.counts.flops,
                           flops_ratio=round(net.flops_ratio, 3), px_matched=px,
                           width_matched=round(width, 4), ratio_matched=round(ratio, 3)))
    return rows, None
