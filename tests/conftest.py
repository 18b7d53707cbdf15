"""Shared fixtures: the CLI run in-process, the real-photo data root, and one local Ray
runtime per test process."""

from __future__ import annotations

import os
from pathlib import Path

# The seeded trainings' committed expectations (tests/fixtures/before_contract_*.trials.csv)
# were computed with AVX2 kernels. AVX-512 kernels (oneDNN's convolutions, ATen's vectorised
# ops) sum in another order, and a seeded training diverges from the first rounding: on an
# AVX-512 machine (2026-12-07) top-1 differed by up to 6 points and sha cut other candidates.
# Every test process, its subprocesses and Ray workers inherit this cap before torch loads, so
# the suite computes the same numbers on every x86-64 machine (a no-op on an AVX2 one).
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# No per-example deadline: the machines are shared and noisy, and a property test checks
# values, not speed (speed is the benchmarks'); a 200 ms deadline failed under load.
settings.register_profile("shared-machines", deadline=None)
settings.load_profile("shared-machines")

ROOT = Path(__file__).resolve().parents[1]


# a compare study of two trainings (MobileNetV2 and its depth-scaled ×2), seconds each
TINY_STUDY = ("kind: compare\nbaseline: mobilenet-v2\nflops_ratios: [2]\nstrategies: [depth]\n"
              "epochs: 1\nproxy_size: 32\nnum_train: 32\nnum_val: 16\nbatch_size: 16\n"
              "max_concurrent: 2\n")


_shared_ray = {"started": False}


def _shut_shared_ray() -> None:
    if _shared_ray["started"]:
        import ray

        ray.shutdown()
        _shared_ray["started"] = False


@pytest.fixture(autouse=True)
def shared_ray(request, monkeypatch):
    """A local search, compare or study run in-process (``connect(None)``) reuses one Ray
    runtime kept for the whole test process, instead of starting and stopping its own (about
    5 s each on the 2-core machine). An explicit address shuts it down first, so a join is
    real; a test that starts Ray itself (``ray.init``, fake GPUs) or needs a fresh runtime is
    marked ``own_ray``. Subprocess runs start their own, as a user's would."""
    if request.node.get_closest_marker("own_ray"):
        _shut_shared_ray()
        yield
        return
    from scalesearch.training import cluster

    original = cluster.connect

    def connect(address):
        import ray

        if address is not None:
            _shut_shared_ray()
            return original(address)
        if not ray.is_initialized():
            original(None)
            _shared_ray["started"] = True
        return ray, False  # not the caller's to shut down: the next test reuses it

    monkeypatch.setattr(cluster, "connect", connect)
    yield


@pytest.fixture(scope="session")
def _session_grid_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("grid-cache-shared")


@pytest.fixture(autouse=True)
def _shared_grid_cache(_session_grid_cache, monkeypatch):
    """One grid cache for the test session (per worker), never the user's: a grid the suite
    searches again is read, not counted again. Its key holds everything the counts depend on
    (:mod:`scalesearch.coefsearch.gridcache`), so sharing it changes no result — only the
    suite's time (the same grids were counted in test after test)."""
    monkeypatch.setenv("SCALESEARCH_GRID_CACHE", str(_session_grid_cache))


@pytest.fixture
def grid_cache(tmp_path_factory, monkeypatch):
    """A test's own, empty grid cache: for the tests of the cache itself."""
    folder = tmp_path_factory.mktemp("grid-cache")
    monkeypatch.setenv("SCALESEARCH_GRID_CACHE", str(folder))
    return folder


def pytest_sessionfinish(session, exitstatus):
    _shut_shared_ray()


def data_root() -> Path:
    """../shared/data relative to the project root, or $SCALESEARCH_DATA_DIR."""
    return Path(os.environ.get("SCALESEARCH_DATA_DIR", ROOT.parent / "shared" / "data"))


@pytest.fixture
def real_dataset():
    """Return a function NAME -> path that skips the test when the photos are absent."""

    def get(name: str) -> Path:
        path = data_root() / name
        if not (path / "train").is_dir():
            pytest.skip(f"real photos not found at {path} (set SCALESEARCH_DATA_DIR)")
        return path

    return get


@pytest.fixture
def losses_seen(monkeypatch):
    """Every loss the trainer computes, in order, read by a spy on the loss function
    (``F.cross_entropy``), not by the trainer's own bookkeeping."""
    import torch.nn.functional as F

    real, seen = F.cross_entropy, []

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append(float(out))
        return out

    monkeypatch.setattr(F, "cross_entropy", spy)
    return seen


@pytest.fixture
def cli(capsys):
    """Run ``scalesearch ARGS…`` in-process; returns (exit code, stdout, stderr)."""
    from scalesearch.cli.main import main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def kill_when(args: list[str], ready, timeout: float = 600) -> None:
    """Start ``args`` in its own process group, SIGKILL the group once ``ready()`` is true;
    fails if the run ends first (the kill must land mid-run to test a resume)."""
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
