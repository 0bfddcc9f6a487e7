"""Exactly-once on Apache Kafka: the worker is SIGKILLed again and again while a log
streams through, and every output topic, read with isolation.level=read_committed,
holds exactly what the in-process replay writes — same ids, same bytes, no duplicates."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import orjson
import pytest

from tests.integration.harness import (
    Worker,
    in_process,
    make_log,
    per_user,
    produce,
    profile_values,
    quirks,
    read_topic,
    tombstones,
    wait_for,
)

KILLS = 5


def committed(url: str, topic: str, until: object, quiet: float = 3.0) -> list[bytes]:
    records = read_topic(url, topic, until, quiet=quiet, isolation_level="read_committed")
    return (
        profile_values(records)
        if topic.endswith("user-profiles")
        else [record.value for record in records]
    )


def test_sigkills_leave_every_output_topic_exactly_as_the_in_process_replay(
    broker_url: str, broker_kind: str, namespace: str, tmp_path: Path
) -> None:
    if broker_kind != "kafka":
        pytest.skip("the embedded broker has no transactions: at-least-once there")
    log = make_log(tmp_path / "log.jsonl.gz", users=200, days=40, seed=33, bad_rate=0.005)
    expected = in_process(log, tmp_path / "inproc")
    # The log is published while the worker runs: the merger waits a little for a topic
    # that is empty, so records published together are merged by event time whichever
    # topic's fetch returns first (PULSE_MERGE_IDLE_MS, docs/streaming.md).
    env = {
        **quirks(broker_kind),
        "PULSE_PROCESSING_GUARANTEE": "exactly_once",
        "PULSE_LOG_LEVEL": "info",
        "PULSE_MERGE_IDLE_MS": "300",
    }
    moments = random.Random(7)
    worker = Worker(broker_url, namespace, tmp_path, name="eos", extra_env=env)

    def done_so_far() -> int:
        return len(committed(broker_url, namespace + "segment-changes", lambda _: True, quiet=0.0))

    try:
        produce(broker_url, namespace, log)
        progress = [0]  # committed segment changes at each kill
        for _ in range(KILLS):
            # Kill at a random moment once this worker has committed some work of its own.
            wait_for(lambda: done_so_far() > progress[-1], timeout=90, every=0.3)
            time.sleep(moments.uniform(0.0, 1.0))
            worker.stop(signal.SIGKILL)
            progress.append(done_so_far())
            worker = Worker(broker_url, namespace, tmp_path, name="eos", extra_env=env)
        progress.pop(0)
        changes = committed(
            broker_url,
            namespace + "segment-changes",
            lambda got: len(got) >= len(expected["segment-changes"]),
        )
    finally:
        worker.stop(signal.SIGTERM)
    got = {"segment-changes": changes}
    for topic in ("churn-risk", "campaign-messages", "campaign-sends", "user-profiles"):
        got[topic] = committed(broker_url, namespace + topic, lambda _: True, quiet=1.0)
    dead = committed(broker_url, namespace + "dead-letters", lambda _: True, quiet=1.0)
    assert len(changes) == len(expected["segment-changes"]), worker.output()[-3000:]
    # The kills landed mid-stream, and aborted work existed: read uncommitted, the topic
    # holds records of transactions a kill cut short, which read_committed never shows.
    total = len(expected["segment-changes"])
    assert sum(1 for done in progress if 0 < done < total) >= 3, progress
    uncommitted = read_topic(broker_url, namespace + "segment-changes", bool, quiet=1.0)
    print(
        f"committed at each kill {progress} of {total}; {len(uncommitted)} written, "
        f"{len(uncommitted) - total} of them in aborted transactions"
    )
    assert len(uncommitted) > total
    for topic, values in got.items():
        reference = expected[topic]
        if topic == "user-profiles":
            reference = tombstones(reference)
        # The same records, every one once (no duplicate survives a kill), same bytes ...
        assert sorted(values) == sorted(reference), topic
        if topic != "user-profiles":
            # ... and each user's in the same order (partition-wide stats, user null,
            # interleave across partitions as they are processed).
            users = per_user(values)
            users.pop(None, None)  # type: ignore[call-overload]
            reference_users = per_user(reference)
            reference_users.pop(None, None)  # type: ignore[call-overload]
            assert users == reference_users, topic

    def essence(value: bytes) -> tuple[str, str, str | None]:
        letter = orjson.loads(value)
        return letter["id"], letter["reason"], letter.get("payload")

    assert sorted(map(essence, dead)) == sorted(map(essence, expected["dead-letters"]))


def test_two_workers_one_killed_leave_the_outputs_exactly_as_the_replay(
    broker_url: str, broker_kind: str, namespace: str, tmp_path: Path
) -> None:
    """Two workers share the partitions; one is SIGKILLed mid-stream and the other takes
    its partitions over, fencing the dead one's transactions."""
    if broker_kind != "kafka":
        pytest.skip("the embedded broker has no transactions: at-least-once there")
    from tests.integration.test_two_workers import assigned

    # 120 days (~34,000 events): enough work left for the kill to land mid-stream after
    # the two workers have split the partitions.
    log = make_log(tmp_path / "log.jsonl.gz", users=200, days=120, seed=5, bad_rate=0.0)
    expected = in_process(log, tmp_path / "inproc")
    env = {
        **quirks(broker_kind),
        "PULSE_PROCESSING_GUARANTEE": "exactly_once",
        "PULSE_LOG_LEVEL": "info",
    }
    # The whole log is on the broker before the workers start, so each partition's topics
    # are merged by event time exactly. (Published while they ran, records of one moment
    # became visible on the four topics at different times, and the merge order — consent
    # updates against browsing, say — could differ from the replay: in 2 of 8 runs some
    # campaign decisions did.)
    produce(broker_url, namespace, log)
    first = Worker(broker_url, namespace, tmp_path, name="a", extra_env=env)
    second = Worker(broker_url, namespace, tmp_path, name="b", extra_env=env)
    total = len(expected["segment-changes"])
    topic = namespace + "segment-changes"
    try:
        split = wait_for(
            lambda: (
                bool(assigned(first))
                and bool(assigned(second))
                and assigned(first) | assigned(second) == {0, 1, 2, 3}
            ),
            timeout=60,
        )
        assert split, first.output()[-2000:] + second.output()[-2000:]
        wait_for(lambda: len(committed(broker_url, topic, lambda _: True, 0.0)) > total // 4, 90)
        second.stop(signal.SIGKILL)
        at_kill = len(committed(broker_url, topic, lambda _: True, 0.0))
        changes = committed(broker_url, topic, lambda got: len(got) >= total)
    finally:
        second.stop()
        first.stop(signal.SIGTERM)
    assert 0 < at_kill < total, at_kill
    assert sorted(changes) == sorted(expected["segment-changes"])
    for name in ("churn-risk", "campaign-messages", "campaign-sends", "dead-letters"):
        values = committed(broker_url, namespace + name, lambda _: True, quiet=1.0)
        only_got = sorted(set(values) - set(expected[name]))
        only_expected = sorted(set(expected[name]) - set(values))
        if only_got or only_expected:  # kept beside the workers' logs, for a look
            (tmp_path / f"{name}.only-got").write_bytes(b"\n".join(only_got))
            (tmp_path / f"{name}.only-expected").write_bytes(b"\n".join(only_expected))
        assert sorted(values) == sorted(expected[name]), (name, len(only_got), len(only_expected))
