"""report.html in a real browser (issue 24 §1): headless Chromium (Debian's, which .ci/run
installs) opens a search's report; nothing may fail to load or go to the network, every image
must decode, and the tied set must be in the ranking. The full-page screenshot is kept in
$SCALESEARCH_ARTIFACTS (else the test's tmp_path)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from scalesearch.report.page import write_report

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SEARCH = Path(__file__).resolve().parents[1] / "studies" / "results" / \
    "search_mobilenetv2_flowers_sha"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,900")


@pytest.fixture
def browser():
    for path in (CHROMIUM, DRIVER):
        if not path.exists():
            pytest.skip(f"no {path} (.ci/run installs Debian's chromium and chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                    "(pip install -e '.[dev]')")
    profile = tempfile.mkdtemp(prefix="scalesearch-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(options=options, service=Service(str(DRIVER)))
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.timeout(180)
def test_the_report_in_headless_chromium(browser, tmp_path):
    folder = tmp_path / "flowers_sha"
    shutil.copytree(SEARCH, folder)
    report = write_report(folder)
    browser.get_log("performance")  # drain the browser's own start-up (its new-tab page)
    browser.get(report.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"

    events = [json.loads(e["message"])["message"] for e in browser.get_log("performance")]
    ours = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in events
            if e["method"] == "Network.requestWillBeSent"
            and e["params"].get("documentURL") == report.as_uri()}
    failed = [e["params"] for e in events if e["method"] == "Network.loadingFailed"
              and e["params"]["requestId"] in ours]
    assert failed == []
    assert [u for u in ours.values() if not u.startswith("data:")] == [report.as_uri()]
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert [r for r in resources if not r.startswith("data:")] == []
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []

    widths = browser.execute_script(
        "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) >= 3 and min(widths) > 0, widths

    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('#ranking tbody tr'))"
        ".map(r => Array.from(r.cells).slice(0, 3).map(c => parseFloat(c.textContent)))")
    tied = json.loads((folder / "best.json").read_text())["tied"]
    assert tied and all([t["alpha"], t["beta"], t["gamma"]] in rows for t in tied)
    assert browser.find_element("css selector", "#answer h2").is_displayed()

    artefacts = Path(os.environ.get("SCALESEARCH_ARTIFACTS") or tmp_path)
    artefacts.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, height)
    shot = artefacts / "report_search_mobilenetv2_flowers_sha.png"
    assert browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
