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

from streams.core.config import PulseConfig
from streams.core.errors import InvalidEvent
from streams.core.events import decode_event
from streams.core.ids import partition_for
from streams.core.ticks import TICK_TOPIC, TickClock, read_tick, tick_record
from streams.core.timefmt import MS_PER_DAY, parse_ts
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


def ticks_before(raw: bytes, ticks: TickClock, config: PulseConfig) -> list[tuple[int, int]]:
    """(partition, tick) pairs due before `raw`, as the in-process pipeline makes them."""
    if read_tick(raw) is not None:
        return []
    try:
        event = decode_event(raw, config.stream.max_event_bytes, config.stream.earliest_event_time)
    except InvalidEvent:
        return []
    own = partition_for(event.user_id, config.stream.partitions)
    return [
        (partition, tick)
        for tick in ticks.feed(own, event.ts)
        for partition in range(config.stream.partitions)
        if partition != own
    ]


async def produce_log(
    log: Path,
    options: dict[str, Any],
    speed: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    stop: asyncio.Event | None = None,
    prefix: str = "",
    counts: Counter[str] | None = None,
    config: PulseConfig | None = None,
) -> Counter[str]:
    """Send every line of `log`; with `speed`, event-time gaps are replayed `speed`x faster.

    With `config`, also the ticks an in-process replay of the log would make
    (streams/core/ticks.py): one record per other partition of the `clicks` topic, written
    just before the event that moved the log's time past an hour, so a worker's idle
    partitions follow the others exactly as in-process.
    """
    ticks = (
        TickClock(config.stream.partitions, config.stream.max_future_days * MS_PER_DAY)
        if config
        else None
    )
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
                if ticks is not None and config is not None:
                    for partition, tick in ticks_before(raw, ticks, config):
                        await producer.send(
                            prefix + TICK_TOPIC,
                            value=tick_record(partition, tick),
                            partition=partition,
                        )
                        counts["ticks"] += 1
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
