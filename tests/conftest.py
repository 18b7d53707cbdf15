"""Shared fixtures: the CLI run in-process, and the real-photo data root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
