"""Synchronous successive halving: the cut, exact continuation from checkpoints, order
invariance, resume mid-rung after SIGKILL, and the evidence for stopped candidates."""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import ROOT, kill_when

from scalesearch.coefsearch.evidence import stopped_evidence
from scalesearch.coefsearch.halving import survivors
from scalesearch.coefsearch.results import best_record, ranking
from scalesearch.coefsearch.trials import TrialStore
from scalesearch.settings.placement import Placement
from scalesearch.settings.search import SearchConfig
from scalesearch.util.status import Status

# Four candidates on B0 (β = 1 or 1.1, FLOPs matching off), 3 epochs, one rung at epoch 1 with
# η = 3: the cut keeps ⌈4/3⌉ = 2. Tiny data, so each search takes about a minute on 2 cores.
TINY = ["--baseline", "efficientnet-b0", "--beta-range", "1:1.1", "--grid-step", "0.1",
        "--no-match-flops", "--proxy-size", "32", "--num-train", "48", "--num-val", "24",
        "--epochs", "3", "--batch-size", "16", "--seeds", "2", "--min-epochs", "1",
        "--family-phi", "1",  # the family is counted at every size its match tries: φ = 1 only
        "--cut-unrankable"]  # 4 candidates cannot pass the rank guard: test the cut itself


def test_survivors_keep_the_best_ceil_n_over_eta_and_ties_at_the_cut():
    scores = {"a": [50, 60], "b": [40, 40], "c": [30, 50], "d": [10, 20], "e": [39, 41]}
    assert survivors(scores, 3) == {"a", "b", "c", "e"}  # ⌈5/3⌉ = 2, b, c and e tie at 40
    assert survivors(scores, 2) == {"a", "b", "c", "e"}  # ⌈5/2⌉ = 3
    assert survivors({k: v for k, v in scores.items() if k != "c"}, 2) == {"a", "b", "e"}
    assert survivors({"a": [1.0]}, 3) == {"a"}
    assert survivors({}, 3) == set()


def _trainer(seed: int):
    from scalesearch.data import load_data
    from scalesearch.scaling.registry import resolve
    from scalesearch.settings.recipe import TrainConfig
    from scalesearch.training.trainer import ProxyTrainer

    train, val = load_data("synthetic", 24, num_train=64, num_val=32)
    torch.manual_seed(seed)
    model = resolve("mobilenet-v2").build(0.5, 0.5, num_classes=len(train.classes))
    return ProxyTrainer(model, train, val, TrainConfig(epochs=3, batch_size=16), seed=seed)


def test_trainer_continues_exactly_from_its_state_dict():
    """Two epochs, a checkpoint, a new trainer (a new process's view) and the third epoch give
    bit-identical weights to three epochs in one go — so rungs never retrain."""
    straight = _trainer(3)
    for _ in range(3):
        straight.train_epoch()
    first = _trainer(3)
    first.train_epoch()
    first.train_epoch()
    first.evaluate(16)  # a rung evaluation between epochs changes nothing
    state = first.state_dict()
    resumed = _trainer(3)
    resumed.load_state_dict(state)
    assert (resumed.epoch, resumed.step, resumed.seen) == (2, 8, 128)
    resumed.train_epoch()
    for (name, a), b in zip(straight.model.state_dict().items(),
                            resumed.model.state_dict().values(), strict=True):
        if "running" not in name and "num_batches" not in name:  # BN stats: re-estimated
            assert torch.equal(a, b), name
    assert resumed.seen == straight.seen and resumed.step == straight.step
    assert resumed.train_losses == straight.train_losses  # the checkpoint carries them


def test_train_losses_are_each_epochs_mean_training_loss(losses_seen):
    """``train_losses`` (trials.csv's train_loss) is each epoch's mean of the losses the
    optimiser stepped on, read by a spy on the loss function, not by the trainer's own sum."""
    seen = losses_seen
    trainer = _trainer(5)
    for _ in range(3):
        trainer.train_epoch()
    per = trainer.steps_per_epoch
    assert len(seen) == 3 * per and len(trainer.train_losses) == 3
    for e, mean in enumerate(trainer.train_losses):
        assert mean == pytest.approx(sum(seen[e * per:(e + 1) * per]) / per, rel=1e-6)


def _row(key, seed, status, epochs, history, rung=None):
    a, b, g = key
    top1 = history[-1]
    return dict(alpha=a, beta=b, gamma=g, seed=seed, status=status, epochs=epochs, rung=rung,
                history=";".join(map(str, history)), top1=top1, product=a * b * b * g * g,
                flops_ratio=2.0, activations_ratio=1.5, resolution=g, image_size=32,
                params=1000, flops=10, images=100, seconds=1.0, error=None)


def _rows(loser_at_rung: list[float]) -> list[dict]:
    """Two survivors trained to epoch 3; a third stopped at rung 0 (epoch 1)."""
    win, other, loser = (1.0, 1.0, 1.4), (1.9, 1.0, 1.0), (1.0, 1.2, 1.15)
    return [_row(win, 0, "ok", 3, [30, 40, 60], 1), _row(win, 1, "ok", 3, [32, 42, 62], 1),
            _row(other, 0, "ok", 3, [20, 25, 30], 1), _row(other, 1, "ok", 3, [22, 26, 31], 1),
            *(_row(loser, s, "stopped", 1, [v], 0) for s, v in enumerate(loser_at_rung))]


@pytest.mark.parametrize("at_rung, open_", [([29, 33], True), ([5, 6], False)])
def test_a_stopped_candidate_is_judged_at_its_rung(at_rung, open_):
    """The winner is alone in the final tied set; a candidate stopped at epoch 1 whose seeds
    overlap the best there is not ruled out, and then the winner is not separated."""
    rows = _rows(at_rung)
    ev = stopped_evidence(rows)[(1.0, 1.2, 1.15)]
    assert ev["stop_epoch"] == 1 and ev["stop_rung"] == 0
    assert ev["cut"] == pytest.approx(21.0)  # the lower survivor's mean at epoch 1
    assert ev["missed_by"] == pytest.approx(21.0 - sum(at_rung) / 2)
    assert ev["ruled_out"] is (not open_)
    rank = ranking(rows)
    best = best_record(rank, {})
    # 30.5 points apart with a pooled s = 1.1 on 2 df: T₂(27.3) = 0.9993, alone in the tied set
    assert [t["alpha"] for t in best["tied"]] == [1.0] and best["p_best"] > 0.999
    assert best["separated"] is (not open_)
    assert [(c["alpha"], c["beta"]) for c in best["not_ruled_out"]] == (
        [(1.0, 1.2)] if open_ else [])
    assert best["stopped"][0]["stopped"] == 1


def test_one_seed_measures_nothing_at_the_rung():
    rows = [r for r in _rows([29, 33]) if r["seed"] == 0]
    ev = stopped_evidence(rows)[(1.0, 1.2, 1.15)]
    assert ev["rung_p_best"] is None and ev["ruled_out"] is None
    assert best_record(ranking(rows), {})["separated"] is False


def _decisions(path) -> list[tuple]:
    rows = TrialStore(path).rows
    return sorted((r["alpha"], r["beta"], r["gamma"], r["seed"], r["status"], r["epochs"],
                   r["rung"], r["top1"], r["history"], r["train_loss"]) for r in rows)


def _search(tmp_path, name, **changes) -> dict:
    from scalesearch.coefsearch.session import run_search
    from scalesearch.settings.recipe import ProxySetup, TrainConfig
    from scalesearch.settings.search import Ranges, SearchConfig

    setup = ProxySetup(proxy_size=32, num_train=48, num_val=24,
                       train=TrainConfig(epochs=3, batch_size=16, threads=1))
    cfg = SearchConfig("efficientnet-b0", ranges=Ranges(beta=(1.0, 1.1), step=0.1), seeds=2,
                       scheduler="sha", min_epochs=1, match_flops=False, family_phi=1,
                       setup=setup, cut_unrankable=True)  # as TINY: the cut's mechanics
    return run_search(replace(cfg, **changes), tmp_path / name, log=lambda m: None)


@pytest.fixture(scope="module")
def seed0(tmp_path_factory) -> tuple[Path, dict]:
    """(folder, result) of one uninterrupted TINY sha search, the reference of the tests of
    order invariance and of a killed run's resume (one xdist group: it is run once)."""
    folder = tmp_path_factory.mktemp("sha")
    return folder / "seed0", _search(folder, "seed0")


@pytest.mark.slow
@pytest.mark.xdist_group("sha_seed0")
def test_sha_decides_the_same_whatever_the_start_order_and_concurrency(tmp_path, seed0):
    """The second run changes both: --seed 1 reorders the trials' start and cpus_per_trial=2
    runs them one at a time instead of two at once (threads stay 1). Identical rung decisions,
    scores, ranking, p_best and winner. Survivors' final scores equal a full-budget run's:
    they continued from their checkpoints, exactly."""
    runs = {"seed0": seed0[1], "seed1_serial": _search(
        tmp_path, "seed1_serial", sampler_seed=1, placement=Placement(cpus_per_trial=2))}
    reference = _decisions(seed0[0] / "trials.csv")
    assert {r[4] for r in reference} == {Status.OK, Status.STOPPED}
    # ranked by the default score, the mean training loss, the history holds it every epoch
    # (no evaluation needed: --metric top1's history, evaluated at the rung and at the end
    # only, is test_contract's sha case)
    assert {tuple(v != "" for v in r[8].split(";")) for r in reference} == {
        (True,), (True, True, True)}
    # and the rung evaluates nothing: a stopped candidate has no val top-1 (own_score), the
    # finished ones theirs from the last epoch's evaluation
    rows = TrialStore(seed0[0] / "trials.csv").rows
    assert {r["own_score"] is None for r in rows if r["status"] == Status.STOPPED} == {True}
    assert {r["own_score"] is None for r in rows if r["status"] == Status.OK} == {False}
    for name in ("seed1_serial",):
        assert _decisions(tmp_path / name / "trials.csv") == reference, name
    keys = ["alpha", "beta", "gamma", "top1_mean", "p_best", "status", "rung_p_best"]

    def ranking_of(name: str) -> list[dict]:  # NaN (unmeasured) as None, so == compares it
        return [{k: None if r[k] != r[k] else r[k] for k in keys}
                for r in runs[name]["ranking"]]

    first = ranking_of("seed0")
    assert any(r["rung_p_best"] is not None for r in first)  # the stopped ones were judged
    for name in ("seed1_serial",):
        assert ranking_of(name) == first
        assert {k: runs[name]["best"][k] for k in ("alpha", "beta", "gamma", "separated")} == \
            {k: runs["seed0"]["best"][k] for k in ("alpha", "beta", "gamma", "separated")}
    full = _search(tmp_path, "full", scheduler="none", curves=True)
    finals = {(r[0], r[1], r[2], r[3]): r[7] for r in reference if r[4] == Status.OK}
    full_rows = {(r["alpha"], r["beta"], r["gamma"], r["seed"]): r["top1"]
                 for r in TrialStore(tmp_path / "full" / "trials.csv").rows}
    assert finals and all(full_rows[k] == v for k, v in finals.items())
    # benchmarks/bench_asha.py replays sha from a full run's curves: the same rows as a real run
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_asha import decisions, replay

    stored = json.loads((tmp_path / "full" / "search.json").read_text())["config"]
    replayed = replay(TrialStore(tmp_path / "full" / "trials.csv").rows, [1], 3.0,
                      every_epoch=SearchConfig.from_dict(stored).setup.ranks_unevaluated)
    assert decisions(replayed) == decisions(TrialStore(seed0[0] / "trials.csv").rows)
    assert not (seed0[0] / "checkpoints").exists()  # spent checkpoints are deleted
    assert full["best"] is not None


@pytest.mark.slow
@pytest.mark.xdist_group("sha_seed0")
def test_sha_killed_mid_rung_resumes_from_checkpoints(cli, tmp_path, seed0):
    """SIGKILL while the survivors train epoch 3 (one checkpoint per epoch): --resume restores
    them from epoch 2, and the rows equal an uninterrupted run's (the API's, with the same
    settings as TINY) — nothing lost or duplicated."""
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "scalesearch.cli.main", "search", *TINY, "--scheduler", "sha",
            "--out", str(out)]

    def mid_rung() -> bool:
        try:
            return any(r["status"] == Status.PAUSED and r["epochs"] == 2
                       for r in TrialStore(out / "trials.csv").rows)
        except (OSError, KeyError, ValueError):
            return False

    kill_when(args, mid_rung)
    paused = [r for r in TrialStore(out / "trials.csv").rows if r["status"] == Status.PAUSED]
    assert paused and all((out / r["checkpoint"]).is_dir() for r in paused)
    code, _, err = cli("search", *TINY, "--scheduler", "sha", "--out", out, "--resume")
    assert code == 0, err
    assert re.search(r"continue from their checkpoints \(epoch\(s\) [\d, ]*2\)", err), err
    assert _decisions(out / "trials.csv") == _decisions(seed0[0] / "trials.csv")
    assert not (out / "checkpoints").exists()


def test_tau_interval_speaks_only_when_the_seeds_allow_it():
    from scalesearch.coefsearch.fidelity import tau_interval

    proxy = [[10.0, 11.0], [20.0, 21.0], [30.0, 31.0], [40.0, 41.0], [50.0, 51.0], [60.0, 61.0]]
    lo, hi = tau_interval([0] * 6, proxy, [[v + 5 for v in s] for s in proxy])
    assert 0 < lo <= hi == pytest.approx(1.0)  # the same order, far apart: agrees
    lo, hi = tau_interval([0] * 6, proxy, [[v - 5 for v in s] for s in reversed(proxy)])
    assert -1.0 == pytest.approx(lo) and hi < 0  # reversed: disagrees
    noisy = [[0.0, 100.0]] * 6  # every candidate's seeds span everything: cannot tell
    lo, hi = tau_interval([0] * 6, proxy, noisy)
    assert lo < 0 < hi
    ref = [[v] for v in (3, 2, 1, 6, 5, 4)]  # the finished three (tier 0) are the best
    assert tau_interval([1, 1, 1, 0, 0, 0], proxy[::-1], ref)[0] > 0  # tiers first, then means
    assert tau_interval([0] * 6, proxy[::-1], ref)[0] < 0  # by the means alone: τ = −0.2
    assert all(math.isnan(v) for v in tau_interval([0, 0], proxy[:2], proxy[:2]))  # n < 3


def test_best_json_says_which_resolution_the_winner_trained_at():
    rows = [dict(r, resolution=1.3) if r["gamma"] == 1.4 else r for r in _rows([5, 6])]
    best = best_record(ranking(rows), {})
    assert (best["gamma"], best["gamma_trained"]) == (1.4, 1.3)


@pytest.mark.slow
@pytest.mark.parametrize("baseline", ["efficientnet-b0", "mobilenet-v1", "mobilenet-v2",
                                      "resnet50"])
def test_family_members_are_matched_to_two_to_the_phi(baseline):
    """family.csv's px_matched / ratio_matched: within ±3% of 2^φ for φ = 1…4, with the paper's
    coefficients and with a width-free found-like set, on every built-in; a member already
    within 3% at its matched size keeps its width."""
    from scalesearch.coefsearch.family import family
    from scalesearch.scaling.registry import resolve

    for member in family(resolve(baseline), (1.25, 1.0, 1.25), phis=range(1, 5)):
        assert abs(member["ratio_matched"] / 2 ** member["phi"] - 1) <= 0.03, member
        assert member["width_matched"] == pytest.approx(member["width"], rel=0.15)


def test_bench_replays_synchronous_halving_from_full_budget_curves(tmp_path, capsys):
    """benchmarks/bench_asha.py's replay (what SHA would decide, from a --curves run) stops the
    candidates below the ⌈n/η⌉ best at each rung, truncated to that rung; --from prints it."""
    import importlib.util
    import json

    from scalesearch.coefsearch.trials import COLUMNS
    from scalesearch.settings.recipe import ProxySetup, TrainConfig
    from scalesearch.settings.search import SearchConfig

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_asha.py"
    spec = importlib.util.spec_from_file_location("bench_asha", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    curves = {(1.0, 1.0, 1.4): [30, 40, 60], (1.9, 1.0, 1.0): [35, 36, 37],
              (1.0, 1.2, 1.15): [10, 50, 70], (1.6, 1.1, 1.0): [5, 6, 7]}
    rows = [_row(k, s, "ok", 3, [v + s for v in h]) for k, h in curves.items() for s in (0, 1)]
    out = bench.replay(rows, [1], 3)
    status = {(r["alpha"], r["beta"], r["gamma"]): (r["status"], r["epochs"]) for r in out}
    assert status == {(1.0, 1.0, 1.4): ("ok", 3), (1.9, 1.0, 1.0): ("ok", 3),
                      (1.0, 1.2, 1.15): ("stopped", 1), (1.6, 1.1, 1.0): ("stopped", 1)}
    assert {r["top1"] for r in out if r["alpha"] == 1.6} == {5.0, 6.0}  # its rung score
    run = tmp_path / "run"
    run.mkdir()
    three = ProxySetup(train=TrainConfig(epochs=3))
    (run / "search.json").write_text(json.dumps({"config": SearchConfig(
        "efficientnet-b0", setup=three).to_dict()}))
    store = TrialStore(run / "trials.csv")
    store.append([{k: r.get(k) for k in COLUMNS} for r in rows])
    assert bench.main(["--from", str(run), "--min-epochs", "1"]) == 0
    text = capsys.readouterr().out
    assert "(1.0, 1.0, 1.4)" in text and "#3 CUT" in text  # the slow starter, 3rd at epoch 1
