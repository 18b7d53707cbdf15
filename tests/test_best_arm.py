"""The best-arm scheduler (settings/schedulers.py BestArm): sequential halving that always
cuts, and a --budget plan that counts its cuts (docs/search.md, "The best-arm scheduler")."""

from __future__ import annotations

import pytest

from scalesearch.coefsearch import budget
from scalesearch.coefsearch.halving import cut
from scalesearch.errors import ScalesearchError
from scalesearch.settings.recipe import ProxySetup, TrainConfig
from scalesearch.settings.search import SearchConfig
from scalesearch.util.status import Status
from tests.test_budget import FLOPS, PILOT, _Clock
from tests.test_reliability import _paused, _table


def _cfg(scheduler="best-arm", epochs=4, min_epochs=1, eta=3.0) -> SearchConfig:
    return SearchConfig("efficientnet-b0", seeds=2, scheduler=scheduler, min_epochs=min_epochs,
                        reduction_factor=eta, setup=ProxySetup(
                            num_val=100, train=TrainConfig(epochs=epochs, batch_size=10)))


def test_its_share_of_the_full_trainings_written_out():
    # 13 candidates, rungs at epochs 1 and 3 of 4, η = 3: 13 train epoch 1, ⌈13/3⌉ = 5 train
    # epochs 2–3, ⌈5/3⌉ = 2 train epoch 4 → (13·1 + 5·2 + 2·1) / (13·4) = 25/52
    cfg = _cfg()
    assert cfg.milestones() == [1, 3]
    assert cfg.schedule.trained_share(13) == pytest.approx(25 / 52)
    # one rung at epoch 2 of 4: (13·2 + 5·2) / 52
    assert _cfg(min_epochs=2).schedule.trained_share(13) == pytest.approx(36 / 52)
    for name in ("none", "sha", "asha"):  # every candidate may train to the end
        assert _cfg(scheduler=name, min_epochs=2).schedule.trained_share(13) == 1.0


def test_the_budget_buys_longer_training_for_the_contenders():
    # two candidates, one rung at epoch 1 of 4 (η = 3 keeps ⌈2/3⌉ = 1): share (2 + 3) / 8
    ba, full = _cfg(), _cfg(scheduler="sha")  # sha: the same rungs, planned as if none cut
    assert ba.schedule.trained_share(2) == pytest.approx(5 / 8)
    # the training term of the estimate shrinks by the share; evaluations and Ray's do not
    train = 2 * 2 * 4 * 200 * 0.01 * budget.SHARED_SLOWDOWN / 2  # seeds × candidates ×
    # epochs × images × s per image, × two sharing the machine, over 2 at once
    assert budget.estimate(full, FLOPS, PILOT, 200, 2) - budget.estimate(
        ba, FLOPS, PILOT, 200, 2) == pytest.approx(train * (1 - 5 / 8))
    assert budget.plan(ba, FLOPS, PILOT, 60.0, 2)[0] > budget.plan(full, FLOPS, PILOT, 60.0,
                                                                    2)[0]


def test_it_cuts_where_sha_would_not(tmp_path):
    """A rung the seeds cannot rank: sha lets every candidate go on (its rank guard); the
    best-arm scheduler cuts to ⌈n/η⌉ all the same — its budget was planned for the cut."""
    assert _cfg(scheduler="sha", min_epochs=2).schedule.guarded()
    assert not _cfg().schedule.guarded()
    store = _paused(tmp_path, _table(signal=0.0, noise=2.0, seed=1))
    cut(store, 0, 2, 3.0, lambda m: None, chance=None, guard=_cfg().schedule.guarded())
    assert sum(r["status"] == Status.STOPPED for r in store.rows) == 2 * 8  # 12 → 4


def test_it_halves_a_fixed_grid():
    with pytest.raises(ScalesearchError, match="--scheduler sha halves a fixed set"):
        SearchConfig("efficientnet-b0", scheduler="best-arm", sampler="tpe", trials=4)


def _pace(now_at_cut: float, budget_s: float = 520.0) -> budget.Pace:
    """A --budget pace whose trials began at 20 s (grid, pilot, Ray) and whose first rung ended
    at ``now_at_cut``."""
    clock = _Clock()
    clock.now = 20.0
    pace = budget.Pace(budget_s, budget_s, start=0.0, clock=clock)
    pace.trials_begin()
    clock.now = now_at_cut
    return pace


def test_a_pace_behind_its_plan_keeps_fewer_at_the_cut():
    """Rung 0 of 13 candidates (13 candidate-epochs on 2 slots), rungs at epochs 1, 3, 4,
    η = 3: with k going on the halving's rest costs ⌈k/2⌉·2 + ⌈⌈k/3⌉/2⌉·1 candidate-epochs per
    slot — 7 for k = 5, 5 for k = 4 or 3, 3 for k = 2."""
    def replan(pace, planned=5, rungs=(1, 3, 4)):
        logged: list[str] = []
        return pace.replan(0, planned, list(rungs), 3.0, 13, 2, logged.append), logged

    on_pace = _pace(85.0)  # 10 s a candidate-epoch per slot: ends at 85 + 70 = 155 s of 520
    assert replan(on_pace) == (5, []) and on_pace.replans == []
    behind = _pace(300.0)  # 43.1 s each: 5 would end at 601.5 s (> 520 · 1.15), 4 at 515.4 s
    keep, logged = replan(behind)
    assert keep == 4 and len(logged) == 1 and "4 go on instead" in logged[0]
    assert "still over" not in logged[0]
    assert behind.replans == [dict(rung=0, planned=5, keep=4, at_s=300.0, projected_s=601.5,
                                   replanned_s=515.4)]
    far_behind = _pace(450.0)  # even two end at 648 s: two go on all the same, and it says so
    keep, logged = replan(far_behind)
    assert keep == 2 and "still over the budget" in logged[0]
    assert replan(far_behind, planned=2, rungs=(3, 4)) == (2, [])  # two left: nothing to cut


def test_a_replanned_cut_keeps_the_best_of_fewer(tmp_path):
    store = _paused(tmp_path, _table(signal=3.0, noise=0.5, seed=2))  # 12, clearly ranked
    asked: list[int] = []

    def replan(planned: int) -> int:
        asked.append(planned)
        return 2

    cut(store, 0, 2, 3.0, lambda m: None, guard=False, replan=replan)
    going = {r["alpha"] for r in store.rows if r["status"] == Status.PAUSED}
    assert asked == [4] and going == {1.55, 1.5}  # ⌈12/3⌉ = 4 planned; the best two go on
