"""Synchronous halving's rungs (:func:`.halving.rung_plan`) as a Ray Tune searcher, so that
one Tune run trains every rung and its trial actors — each of which spends seconds importing
torch and Ray before it trains — can carry over from rung to rung (as far as Tune's actor
cache keeps them: one idle actor; no speed-up measured beyond the noise, docs/search.md)."""

from __future__ import annotations

from collections.abc import Callable, Generator

from ray.tune.search import Searcher

Plan = Generator[tuple[list[int], int], None, bool]  # yields (grid indices, epoch) per rung


class RungSearcher(Searcher):
    """Hands out the trials of ``plan``'s rungs (``configs(indices, epoch)`` makes a rung's
    Tune configs); the plan goes on — the rung is cut, the next one planned — only once every
    trial of the current rung has ended and the driver has stored its rows (Tune tells the
    searcher a trial ended just before its callbacks store the rows, and asks it for the next
    trial after). ``finished``: the plan's answer (True: every candidate finished; False:
    trials were lost or Tune stopped early); an error raised while planning is kept in
    ``error`` (for the caller to raise after Tune's run) and ends the run."""

    def __init__(self, plan: Plan, configs: Callable[[list[int], int], list[dict]]) -> None:
        super().__init__(metric="score", mode="max")
        self.plan: Plan | None = plan
        self.configs = configs
        self.queue: list[dict] = []
        self.running: set[str] = set()
        self.finished = False
        self.error: Exception | None = None

    def suggest(self, trial_id: str):
        if not self.queue and not self.running:
            if self.plan is None:  # a pickled copy (__getstate__)
                return Searcher.FINISHED
            try:
                self.queue = self.configs(*next(self.plan))
            except StopIteration as end:
                self.finished = end.value
                return Searcher.FINISHED
            except Exception as err:  # not inside Tune's loop: the caller raises it
                self.error = err
                return Searcher.FINISHED
        if not self.queue:
            return None  # the rung's last trials are still training
        self.running.add(trial_id)
        return self.queue.pop(0)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        self.running.discard(trial_id)

    def __getstate__(self) -> dict:
        """Tune pickles its searcher with the run's state; the plan (a generator over
        trials.csv) stays behind: a copy has nothing left to hand out, and a resume plans
        from trials.csv, not from Tune's state."""
        return dict(self.__dict__, plan=None, configs=None, queue=[], running=set())

    def save(self, checkpoint_path: str) -> None:
        """Nothing to save: trials.csv is what a resume plans from."""

    def restore(self, checkpoint_path: str) -> None:
        """Nothing to restore (:meth:`save`)."""
