"""The searcher that plays synchronous halving's rungs in one Ray Tune run: a rung's trials
are handed out, and the plan goes on (the cut, the next rung) only once all of them ended."""

import pickle

from ray.tune.search import Searcher

from scalesearch.coefsearch.rungsearch import RungSearcher


def _searcher(answer=True):
    resumed = []

    def plan():
        yield [2, 0], 1
        resumed.append("after rung 0")  # where the cut of rung 0 is taken
        yield [0], 3
        resumed.append("after rung 1")
        return answer

    def configs(indices, epoch):
        return [dict(index=i, target=epoch) for i in indices]

    return RungSearcher(plan(), configs), resumed


def test_a_rung_goes_on_only_once_every_trial_of_it_has_ended():
    s, resumed = _searcher()
    assert s.suggest("a") == {"index": 2, "target": 1}
    assert s.suggest("b") == {"index": 0, "target": 1}
    assert s.suggest("c") is None and resumed == []  # rung 0 still trains: wait
    s.on_trial_complete("a", result={"score": 1.0})
    assert s.suggest("c") is None and resumed == []  # b still trains: no cut yet
    s.on_trial_complete("b", error=True)  # a lost trial ends too; the plan judges it
    assert s.suggest("c") == {"index": 0, "target": 3} and resumed == ["after rung 0"]
    assert s.suggest("d") is None
    s.on_trial_complete("c")
    assert s.suggest("d") == Searcher.FINISHED and s.finished is True
    assert resumed == ["after rung 0", "after rung 1"] and s.error is None


def test_the_plans_answer_and_its_errors_reach_the_caller():
    s, _ = _searcher(answer=False)  # trials were lost: the plan says so
    assert s.suggest("a") and s.suggest("b")
    s.on_trial_complete("a")
    s.on_trial_complete("b")
    assert s.suggest("c")
    s.on_trial_complete("c")
    assert s.suggest("d") == Searcher.FINISHED and s.finished is False

    def broken(indices, epoch):
        raise ValueError("trials.csv names a checkpoint outside the run")

    failing = RungSearcher(iter([([0], 1)]), broken)  # type: ignore[arg-type]
    assert failing.suggest("a") == Searcher.FINISHED  # Tune's run ends; the caller raises
    assert isinstance(failing.error, ValueError) and not failing.finished


def test_a_pickled_copy_has_nothing_to_hand_out():
    """Tune pickles its searcher with the run's state: the plan (a generator) stays behind."""
    s, resumed = _searcher()
    assert s.suggest("a") is not None
    copy = pickle.loads(pickle.dumps(s))
    assert copy.suggest("x") == Searcher.FINISHED and resumed == []
    assert s.suggest("b") == {"index": 0, "target": 1}  # the original goes on


def test_a_halving_behind_its_budget_keeps_fewer_at_its_first_cut(tmp_path, monkeypatch):
    """runner._halve wires --budget's pace into the cuts: a stand-in for Ray Tune plays the
    searcher's trials one at a time (each stores its rows as a trial would), on a clock far
    behind a 60 s budget. 9 candidates: the first cut keeps 2 instead of ⌈9/3⌉ = 3, says so
    and records it; the next rung halves the two as planned; every candidate is finished."""
    import itertools
    from types import SimpleNamespace

    from scalesearch.coefsearch import runner
    from scalesearch.coefsearch.budget import Pace
    from scalesearch.coefsearch.trials import TrialStore
    from scalesearch.settings.recipe import ProxySetup, TrainConfig
    from scalesearch.settings.search import SearchConfig
    from scalesearch.util.status import Status

    cfg = SearchConfig("efficientnet-b0", seeds=2, scheduler="best-arm", min_epochs=1,
                       reduction_factor=3.0, setup=ProxySetup(
                           num_val=100, train=TrainConfig(epochs=4, batch_size=10)))
    space = SimpleNamespace(candidates=[SimpleNamespace(key=(round(1 + 0.05 * i, 2), 1.0, 1.0))
                                        for i in range(9)])
    store = TrialStore(tmp_path / "trials.csv")
    now = [0.0]  # the pace's clock: each trial takes 10 s, far behind a 60 s budget

    def fake_fit(trainable, context, place, concurrent, storage, name, callbacks, stop=None,
                 search_alg=None, num_samples=None):
        for n in itertools.count():
            config = search_alg.suggest(f"t{n}")
            if config == Searcher.FINISHED:
                return
            assert config is not None  # one at a time: the rung's trials have all ended
            i, epoch = config["index"], config["target"]
            alpha = space.candidates[i].key[0]
            store.append([dict(alpha=alpha, beta=1.0, gamma=1.0, seed=s, epochs=epoch,
                               status=Status.OK if epoch == 4 else Status.PAUSED,
                               top1=30.0 + i + s, history=";".join([str(30.0 + i + s)] * epoch),
                               product=2.0, flops_ratio=2.0, resolution=1.0, image_size=32,
                               params=1000, images=100, seconds=1.0) for s in config["seeds"]])
            now[0] += 10.0
            search_alg.on_trial_complete(f"t{n}")

    monkeypatch.setattr(runner, "fit", fake_fit)
    pace = Pace(60.0, 60.0, start=0.0, clock=lambda: now[0])
    pace.trials_begin()
    logged: list[str] = []
    context = runner.trial_context(cfg, space, store)
    runner._halve(cfg, space, store, context, [], 2, logged.append, pace=pace)
    reached = {r["alpha"]: r["epochs"] for r in store.rows}
    assert sorted(reached.values()) == [1] * 7 + [3, 4]  # 9 → 2 (not 3) → 1
    assert reached[1.4] == 4 and reached[1.35] == 3  # the best go on
    assert [(p["rung"], p["planned"], p["keep"]) for p in pace.replans] == [(0, 3, 2)]
    assert any("2 go on instead" in line for line in logged), logged
    assert all(r["status"] in (Status.OK, Status.STOPPED) for r in store.rows)
