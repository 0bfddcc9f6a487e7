"""Produce a recorded log onto the input topics, keyed by user id, paced or flat out."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streams.core.timefmt import parse_ts
from streams.core.topics import FALLBACK_INPUT_TOPIC, INPUT_TOPIC_BY_TYPE
from streams.logfile import LogReader


def route(raw: bytes) -> tuple[str, bytes | None, int | None]:
    """(topic, key, event time) for one record; unreadable records go to the fallback topic."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return FALLBACK_INPUT_TOPIC, None, None
    if not isinstance(data, dict):
        return FALLBACK_INPUT_TOPIC, None, None
    topic = INPUT_TOPIC_BY_TYPE.get(data.get("type"), FALLBACK_INPUT_TOPIC)  # type: ignore[arg-type]
    user = data.get("user_id")
    key = user.encode("utf-8") if isinstance(user, str) and user else None
    try:
        ts: int | None = parse_ts(data.get("ts"))
    except ValueError:
        ts = None
    return topic, key, ts


async def produce_log(
    log: Path,
    options: dict[str, Any],
    speed: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    stop: asyncio.Event | None = None,
    prefix: str = "",
    counts: Counter[str] | None = None,
) -> Counter[str]:
    """Send every line of `log`; with `speed`, event-time gaps are replayed `speed`x faster."""
    producer = AIOKafkaProducer(linger_ms=5, **options)
    await producer.start()
    counts = Counter() if counts is None else counts  # a caller's counter sees live counts
    first_ts: int | None = None
    started = time.monotonic()
    try:
        with LogReader(log) as reader:
            for number, raw in enumerate(reader, start=1):
                if stop is not None and stop.is_set():
                    break
                topic, key, ts = route(raw)
                if speed and ts is not None:
                    first_ts = ts if first_ts is None else first_ts
                    delay = (ts - first_ts) / 1000.0 / speed - (time.monotonic() - started)
                    if delay > 0:
                        await asyncio.sleep(delay)
                await producer.send(prefix + topic, value=raw, key=key)
                counts[topic] += 1
                if number % 5_000 == 0:
                    if progress is not None:
                        progress(reader.position(), reader.size)
                    await asyncio.sleep(0)
            await producer.flush()
            if progress is not None:
                progress(reader.size, reader.size)
    finally:
        await producer.stop()
    return counts
