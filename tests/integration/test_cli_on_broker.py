"""The commands a user types against a broker: replay --broker, then tail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.harness import ROOT, Worker, in_process, make_log


def pulse(
    *args: str, prefix: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`pulse ARGS` on a test's topic prefix, with `env` added to this environment."""
    env = {**os.environ, "PULSE_TOPIC_PREFIX": prefix, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_replay_onto_the_broker_then_tail_the_outputs(
    broker_url: str, namespace: str, tmp_path: Path
) -> None:
    log = make_log(tmp_path / "log.jsonl.gz", users=40, days=15, seed=4, bad_rate=0.0)
    expected = in_process(log, tmp_path / "inproc")["segment-changes"]
    worker = Worker(broker_url, namespace, tmp_path)
    try:
        replay = pulse("replay", str(log), "--broker", broker_url, "--max", prefix=namespace)
        assert replay.returncode == 0, replay.stdout + replay.stderr
        args = ["segment-changes", "--broker", broker_url, "--from-beginning"]
        args += ["--limit", str(len(expected))]
        piped = pulse("tail", *args, prefix=namespace)
        tail = pulse("tail", *args, "--pretty", prefix=namespace)
    finally:
        worker.stop()
    # Piped: one JSON object per line, the topic's own bytes (for | jq).
    assert piped.returncode == 0, piped.stderr
    got = [line.encode() for line in piped.stdout.splitlines()]
    assert sorted(got) == sorted(expected)
    assert tail.returncode == 0, tail.stderr
    lines = [line for line in tail.stdout.splitlines() if "→" in line]
    assert len(lines) == len(expected)
    # One readable line per change: event time, user, dimension, from → to.
    assert all(" u0" in line and ":" in line for line in lines), lines[:3]
