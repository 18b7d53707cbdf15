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
