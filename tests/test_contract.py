"""The training-function contract (issue 37): the built-in proxy training is one function
behind it, and a user's function is checked as it reports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TIMING = ["seconds", "images_per_sec"]
ACCEPT = ["--baseline", "efficientnet-b0", "--beta-range", "1:1", "--grid-step", "0.1",
          "--no-match-flops", "--proxy-size", "32", "--num-train", "48", "--num-val", "220",
          "--batch-size", "16", "--family-phi", "1", "--seeds", "2"]
PLANS = {"sha": ["--epochs", "3", "--scheduler", "sha", "--min-epochs", "1",
                 "--reduction-factor", "2"],
         "curves": ["--epochs", "2", "--curves"]}


def _rows(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path).drop(columns=TIMING)
    return df.sort_values(["alpha", "beta", "gamma", "seed"]).reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.parametrize("plan", sorted(PLANS))
def test_the_builtin_training_behind_the_contract_changes_no_result(cli, tmp_path, plan):
    """trials.csv of a fixed plan (no --budget) is the one the code before the contract wrote,
    apart from its timing columns. The fixtures ``before_contract_*.trials.csv`` are that old
    code's output (commit 6e351db, generated before anything changed, with these flags):
    ``sha`` covers lockstep seeds, rung checkpoints restored by survivors and the val-subset
    evaluation of the rungs; ``curves`` the subset evaluation of every epoch (220 val
    images > EVAL_IMAGES, so a subset is a subset)."""
    out = tmp_path / plan
    code, _, err = cli("search", *ACCEPT, *PLANS[plan], "--out", out)
    assert code == 0, err
    pd.testing.assert_frame_equal(_rows(out / "trials.csv"),
                                  _rows(FIXTURES / f"before_contract_{plan}.trials.csv"))
