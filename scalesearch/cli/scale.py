"""``scalesearch scale`` and ``scalesearch baselines``."""

from __future__ import annotations

import argparse
from typing import cast

from scalesearch.cli.common import add_format, print_json
from scalesearch.errors import ScalesearchError
from scalesearch.options import add_latency_args, latency_from_args
from scalesearch.scaling.scaler import PAPER_COEFFICIENTS, PHI_RANGE
from scalesearch.util.argtypes import finite_float, positive_int, read_coefficients
from scalesearch.util.fmt import human, render_table

EXAMPLES = """examples:
  scalesearch scale --baseline resnet50 --phi 3
  scalesearch scale --baseline efficientnet-b0 --preset b3 --format json
  scalesearch scale --baseline mobilenet-v2 --depth 4          # Table 3 single-dimension row
  scalesearch scale --baseline efficientnet-b0 --phi 1 --coefficients out/best.json
  scalesearch scale --baseline path/to/net.py:MY_NET --phi 2 --save net.pt
  scalesearch scale --baseline mobilenet-v2 --phi 2 --latency --latency-threads 1
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``scale`` and ``baselines`` subcommands."""
    p = sub.add_parser(
        "scale", help="scale a baseline by φ, a preset, or explicit multipliers",
        description="Scale a baseline with Eq. 3 (d=α^φ, w=β^φ, r=γ^φ) and the reference "
        "rounding rules, count params/FLOPs/activations, optionally save the model.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", required=True, help="built-in name (see `scalesearch "
                   "baselines`), entry-point name, package.module:attr or path/file.py:attr")
    mode = p.add_argument_group("how to scale (choose one; default: the unscaled baseline)")
    mode.add_argument("--phi", type=finite_float, help=f"compound coefficient φ, fractional or "
                      f"negative, in [{PHI_RANGE[0]:g}, {PHI_RANGE[1]:g}]")
    mode.add_argument("--preset", help="named preset of the baseline, e.g. b0…b8 for "
                      "efficientnet-b0 (official width/depth/resolution/dropout)")
    mode.add_argument("--depth", type=finite_float, help="explicit depth multiplier d")
    mode.add_argument("--width", type=finite_float, help="explicit width multiplier w")
    mode.add_argument("--resolution", type=finite_float, help="explicit resolution multiplier r")
    co = p.add_argument_group("coefficients for --phi (default: the paper's α=1.2, β=1.1, γ=1.15)")
    co.add_argument("--alpha", type=finite_float, help="depth coefficient α ≥ 1")
    co.add_argument("--beta", type=finite_float, help="width coefficient β ≥ 1")
    co.add_argument("--gamma", type=finite_float, help="resolution coefficient γ ≥ 1")
    co.add_argument("--coefficients", metavar="JSON", help="read alpha, beta, gamma from a file "
                    "such as the best.json written by `scalesearch search`")
    co.add_argument("--force", action="store_true", help="scale even if α·β²·γ² is far from 2 "
                    "or a coefficient is below 1")
    p.add_argument("--num-classes", type=positive_int, help="classifier size (default: baseline's)")
    p.add_argument("--match-flops", action="store_true", help="pick the image size whose "
                   "measured FLOPs ratio is closest to the formula's d·w²·r² (within 3%% when "
                   "any size can reach it; otherwise warns)")
    p.add_argument("--save", metavar="MODEL.pt", help="write the model (state dict + config to "
                   "rebuild it) and MODEL.json beside it; a file name (a name ending in / is "
                   "refused)")
    add_latency_args(p)
    add_format(p)
    p.set_defaults(func=run_scale)

    b = sub.add_parser("baselines", help="list available baselines",
                       description="List baselines registered in the `scalesearch.baselines` "
                       "entry-point group (built-ins and installed plug-ins).")
    add_format(b)
    b.set_defaults(func=run_baselines)


def _coefficients(args) -> tuple[float, float, float]:
    given = [v is not None for v in (args.alpha, args.beta, args.gamma)]
    if args.coefficients and any(given):
        raise ScalesearchError("give either --coefficients or --alpha/--beta/--gamma, not both")
    if (args.coefficients or any(given)) and args.phi is None:
        raise ScalesearchError("--alpha/--beta/--gamma/--coefficients need --phi")
    if args.coefficients:
        return read_coefficients(args.coefficients)
    return cast("tuple[float, float, float]", tuple(  # three of three, by zip(strict=True)
        v if v is not None else d
        for v, d in zip((args.alpha, args.beta, args.gamma), PAPER_COEFFICIENTS, strict=True)))


def run_scale(args) -> int:
    """``scalesearch scale``: scale the baseline (Eq. 3, a preset or explicit d, w, r),
    count it, optionally time and save it, and print the result."""
    from scalesearch.scaling.scaled import scale

    if args.match_flops and args.preset:
        raise ScalesearchError("--match-flops cannot be combined with --preset (a preset fixes "
                               "its image size)")
    alpha, beta, gamma = _coefficients(args)
    if args.save:
        from scalesearch.scaling.checkpoint import save_targets

        save_targets(args.save)  # before the (slow) scaling
    net = scale(args.baseline, args.phi, alpha=alpha, beta=beta, gamma=gamma, depth=args.depth,
                width=args.width, resolution=args.resolution, preset=args.preset,
                num_classes=args.num_classes, match_flops=args.match_flops, force=args.force)
    d = net.to_dict()
    spec = latency_from_args(args)
    if spec is not None:
        from scalesearch.training.latency import measure_latency

        d["latency_ms"] = measure_latency(net.model, net.image_size, spec.batch, spec.threads,
                                          spec.device)
        d["latency"] = dict(batch=spec.batch, threads=spec.threads, device=spec.device)
    if args.save:
        model_path, json_path = net.save(args.save)
        d["saved"] = dict(model=str(model_path), json=str(json_path))
    if args.format == "json":
        print_json(d)
    else:
        print(describe(d))
    return 0


def describe(d: dict) -> str:
    """Human view: multipliers, counts, formula vs measured FLOPs ratio, and the stage table."""
    if d["preset"]:
        how = f"preset {d['preset']}"
    elif d["phi"] is not None:
        how = f"φ={d['phi']:g}"
        if d["alpha"] is not None:
            how += f" (α={d['alpha']:g}, β={d['beta']:g}, γ={d['gamma']:g})"
    else:
        how = "explicit multipliers"
    base = d["base"]
    drift = d["flops_ratio"] / d["formula_ratio"] - 1
    lines = [
        f"{d['baseline']} scaled by {how}",
        f"  multipliers  depth {d['depth']:.4g}  width {d['width']:.4g}  "
        f"resolution {d['resolution']:.4g} → {d['image_size']} px",
        f"  params       {human(d['params'])}  (baseline {human(base['params'])})",
        f"  FLOPs        {human(d['flops'], 'FLOPs')}  (baseline {human(base['flops'], 'FLOPs')}"
        f", multiply-adds of conv+linear)",
        f"  activations  {human(d['activations'])}  (baseline {human(base['activations'])}, "
        f"ratio {d['activations_ratio']:.3f})",
        f"  FLOPs ratio  formula d·w²·r² = {d['formula_ratio']:.3f}   measured after rounding = "
        f"{d['flops_ratio']:.3f} ({drift:+.1%})",
    ]
    if d.get("latency_ms") is not None:
        lat = d["latency"]
        lines.append(f"  latency      {d['latency_ms']:.2f} ms  (median, batch {lat['batch']}, "
                     f"{lat['threads']} thread(s), {lat['device']}, {d['image_size']} px)")
    if d["uncounted"]:
        lines.append(f"  not counted  {d['uncounted']} (custom ops; see fvcore)")
    if d["stages"]:
        lines += ["", render_table(d["stages"])]
    if d.get("saved"):
        lines += ["", f"saved {d['saved']['model']} and {d['saved']['json']}"]
    return "\n".join(lines)


def run_baselines(args) -> int:
    """``scalesearch baselines``: list the registered baselines with their image size
    and presets."""
    from scalesearch.scaling.registry import available, resolve

    rows = []
    for info in available():
        net = resolve(info.name)
        rows.append(dict(name=info.name, image_size=net.image_size,
                         presets=",".join(net.presets) or None, description=net.description,
                         source=info.source))
    if args.format == "json":
        print_json(rows)
    else:
        print(render_table(rows, ["name", "image_size", "presets", "description"]))
    return 0
