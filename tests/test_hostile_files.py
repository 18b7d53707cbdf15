"""Files that lie (issue 34): a data file that is not the image its name says, names that
would forge a line or reach the terminal raw."""

from __future__ import annotations

import os
import warnings

import pytest
from PIL import EpsImagePlugin, Image

from scalesearch.data.imagefolder import decode
from scalesearch.data.scan import scan_folder

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n%%EOF\n"


def _tree(root, classes=("a", "b")) -> None:
    for split in ("train", "val"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (12, 12), (60 * i, 90, 30)).save(root / split / c / f"{i}.png")


@pytest.fixture
def fake_gs(tmp_path, monkeypatch):
    """A ``gs`` first on PATH that leaves a marker file when run (PIL finds it afresh)."""
    bin_dir, marker = tmp_path / "bin", tmp_path / "gs-ran"
    bin_dir.mkdir()
    (bin_dir / "gs").write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    (bin_dir / "gs").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)
    return marker


def test_an_eps_named_jpg_is_unreadable_and_never_runs_ghostscript(tmp_path, fake_gs,
                                                                     monkeypatch):
    data = tmp_path / "data"
    _tree(data)
    (data / "train" / "a" / "x.jpg").write_bytes(EPS)
    opened = []
    monkeypatch.setitem(Image.OPEN, "EPS", (lambda *a: opened.append(a) or
                                            EpsImagePlugin.EpsImageFile(*a),
                                            Image.OPEN["EPS"][1]))
    train, _ = scan_folder(str(data))
    assert train.unreadable == ("a/x.jpg",)
    assert opened == [] and not fake_gs.exists()
    with pytest.warns(UserWarning, match="skipping unreadable image .*x.jpg"):
        assert decode(data / "train" / "a" / "x.jpg", 8) is None


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_only_jpeg_and_png_decode_whatever_the_extension(tmp_path, fmt):
    Image.new("RGB", (12, 12), "red").save(tmp_path / "x.png", format=fmt)
    Image.new("RGB", (12, 12), "red").save(tmp_path / "y.png", format="JPEG")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert decode(tmp_path / "x.png", 8) is None
    assert decode(tmp_path / "y.png", 8).shape == (3, 8, 8)  # a JPEG named .png still reads
