"""--budget: durations, the plan's arithmetic and its refusal, and a real pilot
(docs/search.md, "Planning from a budget")."""

from __future__ import annotations

import pytest

from scalesearch.coefsearch import budget
from scalesearch.errors import ScalesearchError
from scalesearch.settings.recipe import ProxySetup, TrainConfig
from scalesearch.settings.search import Ranges, SearchConfig
from scalesearch.util.fmt import format_duration, parse_duration


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("4m", 240), ("2h", 7200),
                                           ("1h30m", 5400), ("1.5h", 5400), (" 2m 30s", 150)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5x", "", "4", "m", "-3m", "0m"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ScalesearchError, match="--budget must be"):
        parse_duration(text)


def test_format_duration():
    assert [format_duration(s) for s in (45, 185, 3720)] == ["45s", "3m05s", "1h02m"]


def _cfg(**setup) -> SearchConfig:
    return SearchConfig("efficientnet-b0", seeds=2, setup=ProxySetup(
        num_val=100, train=TrainConfig(epochs=4, batch_size=10), **setup))


# two candidates: 0.01 s per training image and 0.002 s per scored image, the same for both
PILOT = budget.Pilot(flops=(1, 2), train_s=(0.01, 0.01), eval_s=(0.002, 0.002),
                     val_images=100, train_images=None)
FLOPS = {"a": 1, "b": 2}


def test_the_estimate_written_out():
    # per training: 4 epochs × 200 images × 0.01 s + (100 scored + 200 recalibration) × 0.002
    # = 8.6 s; × 2 seeds × 2 candidates / 2 at once, × SHARED_SLOWDOWN for two sharing the
    # machine; + Ray's 5 s + 0.5 s per candidate + 5 s of outputs
    assert budget.estimate(_cfg(), FLOPS, PILOT, 200, 2) == pytest.approx(
        5 + 1 + 5 + 17.2 * budget.SHARED_SLOWDOWN)
    assert budget.estimate(_cfg(), FLOPS, PILOT, 200, 1) == pytest.approx(5 + 1 + 5 + 34.4)


def test_a_trainings_first_step_is_counted_once_not_as_its_pace():
    """The pilot's steady pace leaves out the first step (slower: the network's first pass);
    its excess is counted once per training: 2 candidates × 2 seeds × 0.3 s / 2 at once."""
    slow_start = budget.Pilot(**{**PILOT.__dict__, "first_s": (0.3, 0.3)})
    assert budget.estimate(_cfg(), FLOPS, slow_start, 200, 1) - \
        budget.estimate(_cfg(), FLOPS, PILOT, 200, 1) == pytest.approx(4 * 0.3)


def test_the_pilot_times_the_steady_steps_apart_from_the_first(monkeypatch):
    """Step ends at 0.5, 0.6, 0.9 and 1.0 s: the first step took 0.5 s, a steady one 0.1 s
    (the median of 0.1, 0.3 and 0.1: one step slowed by other work does not set the pace)."""
    clock = iter([0.0, 0.5, 0.6, 0.9, 1.0])
    monkeypatch.setattr(budget.time, "perf_counter", lambda: next(clock))

    class Trainer:
        def train_epoch(self, progress):
            for step in range(4):
                progress(step + 1, 4)

    assert budget._step_times(Trainer()) == pytest.approx((0.5, 0.1))


def test_a_rung_is_evaluated_only_where_the_ranking_needs_it():
    """sha's rung at epoch 2 of 4 scores 100 val images (the subset is 200, capped) after a
    recalibration on 200 training images, for each of 2 seeds × 2 candidates, 2 at once:
    (100 + 200) × 0.002 × 4 / 2 = 1.2 s (× SHARED_SLOWDOWN) more by val top-1; ranked by the
    training loss
    (the default), which comes with every epoch, the rung costs nothing to score."""
    def sha(metric):
        return SearchConfig("efficientnet-b0", seeds=2, scheduler="sha", min_epochs=2,
                            setup=ProxySetup(num_val=100, metric=metric,
                                             train=TrainConfig(epochs=4, batch_size=10)))

    by_top1, by_loss = (budget.estimate(sha(m), FLOPS, PILOT, 200, 2) for m in ("top1", None))
    assert sha(None).evaluate_at() == [2]
    assert by_top1 - by_loss == pytest.approx(1.2 * budget.SHARED_SLOWDOWN)
    assert by_loss == pytest.approx(budget.estimate(_cfg(), FLOPS, PILOT, 200, 2))


def test_the_plan_is_the_most_half_batches_that_fit():
    n, est = budget.plan(_cfg(), FLOPS, PILOT, 60.0, 2)
    assert n % 5 == 0 and est <= 60  # batch 10: in steps of 5 images
    assert budget.estimate(_cfg(), FLOPS, PILOT, n + 5, 2) > 60  # half a batch more would not
    assert budget.plan(_cfg(), FLOPS, PILOT, 120.0, 2)[0] > n  # more time, more images


def test_a_budget_too_small_names_the_smallest_that_plans():
    with pytest.raises(ScalesearchError, match="the smallest budget that gives each a "
                       r"minimal training is (\d+)s") as err:
        budget.plan(_cfg(), FLOPS, PILOT, 5.0, 2)
    smallest = float(err.value.args[0].rsplit(" ", 1)[1].rstrip("s"))
    assert budget.plan(_cfg(), FLOPS, PILOT, smallest, 2)[0] >= 20  # ≥ 2 batches of 10
    with pytest.warns(UserWarning, match="even the smallest plan"):  # a slower machine
        assert budget.plan(_cfg(), FLOPS, PILOT, smallest - 1, 2) == (
            20, pytest.approx(smallest, abs=1))
    with pytest.raises(ScalesearchError, match="is too small"):
        budget.plan(_cfg(), FLOPS, PILOT, smallest / budget.OVERRUN - 1, 2)


def test_an_image_folder_caps_the_plan():
    """55 images in batches of 10: every one of them (five and a half batches), no more."""
    capped = budget.Pilot(**{**PILOT.__dict__, "train_images": 55})
    assert budget.plan(_cfg(), FLOPS, capped, 10_000.0, 2)[0] == 55
    capped = budget.Pilot(**{**PILOT.__dict__, "train_images": 58})  # to a half batch: 55
    assert budget.plan(_cfg(), FLOPS, capped, 10_000.0, 2)[0] == 55


def test_budget_and_num_train_are_one_choice():
    with pytest.raises(ScalesearchError, match="give one of them"):
        SearchConfig("efficientnet-b0", budget="4m", setup=ProxySetup(num_train=100))
    assert SearchConfig("efficientnet-b0", budget="4m").budget == 240
    assert "budget" not in SearchConfig("efficientnet-b0", budget="4m").to_dict()


def test_a_real_pilot_times_the_cheapest_and_the_dearest():
    from scalesearch.coefsearch.space import build_space
    from scalesearch.scaling.registry import resolve

    cfg = SearchConfig("efficientnet-b0", ranges=Ranges(beta=(1.0, 1.1), step=0.1),
                       match_flops=False, setup=ProxySetup(
                           proxy_size=24, num_val=32, train=TrainConfig(epochs=1,
                                                                        batch_size=8)))
    b0 = resolve(cfg.baseline)
    space = build_space(b0, cfg.ranges, cfg.tolerance, cfg.flops_tolerance, cfg.match_flops)
    pilot, flops = budget.run_pilot(b0, cfg, space)
    assert set(flops) == {c.key for c in space.candidates}
    assert pilot.flops == (min(flops.values()), max(flops.values()))
    assert all(t > 0 for t in (*pilot.train_s, *pilot.eval_s))
    assert pilot.val_images == 32 and pilot.train_images is None


def test_the_grid_and_the_pilot_are_paid_out_of_the_budget():
    free, _ = budget.plan(_cfg(), FLOPS, PILOT, 60.0, 2)
    paid, est = budget.plan(_cfg(), FLOPS, PILOT, 60.0, 2, spent=20.0)
    assert paid < free and est <= 60  # the estimate includes what was spent
    assert est == pytest.approx(20 + budget.estimate(_cfg(), FLOPS, PILOT, paid, 2))
    with pytest.warns(UserWarning, match="even the smallest plan"):
        assert budget.plan(_cfg(), FLOPS, PILOT, 60.0, 2, spent=59.0)[0] == 20
    with pytest.raises(ScalesearchError, match="is too small"):
        budget.plan(_cfg(), FLOPS, PILOT, 60.0, 2, spent=60.0 * budget.OVERRUN)


def test_the_plan_scores_generated_data_on_the_measured_validation_size():
    unset = SearchConfig("efficientnet-b0")  # the default ranks by the training loss
    assert budget.with_rules(unset).setup.num_val == budget.PLANNED_LOSS_VAL == 250
    top1 = SearchConfig("efficientnet-b0", setup=ProxySetup(metric="top1"))
    assert budget.with_rules(top1).setup.num_val == budget.PLANNED_SYNTHETIC_VAL == 2000
    assert budget.with_rules(_cfg()).setup.num_val == 100  # what the user gave stays
    photos = SearchConfig("efficientnet-b0", setup=ProxySetup(data="path/to/photos"))
    assert budget.with_rules(photos).setup.num_val is None  # the whole val split


def test_the_validation_size_changes_no_training():
    """Why a loss-ranked plan may score on fewer validation images: the same seed trains the
    same steps whatever the validation set's size (the ranked training losses are equal)."""
    from scalesearch.scaling.registry import resolve
    from scalesearch.scaling.scaler import Multipliers
    from scalesearch.training.proxy import build_trainer

    b0, losses = resolve("efficientnet-b0"), []
    for num_val in (16, 48):
        setup = ProxySetup(proxy_size=24, num_train=32, num_val=num_val,
                           train=TrainConfig(epochs=2, batch_size=8)).settled(search=True)
        trainer, _ = build_trainer(b0, Multipliers(1.0, 1.0, 1.0), setup, 3, None)
        while trainer.train_epoch() and not trainer.done:
            trainer.evaluate()  # an evaluation between epochs changes no step either
        losses.append(trainer.train_losses)
    assert len(losses[0]) == 2 and losses[0] == losses[1]


TINY_BUDGET = ["--baseline", "efficientnet-b0", "--beta-range", "1:1", "--grid-step", "0.1",
               "--no-match-flops", "--proxy-size", "24", "--epochs", "1", "--batch-size", "8",
               "--family-phi", "1", "--seeds", "1"]


def _refused(cli, out) -> float:
    """--budget 1s is refused in one line naming the smallest budget; that budget (s)."""
    code, _, err = cli("search", *TINY_BUDGET, "--budget", "1s", "--out", out)
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert "--budget 1s is too small" in line and "the smallest budget that gives" in line
    assert "Traceback" not in err and not (out / "search.json").exists()
    return parse_duration(line.rsplit(" ", 1)[1])


def test_a_budget_too_small_is_refused_in_one_line_before_anything_is_written(cli, tmp_path):
    assert _refused(cli, tmp_path / "s") > 10  # Ray's start alone is estimated at 10 s


@pytest.mark.slow
def test_a_budgeted_search_plans_prints_and_keeps_its_plan_on_resume(cli, tmp_path,
                                                                    monkeypatch):
    import json

    from scalesearch.coefsearch.trials import TrialStore

    monkeypatch.setattr(budget, "KEPT", -1.0)  # any pace is "behind": the line is said, once
    out = tmp_path / "s"
    given = _refused(cli, out) + 10  # a few batches more than the minimal training
    code, stdout, err = cli("search", *TINY_BUDGET, "--budget", f"{given:.0f}s", "--format",
                            "json", "--out", out)
    assert code == 0, err
    summary = json.loads(stdout)
    plan = summary["plan"]
    assert "plan: 2 candidates × 1 seeds × 1 epochs of" in err and "(grid and pilot" in err
    # ranked by the training loss (the default): the validation images score only the kept top-1
    assert f"of {plan['num_train']} images (batch 8, {budget.PLANNED_LOSS_VAL} val)" in err
    assert plan["num_train"] % 4 == 0 and plan["num_train"] >= 16  # half batches of 8
    assert plan["estimated_s"] <= given and plan["actual_s"] == summary["seconds"] > 0
    assert f"budget {format_duration(given)}: planned" in err and ", took " in err
    assert err.count("over the budget") == 1 and plan["projected_s"] > 0
    saved = json.loads((out / "search.json").read_text())["config"]["setup"]
    assert (saved["num_train"], saved["num_val"]) == (plan["num_train"], 250)
    rows = TrialStore(out / "trials.csv").rows
    assert {r["images"] for r in rows} == {plan["num_train"]}  # what was planned was trained
    code, _, err = cli("search", *TINY_BUDGET, "--budget", f"{given:.0f}s", "--out", out,
                       "--resume")
    assert code == 0, err
    assert "timing a pilot" not in err  # the stored plan, no second pilot


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _paced(trial_s: float, total: int = 12) -> tuple[list[str], budget.Pace]:
    """A 180-s budget planned at 170 s: 20 s before the trials, then ``trial_s`` per trial."""
    clock, lines = _Clock(), []
    pace = budget.Pace(180.0, 170.0, start=0.0, clock=clock)
    clock.now = 20.0
    pace.trials_begin()
    for done in range(1, total + 1):
        clock.now += trial_s
        pace.finished(done, total, lines.append)
    return lines, pace


def test_a_search_on_its_plan_says_nothing():
    lines, pace = _paced(12.5)  # 20 + 12 × 12.5 = 170 s
    assert lines == [] and pace.projected_s is None


def test_a_search_behind_its_plan_says_once_by_how_much():
    lines, pace = _paced(25.0)  # 20 + 12 × 25 = 320 s: judged after 4 trials (a third)
    assert len(lines) == 1, lines
    assert pace.projected_s == pytest.approx(320.0)
    line = lines[0]
    assert line.startswith("budget 3m00s: 4 of 12 trials took 1m40s")
    assert "about 5m20s (planned 2m50s), 2m20s (78%) over the budget" in line
    assert "Every candidate still trains on the planned images" in line


def test_the_pace_is_judged_only_after_a_third_of_the_trials():
    clock, lines = _Clock(), []
    pace = budget.Pace(180.0, 170.0, start=0.0, clock=clock)
    pace.trials_begin()
    clock.now = 100.0  # the first trial alone is slow: its start-up, a shared core
    pace.finished(1, 12, lines.append)
    assert lines == []
