"""Drive real worker processes and read real topics, for the integration tests."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from streams.config_loader import load_config
from streams.core.outputs import OUTPUT_TOPICS
from streams.core.timefmt import parse_ts
from streams.producer import produce_log
from streams.replay import replay_to_dir
from streams.simulator.generator import SimulationSpec
from streams.simulator.writer import write_simulation
from streams.topic_admin import ensure_topics
from streams.worker.process import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]


def bootstrap(url: str) -> str:
    return url.split("://", 1)[-1]


def make_log(
    path: Path, users: int = 120, days: int = 30, seed: int = 21, bad_rate: float = 0.01
) -> Path:
    spec = SimulationSpec(users, days, seed, parse_ts("2026-02-02T00:00:00Z"))
    write_simulation(path, spec, bad_rate)
    return path


def split_log(log: Path, fraction: float) -> tuple[Path, Path]:
    """The log's first `fraction` of lines and the rest, as two logs beside it."""
    lines = gzip.decompress(log.read_bytes()).splitlines(keepends=True)
    cut = int(len(lines) * fraction)
    head, tail = log.with_suffix(".head.gz"), log.with_suffix(".tail.gz")
    head.write_bytes(gzip.compress(b"".join(lines[:cut])))
    tail.write_bytes(gzip.compress(b"".join(lines[cut:])))
    return head, tail


def in_process(log: Path, out: Path, config: Path | None = None) -> dict[str, list[bytes]]:
    replay_to_dir(log, out, load_config(config))
    return {topic: (out / f"{topic}.jsonl").read_bytes().splitlines() for topic in OUTPUT_TOPICS}


def quirks(broker_kind: str) -> dict[str, str]:
    """The worker setting a deployment on this broker uses: Apache Kafka needs none of the
    embedded broker's workarounds (PULSE_BROKER_QUIRKS, docs/streaming.md)."""
    return {"PULSE_BROKER_QUIRKS": "none"} if broker_kind == "kafka" else {}


class Worker(WorkerProcess):
    """One `pulse worker` process on a test's topic prefix, logging to `<name>.log`."""

    def __init__(
        self,
        url: str,
        prefix: str,
        workdir: Path,
        name: str = "w",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        env = {
            "PULSE_TOPIC_PREFIX": prefix,
            "PULSE_APP_ID": prefix + "pulse",
            "PULSE_WORKDIR": str(workdir / name),
            "PULSE_LOG_LEVEL": "warning",
            "PULSE_METRICS_PORT": "0",
            **(extra_env or {}),
        }
        super().__init__(url, workdir / f"{name}.log", env)


def ensure_input_topics(url: str, prefix: str) -> None:
    options = {"bootstrap_servers": bootstrap(url)}
    asyncio.run(ensure_topics(options, load_config(None).stream.partitions, "test", prefix))


def produce(
    url: str, prefix: str, log: Path, speed: float | None = None, ticks: bool = True
) -> None:
    options = {"bootstrap_servers": bootstrap(url)}
    ensure_input_topics(url, prefix)
    # With the config: the ticks an in-process replay makes, so idle partitions agree.
    # Without (ticks=False): the log as a shop's own producer writes it.
    config = load_config(None) if ticks else None
    asyncio.run(produce_log(log, options, speed, prefix=prefix, config=config))


def read_topic(
    url: str,
    topic: str,
    until: Any,
    timeout: float = 120.0,
    quiet: float = 3.0,
    isolation_level: str = "read_uncommitted",
) -> list[Any]:
    """Read a topic from the start until `until(records)` holds and it has been quiet for
    `quiet` seconds (so late duplicates are seen too), or until `timeout`."""

    async def main() -> list[Any]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap(url),
            group_id=None,
            auto_offset_reset="earliest",
            isolation_level=isolation_level,
        )
        await consumer.start()
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        try:
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=300)
                for messages in batch.values():
                    records.extend(messages)
                    last_new = time.monotonic()
                if until(records) and time.monotonic() - last_new > quiet:
                    break
        finally:
            await consumer.stop()
        return records

    return asyncio.run(main())


def unique_by_id(values: list[bytes]) -> dict[str, bytes]:
    """Output values by id; fails if one id ever carries two different contents."""
    by_id: dict[str, bytes] = {}
    for value in values:
        event_id = orjson.loads(value)["id"]
        assert by_id.setdefault(event_id, value) == value, f"id {event_id} has two contents"
    return by_id


def profile_values(records: list[Any]) -> list[bytes]:
    """`user-profiles` records as comparable bytes: a tombstone (null value) becomes
    `tombstone:<ce_id>`, as `tombstones(expected)` writes a removed user's view."""
    return [
        r.value if r.value is not None else b"tombstone:" + dict(r.headers)["ce_id"]
        for r in records
    ]


def tombstones(values: list[bytes]) -> list[bytes]:
    """In-process `user-profiles` lines, a removed user's view as the worker's tombstone."""
    found = []
    for value in values:
        view = orjson.loads(value)
        found.append(b"tombstone:" + view["id"].encode() if view["removed"] else value)
    return found


def with_erasure(log: Path, out: Path) -> tuple[Path, str]:
    """`log` (.gz) plus an erasure request for its first user, at its last event time."""
    with gzip.open(log, "rb") as handle:
        lines = handle.read().splitlines()
    events = []
    for line in lines:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # the log's deliberately bad records
        if isinstance(event, dict) and isinstance(event.get("ts"), str) and event.get("user_id"):
            events.append(event)
    user = str(events[0]["user_id"])
    erase = {"type": "profile", "event_id": "erase-1", "user_id": user, "erase": True}
    erase["ts"] = max(str(e["ts"]) for e in events)
    out.write_bytes(b"\n".join([*lines, orjson.dumps(erase)]) + b"\n")
    return out, user


def per_user(values: list[bytes]) -> dict[str, list[bytes]]:
    users: dict[str, list[bytes]] = defaultdict(list)
    for value in values:
        users[orjson.loads(value)["user_id"]].append(value)
    return dict(users)


def wait_for(predicate: Any, timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False
