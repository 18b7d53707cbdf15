"""The files the README's bad-input rows name, made in a fresh folder: plug-ins (good, broken,
with bad stage tables, one whose model factory raises), photo folders, coefficient and study
files, finished and damaged run folders, a FIFO, links (a .lock, a sub-folder, a loop) and
another tool's output folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

TINY = '''from scalesearch import Head, Stage, StageTable, Stem

TINY = StageTable(
    name="tiny", stem=Stem(channels=16), image_size={size}, num_classes=10, act="silu",
    stages=(
        Stage("mbconv", repeats=1, channels=16, expand=1),
        Stage("mbconv", repeats=2, channels=24, stride=2, expand=4, se=0.25),
        Stage("bottleneck", repeats=2, channels=64, stride=2, expand=0.25),
    ),
    head=Head(channels=128),
)
N = 42
'''

BAD_TABLE = '''from scalesearch import Head, Stage, StageTable, Stem

NET = StageTable(name="bad", stem=Stem(channels=16), image_size=32, num_classes=10,
                 act={act!r}, stages=({stages}), head=Head(channels=64))
'''
BAD_TABLES = {  # file stem: (activation, stage expressions)
    "zero_repeats": ("relu", 'Stage("dsconv", 0, 8),'),
    "bad_se": ("relu", 'Stage("mbconv", 1, 16, se=2),'),
    "gelu": ("gelu", 'Stage("dsconv", 1, 16),'),
    "no_stages": ("relu", ""),
    "nope_block": ("relu", 'Stage("nope", 1, 16),'),
    "ignored_field": ("relu", 'Stage("dsconv", 1, 16), Stage("dsconv", 1, 24), '
                              'Stage("dsconv", 1, 32, se=0.25),'),
}

# EfficientNet-B0 whose training builds raise (the counter's builds pass no dropout): every
# trial of a search fails before its first epoch
FAILING = '''from scalesearch.scaling.scalable import TableBaseline
from scalesearch_baselines.efficientnet import EFFICIENTNET_B0


class Failing(TableBaseline):
    def build(self, depth=1.0, width=1.0, *, num_classes=None, dropout=None, drop_path=None):
        if dropout is not None:
            raise RuntimeError("the model factory failed")
        return super().build(depth, width, num_classes=num_classes)


NET = Failing(EFFICIENTNET_B0.table)
'''

# a training function file (--train): train raises on every trial, N is no function, two
# takes two arguments, nan reports a NaN score
MYTRAIN = '''def train(trial):
    raise ValueError("my loader is broken")


def two(model, epochs):
    pass


def nan(trial):
    trial.report(1, float("nan"))


N = 42
'''

TABLE3 = "baseline,strategy,flops,paper_flops\nresnet50,baseline,4.1,4.1\n"  # its schema's columns

TEXT = {
    "broken.py": "def oops(:\n",
    "notes.txt": "not a plug-in\n",
    "best.json": '{"alpha": 1.2, "beta": 1.1, "gamma": 1.15}',
    "alpha08.json": '{"alpha": 0.8, "beta": 1.1, "gamma": 1.15}',
    "notjson.json": "not json",
    "nokeys.json": '{"a": 1}',
    "nan.json": '{"alpha": NaN, "beta": 1.1, "gamma": 1.15}',
    "bool.json": '{"alpha": true, "beta": true, "gamma": 1.4142}',
    "failing.py": FAILING,
    "mytrain.py": MYTRAIN,
    "afile": "",
    "notyaml.yaml": "kind: [compare\n",
    "nokind.yaml": "baseline: resnet50\n",
    "unknown_key.yaml": "kind: compare\nbaseline: resnet50\ncolour: red\n",
    "nobaseline.yaml": "kind: compare\n",
    "nobaselines.yaml": "kind: paper-table3\n",
    "bigseeds.yaml": "kind: compare\nbaseline: resnet50\nseeds: 1000000000000\n",
    "module.yaml": "kind: paper-table3\nbaselines: ['this:s']\n",
    "alias.yaml": "kind: compare\nbaseline: &b resnet50\ndescription: *b\n",
    "deep.yaml": "kind: compare\nbaseline: resnet50\ndescription: " + "[" * 50 + "]" * 50 + "\n",
    "runs/damaged/search.json": "{",
    "runs/old/search.json": '{"config": {"baseline": "resnet50"}}',  # format 1: no "format"
    "runs/cmp/compare.json": '{"config": {}}',
    "runs/badrows/trials.csv": "alpha,beta,gamma,seed,top1,status\n1.2,1.1,1.15,0,abc,ok\n",
    "runs/badrows/search.json": '{"config": {"baseline": "resnet50", "setup": {"data": '
                                '"synthetic", "num_train": null, "num_val": null}}, '
                                '"space": {"candidates": []}}',
    "runs/checked/fidelity/fidelity.json": '{"config": {}}',
    "huge.json": '{"alpha": 1e100, "beta": 1.1, "gamma": 1.15}',
    "runs/linked/table3.csv": TABLE3,
    "someones/best.json": '{"mine": true}',  # another tool's output folder
    "someones/family.csv": "a,b\n1,2\n",
    "someones/report.html": "<p>mine</p>",
    "thesis.tex": "my thesis\n",
}
FORGED = "b\nscalesearch compare: error: forged"  # a class folder's name that forges a line
EPS = "%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n%%EOF\n"  # named .jpg

PHOTOS = {  # folder: {split/class: (good images, other files)}
    "noval": {"train/a": (1, ()), "train/b": (1, ())},
    "empty": {"train/a": (0, ()), "val/a": (1, ())},
    "mismatch": {"train/a": (1, ()), "train/b": (1, ()), "val/a": (1, ()), "val/c": (1, ())},
    "corrupt": {"train/a": (0, ("x.jpg",)), "train/b": (0, ("y.jpg",)), "val/a": (1, ()),
                "val/b": (1, ())},
    "oneclass": {"train/a": (1, ()), "val/a": (1, ())},
    "emptyclass": {"train/a": (1, ()), "train/b": (0, ()), "train/.ipynb_checkpoints": (1, ()),
                   "val/a": (1, ()), "val/b": (1, ())},
    "badfiles": {"train/a": (3, ("bad.jpg", "notes.txt")), "train/b": (3, ()),
                 "val/a": (2, ()), "val/b": (2, ())},
    "forged": {"train/a": (1, ()), f"train/{FORGED}": (0, ()), "val/a": (1, ()),
               f"val/{FORGED}": (0, ())},
    "eps": {"train/a": (0, ("x.jpg",)), "train/b": (0, ("y.jpg",)), "val/a": (1, ()),
            "val/b": (1, ())},
}


def _photos(root: Path) -> None:
    import torch
    from PIL import Image

    gen = torch.Generator().manual_seed(0)
    for folder, classes in PHOTOS.items():
        for where, (good, others) in classes.items():
            d = root / folder / where
            d.mkdir(parents=True)
            for i in range(good):
                pixels = torch.randint(0, 256, (40, 40, 3), generator=gen, dtype=torch.uint8)
                Image.fromarray(pixels.numpy()).save(d / f"{i}.png")
            for name in others:
                (d / name).write_text(EPS if folder == "eps" else "not an image")


# a plug-in that leaves a file when imported: reading a run folder that names it must not
EVIL = 'from pathlib import Path\nPath(__file__).with_name("imported.txt").write_text("ran")\n'
BEST = dict(alpha=1.2, beta=1.1, gamma=1.15, top1_mean=50.0, top1_std=None, seeds=1,
            baseline="evil.py:TINY", tie_break="balanced", tied=[], stopped=[],
            not_ruled_out=[], objective=None, p_best=None)
FAMILY = ("source,phi,alpha,beta,gamma,depth,width,image_size,params,flops,flops_ratio\n"
          "found,1,1.2,1.1,1.15,1.2,1.1,74,300000,40000000,2.0\n"
          "paper,1,1.2,1.1,1.15,1.2,1.1,74,300000,40000000,2.0\n")
DAMAGED = {  # a copy of runs/plugin with one file changed (None: see _damaged_runs)
    "cutbest": ("best.json", '{"alpha": 1.2, "beta"'),
    "oddbest": ("best.json", json.dumps(dict(BEST, alpha="1.2"))),
    "listconfig": ("search.json", '{"format": 2, "version": "0.3.0", "config": [], '
                                  '"space": {"candidates": []}}'),
    "oddfamily": ("family.csv", "name,value\nx,1\n"),
    "dirmarker": ("search.json", None), "fifo": ("trials.csv", None),
    "zero": ("search.json", None), "escape": ("trials.csv", None),
}
OTHER = {  # another tool's files of the names a run folder uses
    "other/result/result.json": '{"accuracy": 0.9}',
    "other/compare/compare.csv": "model,accuracy\nx,0.9\n",
    "other/table3/table3.csv": "model,flops\nx,1\n",
    "other/ragged/compare.md": "| a | b | c |\n|---|---|---|\n| 1 | 2 |\n",
}


def _damaged_runs(root: Path, saved: dict, row: dict) -> None:
    """runs/plugin: a finished search of the plug-in evil.py (best.json, family.csv); runs/NAME
    for each of :data:`DAMAGED`: the same with one file damaged."""
    import shutil

    from scalesearch.coefsearch.trials import TrialStore

    plugin = root / "runs" / "plugin"
    plugin.mkdir(parents=True)
    (root / "evil.py").write_text(EVIL + TINY.format(size=64))
    (plugin / "search.json").write_text(json.dumps(dict(saved, config=dict(
        saved["config"], baseline="evil.py:TINY"))))
    TrialStore(plugin / "trials.csv").append([row])
    (plugin / "best.json").write_text(json.dumps(BEST))
    (plugin / "family.csv").write_text(FAMILY)
    for name, (file, text) in DAMAGED.items():
        shutil.copytree(plugin, root / "runs" / name)
        path = root / "runs" / name / file
        path.unlink()
        if text is not None:
            path.write_text(text)
        elif name == "dirmarker":
            path.mkdir()
        elif name == "fifo":
            os.mkfifo(path)
        elif name == "zero":
            path.symlink_to("/dev/zero")
        else:  # a paused row whose checkpoint leads out of the run folder
            TrialStore(path).append([dict(row, status="paused",
                                          checkpoint="checkpoints/../../victim/sub")])


def _search_runs(root: Path) -> None:
    """runs/b0 and runs/checked: a finished resnet50 search (default flags); runs/failed: one
    whose every trial failed."""
    from scalesearch import options as opt
    from scalesearch.coefsearch.trials import TrialStore
    from scalesearch.settings import SearchConfig
    from scalesearch.training.rundir import marker

    args = opt.api_options({}, "search", SearchConfig, baseline="resnet50")
    cand = dict(alpha=1.2, beta=1.1, gamma=1.15, nominal_ratio=2.0, matched_resolution=None,
                matched_ratio=None, product=1.2 * 1.1**2 * 1.15**2, aliases=[])
    saved = marker(opt.search_config(args).to_dict(), space=dict(candidates=[cand]))
    for run, status in (("b0", "ok"), ("checked", "ok"), ("failed", "failed")):
        (root / "runs" / run).mkdir(parents=True, exist_ok=True)
        (root / "runs" / run / "search.json").write_text(json.dumps(saved))
        row = dict(cand, flops_ratio=2.0, seed=0, epochs=1, status=status,
                   top1=50.0 if status == "ok" else None, image_size=64,
                   params=1, flops=1, images=1, seconds=1.0)
        TrialStore(root / "runs" / run / "trials.csv").append([row])
    _damaged_runs(root, saved, dict(row, status="ok", top1=50.0))


def make_fixtures(root: Path) -> None:
    for name, text in {**TEXT, **OTHER}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "mynet.py").write_text(TINY.format(size=64))
    (root / "tiny32.py").write_text(TINY.format(size=32))
    for stem, (act, stages) in BAD_TABLES.items():
        (root / f"{stem}.py").write_text(BAD_TABLE.format(act=act, stages=stages))
    (root / "emptydir").mkdir()
    os.mkfifo(root / "pipe")
    (root / "runs" / "linked" / "table3.png").symlink_to(root / "best.json")  # not its own
    _photos(root)
    _search_runs(root)
    (root / "runs" / "linkedlock").mkdir()
    (root / "runs" / "linkedlock" / ".lock").symlink_to(root / "thesis.tex")
    (root / "runs" / "failed" / "checkpoints").symlink_to(root / "emptydir")
    (root / "loop").symlink_to("loop")


def snapshot(root: Path) -> dict[str, int]:
    """Every path under ``root`` with its modification time (ns), a link's own (a link's
    target is there too, or a loop)."""
    return {str(p.relative_to(root)): p.lstat().st_mtime_ns for p in root.rglob("*")}
