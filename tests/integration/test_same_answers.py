"""Through a real broker, the worker produces exactly what the in-process replay writes."""

from __future__ import annotations

import signal
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
    read_topic,
    tombstones,
    unique_by_id,
    with_erasure,
)


@pytest.mark.parametrize("fetch_batches", ["0", "1"])
def test_worker_outputs_equal_in_process_replay(
    broker_url: str, namespace: str, tmp_path: Path, fetch_batches: str
) -> None:
    """With Faust's per-record stream (the default) and with each fetch as one batch."""
    log, erased = with_erasure(make_log(tmp_path / "log.jsonl.gz"), tmp_path / "log.jsonl")
    expected = in_process(log, tmp_path / "inproc")
    worker = Worker(
        broker_url, namespace, tmp_path, extra_env={"PULSE_FETCH_BATCHES": fetch_batches}
    )
    try:
        produce(broker_url, namespace, log)
        changes = read_topic(
            broker_url,
            namespace + "segment-changes",
            lambda got: len(got) >= len(expected["segment-changes"]),
        )
        risks = read_topic(
            broker_url,
            namespace + "churn-risk",
            lambda got: len(got) >= len(expected["churn-risk"]),
            quiet=0.5,
        )
        messages = read_topic(
            broker_url,
            namespace + "campaign-messages",
            lambda got: len(got) >= len(expected["campaign-messages"]),
            quiet=0.5,
        )
        dead = read_topic(
            broker_url,
            namespace + "dead-letters",
            lambda got: len(got) >= len(expected["dead-letters"]),
            quiet=0.5,
        )
        sends = read_topic(
            broker_url,
            namespace + "campaign-sends",
            lambda got: len(got) >= len(expected["campaign-sends"]),
            quiet=0.5,
        )
        profiles = read_topic(
            broker_url,
            namespace + "user-profiles",
            lambda got: len(got) >= len(expected["user-profiles"]),
            quiet=0.5,
        )
    finally:
        exit_code = worker.stop(signal.SIGTERM)
    assert exit_code == 0, f"SIGTERM should stop the worker cleanly:\n{worker.output()[-2000:]}"
    got = [record.value for record in changes]
    assert len(got) == len(expected["segment-changes"]), worker.output()[-2000:]
    # Headers to route on without parsing: CloudEvents' ce_ attributes, the content type.
    views = [record for record in profiles if record.value is not None]
    for record in [*changes, *risks, *messages, *dead, *views]:
        value, found = orjson.loads(record.value), dict(record.headers)
        assert found["ce_id"] == value["id"].encode() and found["ce_specversion"] == b"1.0"
        assert found["ce_type"] == f"pulse.{value['type']}.v1".encode()
        assert found["content-type"] == b"application/json"
        assert found.get("ce_time") == (value["ts"].encode() if value.get("ts") else None)
    # Same ids and contents, and the same order for every user.
    assert per_user(got) == per_user(expected["segment-changes"])
    assert unique_by_id(got).keys() == unique_by_id(expected["segment-changes"]).keys()

    # Churn risk comes from models learned per partition: same scores, bands, bytes.
    assert expected["churn-risk"], "the log should give churn-risk events"
    assert per_user([record.value for record in risks]) == per_user(expected["churn-risk"])

    # Campaign decisions (messages, deferrals, suppressions, stats): same ids and bytes.
    assert expected["campaign-messages"], "the log should give campaign decisions"
    got_messages = [record.value for record in messages]
    assert len(got_messages) == len(expected["campaign-messages"])
    assert unique_by_id(got_messages) == unique_by_id(expected["campaign-messages"])

    # Sends: exactly the messages to deliver, same ids and bytes.
    assert expected["campaign-sends"], "the log should give messages to send"
    assert unique_by_id([r.value for r in sends]) == unique_by_id(expected["campaign-sends"])

    # Profiles: each user's views in the same order and bytes; the erased user's last
    # record a tombstone (null value, keyed by the user) that compaction deletes them by.
    got_profiles = profile_values(profiles)
    assert per_user_or_tombstone(got_profiles) == per_user_or_tombstone(
        tombstones(expected["user-profiles"])
    )
    last = [r for r in profiles if r.key == erased.encode()][-1]
    assert last.value is None and dict(last.headers)["ce_type"] == b"pulse.user_profile.v1"

    # Dead letters: same reasons and bytes; the source says where on the broker it was.
    def essence(value: bytes) -> tuple[str, str, str | None]:
        letter = orjson.loads(value)
        return letter["id"], letter["reason"], letter.get("payload")

    got_dead = [record.value for record in dead]
    assert sorted(map(essence, got_dead)) == sorted(map(essence, expected["dead-letters"]))
    for value in got_dead:
        source = orjson.loads(value)["source"]
        assert source["topic"].startswith(namespace) and source["offset"] >= 0
        assert 0 <= source["partition"] < 4


def per_user_or_tombstone(values: list[bytes]) -> list[bytes]:
    """Views sorted per user (order across users depends on partitions' interleaving)."""
    keyed = []
    for value in values:
        user = b"" if value.startswith(b"tombstone:") else orjson.loads(value)["user_id"].encode()
        keyed.append((user, value))
    return [value for _, value in sorted(keyed, key=lambda pair: pair[0])]


@pytest.mark.parametrize("ticks_from", ["producer", "worker"])
def test_a_quiet_partition_follows_the_others_through_the_broker_too(
    broker_url: str, namespace: str, tmp_path: Path, ticks_from: str
) -> None:
    """The hand-made case of a customer alone in a partition: ticks written by the
    producer (`pulse replay --broker`), or — for a log a shop's own producer writes, with
    no ticks — published live by the worker, make the worker's idle partition move
    exactly as the in-process one."""
    from tests.helpers import DAY, T0, click, purchase
    from tests.unit.test_idle_partitions import users_in_two_partitions

    alone, other = users_in_two_partitions()
    events = [purchase(alone, T0)] + [click(other, T0 + d * DAY) for d in range(1, 200)]
    log = tmp_path / "quiet.jsonl"
    log.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    expected = unique_by_id(in_process(log, tmp_path / "inproc")["segment-changes"])
    assert b'"to":"churned"' in b"".join(v for v in expected.values() if alone.encode() in v)
    worker = Worker(broker_url, namespace, tmp_path)
    try:
        produce(broker_url, namespace, log, ticks=ticks_from == "producer")
        records = read_topic(
            broker_url,
            namespace + "segment-changes",
            lambda got: len(unique_by_id([r.value for r in got])) >= len(expected),
        )
    finally:
        worker.stop()
    assert unique_by_id([record.value for record in records]) == expected


def test_with_event_timestamps_each_output_record_carries_its_event_time(
    broker_url: str, namespace: str, tmp_path: Path
) -> None:
    """PULSE_OUTPUT_TIMESTAMP=event: the Kafka timestamp of every output is the event time
    of its cause (a log dated today: older ones would meet the topic's retention)."""
    import time

    from streams.core.timefmt import parse_ts
    from tests.helpers import click, profile, purchase

    now = int(time.time() * 1000) - 3_600_000
    events = [
        profile("ana", now, consent={"email": True}),
        click("ana", now + 1_001),
        purchase("ana", now + 60_017),
        click("ben", now + 120_123),
        b"{not json",
    ]
    log = tmp_path / "today.jsonl"
    log.write_bytes(
        b"".join((e if isinstance(e, bytes) else orjson.dumps(e)) + b"\n" for e in events)
    )
    expected = in_process(log, tmp_path / "inproc")
    worker = Worker(broker_url, namespace, tmp_path, extra_env={"PULSE_OUTPUT_TIMESTAMP": "event"})
    try:
        produce(broker_url, namespace, log)
        records = [
            record
            for topic in ("segment-changes", "user-profiles", "dead-letters")
            for record in read_topic(
                broker_url,
                namespace + topic,
                lambda got, topic=topic: len(got) >= len(expected[topic]),
                quiet=0.5,
            )
        ]
    finally:
        assert worker.stop(signal.SIGTERM) == 0
    assert len(records) == sum(
        len(expected[t]) for t in ("segment-changes", "user-profiles", "dead-letters")
    )
    stamped = 0
    for record in records:
        value = orjson.loads(record.value)
        if value.get("ts"):
            assert record.timestamp == parse_ts(value["ts"]), value
            stamped += 1
    assert stamped >= len(records) - 1  # all but the unreadable record's dead letter
