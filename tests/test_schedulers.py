"""A scheduler is an object in one map (scalesearch.settings.schedulers): the settings validate
against it, the runner and the progress ask it, and no module compares its name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scalesearch.errors import ScalesearchError
from scalesearch.settings.recipe import ProxySetup, TrainConfig
from scalesearch.settings.schedulers import SCHEDULERS, Scheduler
from scalesearch.settings.search import SearchConfig
from scalesearch.util.status import Status

PACKAGE = Path(__file__).resolve().parents[1] / "scalesearch"


def _cfg(scheduler: str, **kw) -> SearchConfig:
    return SearchConfig("efficientnet-b0", scheduler=scheduler, min_epochs=1,
                        setup=ProxySetup(train=TrainConfig(epochs=9)), **kw)


def test_the_map_is_the_flags_choices_and_the_runs_answers():
    assert list(SCHEDULERS) == ["none", "sha", "asha", "best-arm"]
    none, sha, asha, best_arm = (_cfg(name) for name in SCHEDULERS)
    assert [c.milestones() for c in (none, sha, asha, best_arm)] == [[], [1, 3], [1, 3], [1, 3]]
    assert [c.evaluate_at() for c in (none, sha, asha, best_arm)] == [[], [1, 3], None, [1, 3]]
    assert [c.rung(3) for c in (none, sha, asha, best_arm)] == [None, 1, 1, 1]
    assert [c.schedule.running for c in (none, sha, asha, best_arm)] == [
        Status.STOPPED, Status.PAUSED, Status.STOPPED, Status.PAUSED]
    assert none.schedule.describe() == ""
    assert "synchronous halving rungs at epoch(s) [1, 3] of 9" in sha.schedule.describe()
    assert "best-arm (sequential halving) rungs at epoch(s) [1, 3] of 9" in \
        best_arm.schedule.describe()


def test_each_scheduler_runs_its_own_way():
    calls = []

    class Runs:
        def tune(self, scheduler=None):
            calls.append(("tune", type(scheduler).__name__))

        def preload(self, scheduler):
            calls.append(("preload", type(scheduler).__name__))

        def halve(self):
            calls.append(("halve",))

    for name in SCHEDULERS:
        _cfg(name).schedule.run(Runs())
    assert calls == [("tune", "NoneType"), ("halve",), ("preload", "AsyncHyperBandScheduler"),
                     ("tune", "AsyncHyperBandScheduler"), ("halve",)]  # best-arm: sha's rounds


def test_a_scheduler_refuses_what_it_cannot_run():
    with pytest.raises(ScalesearchError, match="sha halves a fixed set"):
        _cfg("sha", sampler="tpe", trials=3)
    with pytest.raises(ScalesearchError, match="unknown scheduler 'fifo'; one of none, sha"):
        _cfg("fifo")


def test_a_new_scheduler_is_one_class_in_the_map(monkeypatch):
    class EveryOther(Scheduler):
        name = "every-other"

        def milestones(self):
            return list(range(2, self.cfg.epochs, 2))

    monkeypatch.setitem(SCHEDULERS, EveryOther.name, EveryOther)
    assert _cfg("every-other").milestones() == [2, 4, 6, 8]


def test_no_module_compares_a_scheduler_name():
    compared = re.compile(r"scheduler\s*[!=]=\s*['\"]|['\"]\s*[!=]=\s*\S*scheduler\b")
    found = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             if compared.search(p.read_text())]
    assert found == []
