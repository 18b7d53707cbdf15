"""The Ray Tune trainable of a comparison: one network × seed per trial, trained with the
comparison's proxy budget by the training function (``--train``: every strategy is trained by
the same function); it reports its compare.csv row."""

from __future__ import annotations

from dataclasses import dataclass

from scalesearch.comparison.nonuniform import parse_repeats, with_repeats
from scalesearch.scaling.registry import resolve
from scalesearch.scaling.scaler import Multipliers
from scalesearch.settings.recipe import ProxySetup
from scalesearch.util.status import Status


@dataclass(frozen=True)
class CompareContext:
    """What every trial of one comparison needs; Ray ships it to the workers once."""

    spec: str  # the baseline: a registry name or a portable plug-in spec
    jobs: tuple[dict, ...]  # {"point": a solved network's row, "seed": int}; "index" names one
    setup: ProxySetup  # the proxy budget every network trains with


def train_job(spec: str, p: dict, setup: ProxySetup, seed: int) -> dict:
    """One network × seed, trained with the comparison's proxy budget."""
    from scalesearch.training.contract import resolve_trainer
    from scalesearch.training.stepper import train_through

    try:
        baseline, depth = resolve(spec), p["depth"]
        if isinstance(p.get("stage_repeats"), str):  # nonuniform: the depth is in the repeats
            baseline, depth = with_repeats(baseline, parse_repeats(p["stage_repeats"])), 1.0
        mult = Multipliers(depth, p["width"], p["resolution"])
        rec = train_through(resolve_trainer(setup.trainer), baseline, mult, setup, seed)
    except Exception as err:  # one broken network must not sink the comparison
        return dict(p, seed=seed, status=Status.FAILED, error=f"{type(err).__name__}: {err}")
    top1 = None if rec["top1"] is None else rec["top1"] * setup.sign  # --mode min: negated
    return dict(p, seed=seed, proxy_image_size=rec["image_size"], top1=top1,
                loss=rec["loss"], seconds=rec["seconds"], status=rec["status"],
                error=rec["error"])


def trial(config: dict, context: CompareContext) -> None:
    """Ray Tune trainable: the job ``context.jobs[config["index"]]`` (a network and a seed);
    reports its row."""
    from ray import tune

    job = context.jobs[config["index"]]
    tune.report({"rows": [train_job(context.spec, job["point"], context.setup, job["seed"])]})
