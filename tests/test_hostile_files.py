"""Files that lie (issue 34): a data file that is not the image its name says, names that
would forge a line or reach the terminal raw."""

from __future__ import annotations

import os
import re
import warnings

import pytest
from PIL import EpsImagePlugin, Image
from readme_fixtures import TABLE3

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


def _table3_run(folder):
    """The smallest run folder report.html reads: a Table 3 count."""
    folder.mkdir(parents=True)
    (folder / "table3.csv").write_text(TABLE3)
    return folder


def _png(path, colour="red") -> bytes:
    Image.new("RGB", (4, 4), colour).save(path)
    return path.read_bytes()


def _embedded(page: str) -> list[bytes]:
    import base64

    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]*)"', page)]


def test_report_embeds_only_regular_png_files_inside_the_folder(tmp_path, monkeypatch):
    from scalesearch.report import images
    from scalesearch.report.page import write_report

    run = _table3_run(tmp_path / "run")
    secret = tmp_path / "id_ed25519"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    outside = tmp_path / "elsewhere.png"
    _png(outside, "blue")
    (run / "table3.png").symlink_to(secret)  # a link named as the page's own plot
    (run / "link.png").symlink_to(outside)  # a real PNG, but not the folder's
    (run / "notes.png").write_text("not a png")
    (run / "huge.png").write_bytes(images.PNG_SIGNATURE + bytes(4096))
    (run / "folder.png").mkdir()
    os.mkfifo(run / "pipe.png")
    kept = _png(run / "plot.png")
    monkeypatch.setattr(images, "PNG_CAP", 2048)
    with pytest.warns(UserWarning) as caught:
        page = write_report(run).read_text()
    assert _embedded(page) == [kept]
    assert "secret" not in page and "OPENSSH" not in page
    said = sorted(str(w.message) for w in caught)
    assert said == [f"left out of report.html: {run / name} {why}" for name, why in (
        ("folder.png", "is not a regular file"), ("huge.png", "is over 2,048 bytes"),
        ("link.png", "is a symbolic link"), ("notes.png", "is not a PNG image"),
        ("pipe.png", "is not a regular file"), ("table3.png", "is a symbolic link"))]


def test_report_links_are_relative_urls_whatever_the_folder_names(tmp_path):
    from scalesearch.report.page import write_report

    run = _table3_run(tmp_path / "run")
    _table3_run(run / "javascript:alert(document.cookie)")
    _table3_run(run / 'a"b <c> #d?e')
    page = write_report(run).read_text()
    hrefs = sorted(re.findall(r'<a href="([^"#][^"]*)"', page))
    assert hrefs == ["./a%22b%20%3Cc%3E%20%23d%3Fe/report.html",
                     "./javascript%3Aalert%28document.cookie%29/report.html"]
    assert 'href="javascript' not in page


FORGED = "b\nscalesearch compare: error: forged"  # a class folder's name
ESCAPE = "\x1b[2J\x1b[31mred.jpg"  # a file name that clears the terminal


def test_a_class_folder_name_cannot_forge_a_second_error_line(cli, tmp_path):
    data = tmp_path / "data"
    _tree(data, ("a",))
    for split in ("train", "val"):
        (data / split / FORGED).mkdir()
    code, out, err = cli("compare", "--baseline", "resnet50", "--data", data,
                         "--out", tmp_path / "out")
    assert code == 2 and err.count("\n") == 1 and "forged" in err, err
    assert err.endswith("class folders without images: 'train/b\\nscalesearch compare: "
                        "error: forged', 'val/b\\nscalesearch compare: error: forged'\n")


def test_file_names_reach_warnings_quoted(tmp_path):
    from scalesearch.data.scan import report_data
    from scalesearch.settings.recipe import ProxySetup

    data = tmp_path / "data"
    _tree(data)
    (data / "train" / "a" / ESCAPE).write_text("not an image")
    (data / "train" / "a" / "sub").mkdir()
    _png(data / "train" / "a" / "sub" / ESCAPE.replace(".jpg", ".png"))
    lines = []
    report_data(ProxySetup(data=str(data)), lines.append)
    assert len(lines) == 2 and not any("\x1b" in line or "\n" in line for line in lines)
    assert lines[1].endswith("(1 unreadable, 0 not images; e.g. 'a/\\x1b[2J\\x1b[31mred.jpg')")
    with pytest.warns(UserWarning) as caught:
        decode(data / "train" / "a" / ESCAPE, 8)
    assert "\x1b" not in str(caught[0].message) and "\\x1b[2J" in str(caught[0].message)


@pytest.mark.parametrize("kind", ["error", "warning"])
def test_the_cli_prints_any_error_or_warning_on_one_line(cli, monkeypatch, kind):
    import warnings as w

    from scalesearch.cli import report
    from scalesearch.errors import ScalesearchError

    def run(args):
        if kind == "warning":
            w.warn("a\nscalesearch: error: forged \x1b[2J", UserWarning, stacklevel=1)
            return 0
        raise ScalesearchError("a\nscalesearch report: error: forged \x1b[2J")

    monkeypatch.setattr(report, "run", run)
    code, out, err = cli("report", "anything")
    assert err.count("\n") == 1 and "\x1b" not in err, err
    assert err.rstrip().endswith("forged \\x1b[2J") and "a\\nscalesearch" in err
