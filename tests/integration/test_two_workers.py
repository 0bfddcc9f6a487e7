"""Two workers share the partitions; stopping one hands its partitions and state over."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from tests.integration.harness import (
    Worker,
    in_process,
    make_log,
    produce,
    quirks,
    read_topic,
    split_log,
    unique_by_id,
    wait_for,
)

ASSIGNED = re.compile(r"rebalance: partitions \[([0-9, ]*)\] assigned")


def assigned(worker: Worker) -> set[int]:
    """The partitions of the worker's latest assignment, from its log."""
    found = ASSIGNED.findall(worker.output())
    return {int(p) for p in found[-1].split(",") if p.strip()} if found else set()


def test_two_workers_split_then_hand_over(
    broker_url: str,
    broker_kind: str,
    namespace: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    if broker_kind == "kafka" and os.environ.get("PULSE_FETCH_BATCHES", "1") == "0":
        # Known: with Faust's per-record stream, some hand-overs on Apache Kafka yield a
        # few segment changes the in-process replay does not have (1 of 1 in the last
        # full run; with fetch batches 3 of 3 passed). docs/streaming.md. It still runs,
        # and passes when it can.
        request.applymarker(pytest.mark.xfail(strict=False, reason="hand-over on Kafka"))
    log = make_log(tmp_path / "log.jsonl.gz", users=200, days=40, seed=5, bad_rate=0.0)
    expected = unique_by_id(in_process(log, tmp_path / "inproc")["segment-changes"])
    # Each worker merges the four input topics by event time; the second half of the log
    # is published while the surviving worker runs, so it waits a little for a topic that
    # is empty (PULSE_MERGE_IDLE_MS, docs/streaming.md, "Same answers").
    info = {**quirks(broker_kind), "PULSE_LOG_LEVEL": "info", "PULSE_MERGE_IDLE_MS": "300"}
    # The first half of the recorded log is on the broker before the workers start (with
    # it in place, each source is known to its end and merged exactly); the second half
    # goes in after the hand-over, so the surviving worker carries on from handed state.
    head, tail = split_log(log, 0.5)
    produce(broker_url, namespace, head)
    first = Worker(broker_url, namespace, tmp_path, name="a", extra_env=info)
    second = Worker(broker_url, namespace, tmp_path, name="b", extra_env=info)
    try:
        split = wait_for(
            lambda: (
                assigned(first)
                and assigned(second)
                and assigned(first) | assigned(second) == {0, 1, 2, 3}
            ),
            timeout=60,
        )
        assert split, first.output()[-2000:] + second.output()[-2000:]
        assert not assigned(first) & assigned(second)
        partial = read_topic(
            broker_url,
            namespace + "segment-changes",
            lambda got: len(got) >= len(expected) // 3,
            timeout=90,
            quiet=0,
        )
        assert second.stop(signal.SIGTERM) == 0
        handed = wait_for(lambda: assigned(first) == {0, 1, 2, 3}, timeout=60)
        assert handed, first.output()[-3000:]
        produce(broker_url, namespace, tail)
        records = read_topic(
            broker_url,
            namespace + "segment-changes",
            lambda got: len(unique_by_id([r.value for r in got])) >= len(expected),
        )
    finally:
        second.stop()
        first.stop()
    assert 0 < len(partial) < len(expected)
    got = unique_by_id([record.value for record in records])
    extra = [got[k] for k in sorted(got.keys() - expected.keys())][:4]
    missing = [expected[k] for k in sorted(expected.keys() - got.keys())][:4]
    assert got.keys() == expected.keys(), (extra, missing, first.output()[-1500:])
    assert got == expected  # same ids, same bytes: state moved with the partitions
    restored = re.findall(r"partition (\d): (\d+) users restored", first.output())
    assert any(int(users) > 0 for _, users in restored), "state came from the changelog"
