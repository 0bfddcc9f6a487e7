"""`pulse report html`: a real replay drawn as one offline page, opened in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from streams.cli.main import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A retail-shaped log (churn needs a year), replayed, then drawn."""
    folder = tmp_path_factory.mktemp("report")
    log = folder / "shop.jsonl.gz"
    simulate = ["simulate", "--profile", "retail", "--users", "300", "--days", "400"]
    simulate += ["--seed", "5", "--start", "2010-01-01T00:00:00Z", "--out", str(log), "--quiet"]
    assert main(simulate) == 0
    out = folder / "out"
    assert main(["replay", str(log), "--out", str(out), "--send-expired", "--quiet"]) == 0
    assert main(["report", "html", str(out)]) == 0
    return out / "report.html"


def test_the_page_is_self_contained_and_has_every_chart(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://', "")
    for title in (
        "Uplift in conversion rate",
        "outcomes",
        "Calibration: observed churn rate",
        "Churn: AUC, mean score",
        "lifecycle: users per segment",
        "lifecycle moves",
    ):
        assert title in page, title
    assert page.count("<svg") >= 6 and "<polyline" in page and "<circle" in page


def test_a_folder_without_a_replay_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "html", str(tmp_path)]) == 2
    assert "no summary.json" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs it)")
def test_headless_chromium_renders_the_charts_with_no_console_error(
    report: Path, tmp_path: Path
) -> None:
    assert CHROMIUM is not None

    def shoot(page: Path, png: Path) -> subprocess.CompletedProcess[str]:
        flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
        flags += ["--enable-logging=stderr", "--v=0", "--window-size=800,2600"]
        return subprocess.run(
            [CHROMIUM, *flags, f"--screenshot={png}", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    blank = tmp_path / "blank.html"
    blank.write_text("<!doctype html><html><body></body></html>")
    shot, empty = tmp_path / "report.png", tmp_path / "blank.png"
    done = shoot(report, shot)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    assert shoot(blank, empty).returncode == 0
    # Drawn: the screenshot holds far more than a blank page of the same size.
    assert shot.stat().st_size > 5 * empty.stat().st_size, (shot.stat(), empty.stat())
    console = [line for line in done.stderr.splitlines() if re.search(r"CONSOLE|Uncaught", line)]
    assert not console, console
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    assert dom.count("<svg") >= 6  # the browser parsed every chart
