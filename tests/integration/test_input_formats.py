"""A shop's Segment stream straight onto Pulse's input topic (PULSE_INPUT_FORMAT=segment)
gives what `pulse convert` + the in-process replay give; unmapped calls are dead letters."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streams.cli.main import main
from streams.core.timefmt import format_ts
from streams.worker.kafka_clients import bootstrap_servers
from tests.integration.harness import (
    Worker,
    ensure_input_topics,
    in_process,
    per_user,
    read_topic,
)

DAY_MS = 86_400_000


def segment_calls(users: int = 24) -> list[dict[str, object]]:
    """Segment-spec calls of a few shoppers over two months, in time order."""
    calls: list[tuple[int, dict[str, object]]] = []

    def call(user: str, at: int, number: int, **fields: object) -> None:
        body = {"userId": user, "messageId": f"{user}-{number}", "timestamp": format_ts(at)}
        calls.append((at, {**body, **fields}))

    for n in range(users):
        user = f"shopper-{n}"
        start = 1_709_280_000_000 + n * 3_600_000  # 2024-03-01, an hour apart
        consent = {"email": True, "push": n % 2 == 0}
        call(user, start, 0, type="identify", traits={"consent": consent})
        for visit in range(1 + n % 4):
            at = start + visit * (5 + n % 7) * DAY_MS
            product = {"product_id": f"p{(n + visit) % 9}", "category": "shoes", "price": 30}
            viewed = {"type": "track", "event": "Product Viewed", "properties": product}
            call(user, at + 1000, 10 * visit + 1, **viewed)
            call(user, at + 2000, 10 * visit + 2, type="page", name="Home")
            if (n + visit) % 3 != 2:
                added = {"type": "track", "event": "Product Added", "properties": product}
                call(user, at + 3000, 10 * visit + 3, **added)
                order = {"order_id": f"{user}-o{visit}", "products": [{**product, "quantity": 1}]}
                completed = {"type": "track", "event": "Order Completed", "properties": order}
                call(user, at + 4000, 10 * visit + 4, **completed)
    return [c for _, c in sorted(calls, key=lambda pair: pair[0])]


SEGMENTS = ("lifecycle", "value_tier", "membership", "persona", "rules", "consent")


def profiles_of(records: list[Any]) -> list[bytes]:
    return [record.value for record in records if record.value is not None]


def final_views(values: list[bytes]) -> dict[str, dict[str, object]]:
    views = {}
    for value in values:
        view = orjson.loads(value)
        views[view["user_id"]] = {name: view[name] for name in SEGMENTS}
    return views


def send_raw(url: str, topic: str, calls: list[dict[str, object]]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(url))
        await producer.start()
        try:
            for c in calls:
                await producer.send(topic, orjson.dumps(c), key=str(c["userId"]).encode())
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(run())


def test_a_segment_stream_on_the_clicks_topic_gives_the_converted_logs_answers(
    broker_url: str, namespace: str, tmp_path: Path
) -> None:
    calls = segment_calls()
    source = tmp_path / "segment.jsonl"
    source.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in calls))
    converted = tmp_path / "pulse.jsonl"
    assert main(["convert", str(source), "--from", "segment", "--out", str(converted)]) == 0
    expected = in_process(converted, tmp_path / "inproc")
    pages = sum(1 for c in calls if c["type"] == "page")
    assert expected["segment-changes"] and pages
    ensure_input_topics(broker_url, namespace)
    env = {"PULSE_INPUT_FORMAT": "clicks=segment"}
    worker = Worker(broker_url, namespace, tmp_path, extra_env=env)
    try:
        send_raw(broker_url, namespace + "clicks", calls)
        changes = read_topic(
            broker_url,
            namespace + "segment-changes",
            lambda got: len(got) >= len(expected["segment-changes"]),
        )
        profiles = read_topic(broker_url, namespace + "user-profiles", bool, quiet=2.0)
        dead = read_topic(broker_url, namespace + "dead-letters", lambda got: len(got) >= pages)
    finally:
        assert worker.stop(signal.SIGTERM) == 0, worker.output()[-2000:]
    assert per_user([r.value for r in changes]) == per_user(expected["segment-changes"])
    # Each user's final segments and consent. (How many views are written, and a quiet
    # user's latest rescoring, depend on when event time was noticed: here the worker's
    # live ticks, in-process the replay's own; docs/events.md.)
    assert final_views(profiles_of(profiles)) == final_views(expected["user-profiles"])
    letters = [orjson.loads(r.value) for r in dead]
    assert [letter["reason"] for letter in letters] == ["unmapped"] * pages
    assert all(letter["detail"].startswith("segment: page calls") for letter in letters)
    assert all(orjson.loads(letter["payload"])["type"] == "page" for letter in letters)
