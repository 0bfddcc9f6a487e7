"""Bad messages on every input topic become dead letters; the worker keeps going."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from streams.core.topics import INPUT_TOPICS
from tests.integration.harness import Worker, bootstrap, ensure_input_topics, read_topic

VALID = {
    "clicks": {"type": "click", "action": "view", "item_id": "i1", "category": "c", "price": 9.5},
    "searches": {"type": "search", "query": "shoes", "results": 3},
    "purchases": {
        "type": "purchase",
        "order_id": "o1",
        "items": [{"item_id": "i1", "category": "c", "price": 10.0, "quantity": 1}],
        "total": 10.0,
        "currency": "EUR",
    },
    "profiles": {"type": "profile", "consent": {"email": True}, "timezone": "UTC"},
}


def bad_records(topic: str) -> list[tuple[bytes | None, bytes | None, str]]:
    """(key, value, expected reason) — different bytes per topic, so ids differ."""
    valid = {
        **VALID[topic],
        "event_id": f"ok-{topic}",
        "user_id": f"u-{topic}",
        "ts": "2026-03-01T09:00:00Z",
    }
    return [
        (b"k", b"{not json " + topic.encode(), "malformed_json"),
        (b"k", b"\xff\xfe" + topic.encode(), "malformed_json"),
        (b"k", None, "malformed_json"),  # a tombstone has no value at all
        (b"k", orjson.dumps([topic]), "not_an_object"),
        (b"k", orjson.dumps({k: v for k, v in valid.items() if k != "user_id"}), "missing_field"),
        (b"k", orjson.dumps({**valid, "event_id": f"t-{topic}", "user_id": 42}), "wrong_type"),
        (
            b"k",
            orjson.dumps({**valid, "event_id": f"i-{topic}", "ts": "yesterday"}),
            "invalid_value",
        ),
        (
            b"k",
            orjson.dumps({**valid, "event_id": f"a-{topic}", "ts": 99999999999999}),
            "absurd_timestamp",
        ),
        (
            b"k",
            orjson.dumps({**valid, "type": "teleport", "event_id": f"x-{topic}"}),
            "unknown_type",
        ),
        (
            b"k",
            orjson.dumps({**valid, "event_id": f"o-{topic}", "pad": "x" * 600_000}),
            "oversized",
        ),
        # Kinds that once crashed the worker on every delivery; 80k control characters
        # escape to 480 kB of JSON, whose dead letter must stay small.
        (
            b"k",
            orjson.dumps({**valid, "event_id": f"n-{topic}", "user_id": "\x00pulse-model\x000"}),
            "invalid_value",
        ),
        (
            b"k",
            orjson.dumps(
                {
                    **VALID["profiles"],
                    **{k: valid[k] for k in ("user_id", "ts")},
                    "event_id": f"z-{topic}",
                    "timezone": "America",
                }
            ),
            "invalid_value",
        ),
        (b"k", orjson.dumps({**valid, "event_id": "\x01" * 80_000 + topic}), "invalid_value"),
        # A valid event after all of that: the worker must still process it.
        (f"u-{topic}".encode(), orjson.dumps({**valid, "ts": "2026-03-01T10:00:00Z"}), ""),
    ]


def produce_raw(url: str, prefix: str) -> dict[bytes, tuple[str, str]]:
    """Send the records; returns original bytes → (topic, expected reason)."""
    sent: dict[bytes, tuple[str, str]] = {}

    async def main() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap(url))
        await producer.start()
        try:
            for topic in INPUT_TOPICS:
                for key, value, reason in bad_records(topic):
                    await producer.send_and_wait(prefix + topic, value, key=key, partition=0)
                    if reason:
                        sent[value or b""] = (prefix + topic, reason)
        finally:
            await producer.stop()

    asyncio.run(main())
    return sent


def original_bytes(letter: dict) -> bytes:
    if "payload_base64" in letter:
        return base64.b64decode(letter["payload_base64"])
    return str(letter["payload"]).encode("utf-8")


BAD_PER_TOPIC = sum(1 for _, _, reason in bad_records("clicks") if reason)


def test_bad_messages_on_every_input_topic(broker_url: str, namespace: str, tmp_path: Path) -> None:
    ensure_input_topics(broker_url, namespace)
    worker = Worker(broker_url, namespace, tmp_path)
    try:
        sent = produce_raw(broker_url, namespace)
        dead = read_topic(
            broker_url,
            namespace + "dead-letters",
            lambda got: len(got) >= BAD_PER_TOPIC * len(INPUT_TOPICS),
        )
        changes = read_topic(
            broker_url,
            namespace + "segment-changes",
            lambda got: (
                {orjson.loads(r.value)["user_id"] for r in got}
                >= {f"u-{topic}" for topic in INPUT_TOPICS if topic != "profiles"}
            ),
            timeout=60,
        )
        assert worker.process.poll() is None, "the worker must keep running"
    finally:
        worker.stop()
    letters = [orjson.loads(record.value) for record in dead]
    assert len(letters) == BAD_PER_TOPIC * len(INPUT_TOPICS), [
        letter["reason"] for letter in letters
    ]
    seen: set[tuple[str, bytes]] = set()
    for letter in letters:
        raw = original_bytes(letter)
        if letter.get("payload_truncated"):  # a huge record keeps its head, length and hash
            raw = next(r for r in sent if r.startswith(raw) and len(r) == letter["payload_bytes"])
        source = letter["source"]
        if raw == b"":
            assert letter["reason"] == "malformed_json"
            seen.add((source["topic"], raw))
        else:
            topic, reason = sent[raw]
            assert (letter["reason"], source["topic"]) == (reason, topic), letter
            seen.add((topic, raw))
        assert source["partition"] == 0 and source["offset"] >= 0
        assert letter["detail"], "a dead letter says what is wrong"
    assert len(seen) == BAD_PER_TOPIC * len(INPUT_TOPICS)  # every bad record of every topic, once
    users = {orjson.loads(record.value)["user_id"] for record in changes}
    assert {"u-clicks", "u-searches", "u-purchases"} <= users
