"""`pulse demo` end to end: own broker, worker, feed, metrics; nothing left running after."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from streams.broker import free_port
from tests.integration.harness import ROOT


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def consumed(text: str) -> float:
    match = re.search(
        r"^pulse_records_consumed_total\{topic=\"clicks\"\} ([0-9.e+]+)$", text, re.MULTILINE
    )
    return float(match.group(1)) if match else 0.0


def test_demo_runs_everything_and_leaves_nothing_behind(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "streams.cli.main", "demo", "--users", "150"]
    # No --no-live: stdout is a pipe here, so the demo itself must switch to plain lines.
    command += ["--days", "20", "--duration", "30", "--workdir", str(tmp_path)]
    command += ["--metrics-port", str(port)]
    demo = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    best = 0.0
    deadline = time.monotonic() + 60
    while demo.poll() is None and time.monotonic() < deadline:
        best = max(best, consumed(scrape(port)))
        time.sleep(1)
    output = demo.communicate(timeout=90)[0].decode()
    assert demo.returncode == 0, output
    assert best > 0, "the worker's metrics endpoint counted consumed records"
    fed = re.findall(r"fed ([0-9,]+) .*out ([0-9,]+)", output)
    assert fed and int(fed[-1][1].replace(",", "")) > 0, output
    assert "stopped; nothing left running" in output
    worker_pid = int(re.search(r"worker pid (\d+)", output).group(1))  # type: ignore[union-attr]
    broker_port = int(re.search(r"127\.0\.0\.1:(\d+)", output).group(1))  # type: ignore[union-attr]
    assert (
        not Path(f"/proc/{worker_pid}").exists()
        or "zombie" in Path(f"/proc/{worker_pid}/status").read_text().lower()
    )
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", broker_port)) != 0, "the broker was stopped"
    assert scrape(port) == "", "the metrics endpoint went away with the worker"
