"""The candidate grid is counted once and kept (issue 36 §6, coefsearch/gridcache.py): a second
search with the same settings reads it, other settings count again, a damaged cache
file is counted again (never an error), and ``SCALESEARCH_GRID_CACHE=off`` keeps nothing."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from scalesearch.coefsearch import gridcache
from scalesearch.coefsearch.space import build_space
from scalesearch.scaling.registry import resolve
from scalesearch.settings.search import Ranges

# a small corner of B0's grid around the paper's (1.2, 1.1, 1.15): a few seconds to count
RANGES = Ranges(alpha=(1.1, 1.3), beta=(1.05, 1.15), gamma=(1.1, 1.2), step=0.05)
ARGS = (RANGES, 0.05, 0.25, True)


@pytest.fixture
def counted(monkeypatch):
    """The grids :func:`build_space` counted (a hit counts none)."""
    calls: list[tuple] = []

    def counting(*args):
        calls.append(args)
        return build_space(*args)

    monkeypatch.setattr(gridcache, "build_space", counting)
    return calls


def _space(lines=None, baseline="efficientnet-b0", args=ARGS):
    return gridcache.cached_space(resolve(baseline), *args,
                                  log=(lines.append if lines is not None else lambda _: None))


def _files(folder):
    return sorted(p for p in folder.iterdir() if p.name.startswith("grid-"))


def test_a_second_grid_is_read_and_equals_a_fresh_count(grid_cache, counted):
    lines: list[str] = []
    first = _space(lines)
    assert len(counted) == 1 and first.candidates
    (path,) = _files(grid_cache)
    second = _space(lines)
    assert len(counted) == 1, "the second grid was counted again"
    assert "from the cache" in lines[-1] and str(path) in lines[-1]
    fresh = build_space(resolve("efficientnet-b0"), *ARGS)
    assert second == fresh  # every candidate, ratio, matched size and alias, and the counts
    assert second.summary() == fresh.summary()


@pytest.mark.parametrize("change", [
    dict(args=(replace(RANGES, gamma=(1.1, 1.25)), 0.05, 0.25, True)),
    dict(args=(RANGES, 0.04, 0.25, True)),
    dict(args=(RANGES, 0.05, 0.25, False)),
    dict(baseline="mobilenet-v2"),
])
def test_other_settings_or_another_baseline_count_again(grid_cache, counted, change):
    _space()
    _space(**change)
    assert len(counted) == 2
    assert len(_files(grid_cache)) == 2
    _space(**change)
    assert len(counted) == 2  # and is kept in its own file


@pytest.mark.parametrize("damage", [
    lambda p: p.write_text('{"format": 1, "key": "'),  # cut short
    lambda p: p.write_bytes(b"\x80\x81 not utf-8"),
    lambda p: p.write_text(json.dumps(dict(json.loads(p.read_text()), value={"total": 1}))),
    lambda p: p.write_text(json.dumps(dict(json.loads(p.read_text()), key="another"))),
    lambda p: p.write_text(json.dumps(dict(json.loads(p.read_text()), format=99))),
    lambda p: (p.unlink(), p.mkdir()),  # a folder where the file was
    lambda p: (p.unlink(), os.symlink("/dev/zero", p)),
])
def test_a_damaged_cache_file_is_counted_again(grid_cache, counted, damage):
    good = _space()
    (path,) = _files(grid_cache)
    damage(path)
    lines: list[str] = []
    assert _space(lines) == good
    assert len(counted) == 2
    assert any("is not usable" in line and "counting again" in line for line in lines)
    if path.is_file() and not path.is_symlink():  # replaced by a good one: read next time
        _space()
        assert len(counted) == 2


def test_off_keeps_nothing_and_counts_every_time(tmp_path, counted, monkeypatch):
    monkeypatch.setenv(gridcache.CACHE_ENV, "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert gridcache.cache_dir() is None
    lines: list[str] = []
    _space(lines), _space(lines)
    assert len(counted) == 2 and list(tmp_path.iterdir()) == []
    assert "turns the grid cache off" in lines[0]


def test_the_default_folder_is_the_users_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(gridcache.CACHE_ENV)
    monkeypatch.delenv("SCALESEARCH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert gridcache.cache_dir() == tmp_path / "scalesearch" / "grids"
    monkeypatch.setenv("SCALESEARCH_CACHE", str(tmp_path / "moved"))  # as decoded images move
    assert gridcache.cache_dir() == tmp_path / "moved" / "scalesearch" / "grids"
    monkeypatch.setenv(gridcache.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert gridcache.cache_dir() == tmp_path / "elsewhere"


def test_a_cache_that_cannot_be_written_is_skipped(tmp_path, counted, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(gridcache.CACHE_ENV, str(blocker / "cache"))  # its folder is a file
    lines: list[str] = []
    assert _space(lines).candidates
    assert any(line.startswith("not cached:") for line in lines)


def test_a_familys_members_are_counted_once_and_equal_a_fresh_count(grid_cache, monkeypatch):
    """The family (family.family) is the same for the same coefficients: the paper's in every
    search, the found one whenever it wins again; a hit replays where a family stopped."""
    from scalesearch.coefsearch import family as fam

    counted: list[str] = []
    inner = fam._members

    def members(baseline, source, *args):
        counted.append(source)
        return inner(baseline, source, *args)

    monkeypatch.setattr(fam, "_members", members)
    b0 = resolve("efficientnet-b0")
    first = fam.family(b0, (1.25, 1.05, 1.15), phis=(1, 2, 3))
    assert counted == ["found", "paper"]
    assert fam.family(b0, (1.25, 1.05, 1.15), phis=(1, 2, 3)) == first
    assert counted == ["found", "paper"]  # both read back
    fam.family(b0, (1.3, 1.1, 1.1), phis=(1, 2, 3))
    assert counted == ["found", "paper", "found"]  # another winner: the paper's is kept
    monkeypatch.setenv(gridcache.CACHE_ENV, "off")
    assert fam.family(b0, (1.25, 1.05, 1.15), phis=(1, 2, 3)) == first
    monkeypatch.setenv(gridcache.CACHE_ENV, str(grid_cache))
    r50 = resolve("resnet50")
    for _ in range(2):  # counted, then read: both say where the found family stops
        with pytest.warns(UserWarning, match="family \\(found\\) stops before φ=10"):
            rows = fam.family(r50, (2.0, 1.0, 1.0), phis=(1, 10))
        assert [(r["source"], r["phi"]) for r in rows] == [("found", 1), ("paper", 1),
                                                            ("paper", 10)]


def test_the_official_presets_are_counted_once_and_equal_a_fresh_count(grid_cache,
                                                                       monkeypatch):
    """family.png's B1–B7 markers (gridcache.official_presets) are counted for the first search
    of a baseline and read back after; a baseline without presets draws none."""
    built: list[str] = []
    inner = gridcache.scale

    def counting_scale(baseline, **kw):
        built.append(kw.get("preset"))
        return inner(baseline, **kw)

    monkeypatch.setattr(gridcache, "scale", counting_scale)
    b0 = resolve("efficientnet-b0")
    first = gridcache.official_presets(b0)
    assert sorted(built) == [f"b{i}" for i in range(1, 8)]
    assert gridcache.official_presets(b0) == first and len(built) == 7  # read back
    b3 = inner(b0, preset="b3")
    assert first[2] == dict(phi=3, flops=b3.counts.flops, params=b3.counts.params)
    assert gridcache.official_presets(resolve("resnet50")) == []
