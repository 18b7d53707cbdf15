"""Search paths that need Ray end to end (slow): every trial failing before its first epoch,
and the TPE sampler with rejected samples, its budget, and a warm start on resume."""

from __future__ import annotations

import json

import pytest
from readme_fixtures import make_fixtures

from scalesearch.coefsearch import runner
from scalesearch.coefsearch.trials import TrialStore

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

TINY = ["--beta-range", "1:1", "--grid-step", "0.1", "--no-match-flops", "--proxy-size", "16",
        "--num-train", "16", "--num-val", "8", "--epochs", "1", "--seeds", "1",
        "--batch-size", "8"]


def test_every_trial_failing_in_the_model_factory_ends_with_the_failures_table(cli, tmp_path):
    make_fixtures(tmp_path)  # failing.py: training builds raise; badfiles: 2 files skipped
    out = tmp_path / "s"
    code, stdout, err = cli("search", "--baseline", f"{tmp_path / 'failing.py'}:NET", *TINY,
                            "--data", tmp_path / "badfiles", "--out", out)
    assert code == 1 and "Traceback" not in err
    assert "failed trainings:" in stdout and stdout.count("RuntimeError: the model factory "
                                                          "failed") == 2  # both candidates
    assert err.strip().splitlines()[-1] == ("no candidate trained successfully (RuntimeError: "
                                            "the model factory failed); no best.json written")
    assert "warning: 2 file(s) skipped in train (1 unreadable, 1 not images; e.g. a/bad.jpg, "\
        "a/notes.txt)" in err.splitlines()
    assert not (out / "best.json").exists()
    assert json.loads((out / "search.json").read_text())["skipped_files"] == {"train": 2,
                                                                              "val": 0}
    assert {r["status"] for r in TrialStore(out / "trials.csv").rows} == {"failed"}


# The report stops the family at φ = 1: the TPE winner is often α ≈ 1.9 (B0's ceil-rounded
# depth keeps such candidates near 2× FLOPs), an 89×-deep B0 at φ = 7 whose counting alone
# took over 10 minutes.
TPE = ["--baseline", "efficientnet-b0", "--sampler", "tpe", "--trials", "2", "--no-match-flops",
       "--flops-tolerance", "0.03", "--family-phi", "1", *TINY[4:]]


@pytest.mark.timeout(900)  # two TPE searches with rejected samples
def test_tpe_rejects_samples_spends_its_budget_and_warm_starts_on_resume(cli, tmp_path,
                                                                         monkeypatch):
    # At ± 0.03 about one draw in eight is accepted, so the 10 draws a trained candidate may
    # spend run out about once in four resumes ("search incomplete", a user resumes again);
    # the allowance is not what this test checks, so it is widened to keep the test certain.
    monkeypatch.setattr(runner, "MAX_REJECTIONS", 50)
    out = tmp_path / "tpe"
    code, _, err = cli("search", *TPE, "--out", out)
    assert code == 0, err
    rows = TrialStore(out / "trials.csv").rows
    trained = [r for r in rows if r["status"] != "rejected"]
    rejected = [r for r in rows if r["status"] == "rejected"]
    assert len(trained) == 2 and all(r["status"] == "ok" for r in trained)  # the budget
    assert rejected and all(abs(r["flops_ratio"] - 2) > 0.03 and "outside 2 ± 0.03"
                            in r["error"] for r in rejected)  # rejections cost no budget
    # as if killed after the first trained candidate: keep it and up to three rows before it
    # (fewer than TPE's 10 seeded start draws, which a resume must not draw again), resume
    first = rows.index(trained[0])
    kept = rows[:min(first, 3)] + [trained[0]]
    (out / "trials.csv").unlink()
    TrialStore(out / "trials.csv").append(kept)
    seen = []
    make = runner._search_alg

    def spy(cfg, pending, store):
        alg = make(cfg, pending, store)
        seen.append((alg._points_to_evaluate, alg._evaluated_rewards, alg))
        return alg

    monkeypatch.setattr(runner, "_search_alg", spy)
    code, _, err = cli("search", *TPE, "--out", out, "--resume")
    assert code == 0, err
    (points, rewards, alg), = seen  # TPE starts from what the first run stored, with scores
    stored = {(round(r["alpha"], 6), r["top1"] or 0.0) for r in kept}
    assert {(round(p["alpha"], 6), s) for p, s in zip(points, rewards, strict=True)} <= stored
    assert len(points) == len(kept)  # every stored candidate, rejected ones scored 0
    drawn = [round(t.params["alpha"], 4) for t in alg._ot_study.trials[len(points):]]
    assert drawn and not set(drawn) & {r["alpha"] for r in kept}  # none drawn again
    after = TrialStore(out / "trials.csv").rows
    assert after[:len(kept)] == kept
    assert len([r for r in after if r["status"] != "rejected"]) == 2  # budget, not 3
