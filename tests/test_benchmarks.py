"""Every benchmark (but bench_asha.py) runs in its ``--quick`` mode, so none rots unnoticed;
each prints the check that its full run reports (counts equal to fvcore, same metrics)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # each > 20 s on 2 busy cores


def _quick(name: str) -> str:
    done = subprocess.run([sys.executable, str(BENCH / name), "--quick"], capture_output=True,
                          text=True, timeout=540)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return done.stdout


def test_bench_count_quick():
    out = _quick("bench_count.py")
    rows = [line for line in out.splitlines() if line.startswith(("B0", "ResNet-50"))]
    assert len(rows) == 2 and all(r.endswith("True") for r in rows), out  # equal to fvcore
    assert "beyond import torch" in out


def test_bench_train_quick():
    out = _quick("bench_train.py")
    assert out.startswith("machine:") and "(a)" in out and "(b)" in out, out


def test_bench_search_quick():
    out = _quick("bench_search.py")
    assert "same metrics: True" in out and "of peak" in out, out


def test_bench_compare_quick():
    out = _quick("bench_compare.py")
    assert "ratio Ray / process pool:" in out and "same top-1 for every network × seed: True" \
        in out, out


def test_bench_signal_quick():
    out = _quick("bench_signal.py")
    rows = [line for line in out.splitlines() if line.startswith(("base ", "val2000 "))]
    assert len(rows) == 2 and all("4×2" in r for r in rows), out  # 4 candidates × 2 seeds
    assert "chance 12.5%" in out, out


def test_bench_calibration_quick():
    out = _quick("bench_calibration.py")
    rows = [line for line in out.splitlines() if line.startswith("| reference | bimodal |")]
    assert len(rows) == 3 and all("| 2 | 0.02 | 40 |" in r for r in rows), out  # 3 methods
    assert "pooled model, 2 seeds, p_best ≥ 0.02: calibrated (≥ 90% in every setting): False" \
        in out, out


def test_bench_overhead_quick():
    out = _quick("bench_overhead.py")
    assert "README main job (" in out and "training (trials.csv seconds / slots)" in out, out
    assert all(f"  {phase:<12}" in out for phase in ("grid", "ray start", "tune", "outputs",
                                                      "report.html")), out
