"""Erasure reaches the log: on Apache Kafka, an erased user's earlier states (profile
attributes, consent, time zone) are compacted out of the users changelog, and their
earlier views out of `user-profiles`, within the configured bound, leaving at most the
tombstones."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from streams.config_loader import load_config
from streams.topic_admin import ensure_topics, topic_configs
from streams.worker.kafka_clients import bootstrap_servers as bootstrap
from tests.helpers import T0, click, profile, purchase, search
from tests.integration.harness import Worker, read_topic, wait_for

SEGMENT_MS, LAG_MS = 1500, 3000


def send(url: str, prefix: str, events: list[dict]) -> None:
    async def main() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap(url))
        await producer.start()
        try:
            for event in events:
                topic = (
                    prefix
                    + {
                        "profile": "profiles",
                        "click": "clicks",
                        "search": "searches",
                        "purchase": "purchases",
                    }[event["type"]]
                )
                await producer.send_and_wait(
                    topic, orjson.dumps(event), key=event["user_id"].encode()
                )
        finally:
            await producer.stop()

    asyncio.run(main())


def topics(url: str) -> list[str]:
    async def main() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(url))
        await admin.start()
        try:
            return sorted(await admin.list_topics())
        finally:
            await admin.close()

    return asyncio.run(main())


def states_of(url: str, topic: str, user: bytes) -> list[bytes | None]:
    records = read_topic(url, topic, lambda got: True, timeout=8, quiet=1)
    return [record.value for record in records if record.key == user]


def test_an_erased_users_earlier_states_leave_the_changelog(
    broker_url: str, broker_kind: str, namespace: str, tmp_path: Path
) -> None:
    if broker_kind != "kafka":
        pytest.skip("the embedded broker never compacts (docs/streaming.md)")
    # Topics as `pulse worker` creates them, with the test's short compaction bounds.
    configs = topic_configs(SEGMENT_MS, LAG_MS)
    options = {"bootstrap_servers": bootstrap(broker_url)}
    asyncio.run(
        ensure_topics(options, load_config(None).stream.partitions, "t", namespace, 1, configs)
    )
    env = {
        "PULSE_CHANGELOG_SEGMENT_MS": str(SEGMENT_MS),
        "PULSE_CHANGELOG_MAX_COMPACTION_LAG_MS": str(LAG_MS),
    }
    worker = Worker(broker_url, namespace, tmp_path, extra_env=env)
    changelog = f"{namespace}pulse-users-changelog"
    profiles = f"{namespace}user-profiles"
    secret = {"email_hash": "f00d", "city": "Lyon"}
    try:
        send(
            broker_url,
            namespace,
            [
                search("someone", T0 - 5000),
                purchase("someone", T0 - 4000),
                profile("erase-me", T0, attributes=secret, timezone="Europe/Paris"),
                click("erase-me", T0 + 1000),
                click("erase-me", T0 + 2000),
            ],
        )
        # Read the changelog only once the worker has created it: a consumer asking for a
        # missing topic would have the broker auto-create it with one partition.
        assert wait_for(lambda: changelog in topics(broker_url), 60), worker.output()[-2000:]
        saved = wait_for(lambda: bool(states_of(broker_url, changelog, b"erase-me")), 60)
        assert saved, ([t for t in topics(broker_url) if "pulse" in t], worker.output()[-3000:])
        views = states_of(broker_url, profiles, b"erase-me")
        assert views and b"Europe" not in b"".join(v or b"" for v in views)  # no attributes
        assert any(b'"consent"' in (v or b"") for v in views)
        send(broker_url, namespace, [profile("erase-me", T0 + 3000, erase=True)])
        erased_at = time.monotonic()

        def only_tombstones() -> bool:
            # Other users' events keep appending, so segments roll and become cleanable.
            others = [click(f"other-{time.monotonic_ns()}-{n}", T0 + 4000) for n in range(8)]
            send(broker_url, namespace, others)
            states = states_of(broker_url, changelog, b"erase-me")
            views = states_of(broker_url, profiles, b"erase-me")
            # (none at all once the tombstones go too)
            return all(value is None for value in [*states, *views])

        gone = wait_for(only_tombstones, timeout=90, every=1)
        took = time.monotonic() - erased_at
    finally:
        worker.stop()
    assert gone, (
        states_of(broker_url, changelog, b"erase-me"),
        states_of(broker_url, profiles, b"erase-me"),
    )
    print(f"erased user's states compacted away {took:.0f} s after the erasure")
