"""Time for quiet partitions: ticks that carry the log's event time to every partition.

Watermarks are per partition, so a partition that receives no more events would never see
its users become dormant. Stream processors solve this with "idle sources": a partition
with no data follows the others. To keep the in-process replay and the worker byte for byte
the same, the signal travels *in the data*: each time the log's event time crosses a whole
hour, a tick `{"type":"tick","ts":…,"partition":p}` goes to every other partition than the
event's own — synthesized by
the in-process pipeline, and written into every partition of the `clicks` topic by
`pulse replay --broker` at the same place in the log. A tick moves a partition's clock to
`tick − stream.idle_partition_lag_minutes` (a day) if it is behind that: an active
partition never is, so ticks change nothing there; an idle one fires its users' due
changes, at most a day late.

The log's event time is the highest event time among valid events, each counted only if it
is within `stream.max_future_days` of its own partition's latest (as the pipeline counts
them), so one mistyped year cannot push every partition into the future.

Live, no producer writes ticks: the worker publishes them itself (`PULSE_PUBLISH_TICKS`,
on by default). Each worker runs a `TickClock` over the valid events it processes and, when
it announces an hour, writes a tick to every other partition of `clicks`; the partition's
owner — this worker or another — merges it like the log's own ticks. A clock all workers
share, through the input topic itself, with the same rule (an idle partition follows a day
behind). Ticks are idempotent (they only move a clock forward), so a log that carries
ticks (`pulse replay --broker`) and the workers' own live ones do not add up; what is not
deterministic live is only *when* an idle partition hears of an hour, never what its due
changes say (each carries its own due time).

>>> clock = TickClock(partitions=2, max_future_ms=10**12)
>>> clock.feed(0, 3_600_000 * 5 + 7)   # the first event only sets the hour
[]
>>> clock.feed(1, 3_600_000 * 7 + 1)   # crosses 06:00 and 07:00: the latest is enough
[25200000]
"""

from __future__ import annotations

from typing import Any, Final

import orjson

HOUR_MS: Final = 3_600_000
TICK_PREFIX: Final = b'{"type":"tick",'
TICK_TOPIC: Final = "clicks"  # ticks ride on the busiest input topic


class TickClock:
    """The ticks due as valid events arrive (the same in replay and in the producer)."""

    def __init__(self, partitions: int, max_future_ms: int) -> None:
        self.latest = [0] * partitions
        self.max_future_ms = max_future_ms
        self.next_tick = 0  # the next hour to announce; 0 before the first event

    def feed(self, partition: int, ts: int) -> list[int]:
        own = self.latest[partition]
        if own and ts > own + self.max_future_ms:
            return []  # the pipeline refuses it too: it moves no clock
        self.latest[partition] = max(own, ts)
        now = max(self.latest)
        if not self.next_tick:
            self.next_tick = (now // HOUR_MS + 1) * HOUR_MS
            return []
        if now < self.next_tick:
            return []
        # Only the latest hour passed matters: a tick moves clocks forward, never back.
        tick = now // HOUR_MS * HOUR_MS
        self.next_tick = tick + HOUR_MS
        return [tick]


def tick_record(partition: int, ts: int) -> bytes:
    """The record a tick is on a topic (only Pulse's own producer writes these)."""
    return orjson.dumps({"type": "tick", "ts": ts, "partition": partition})


def read_tick(raw: bytes) -> tuple[int, int] | None:
    """(partition, ts) of a tick record, or None if `raw` is not one.

    >>> read_tick(tick_record(3, 7200000)), read_tick(b'{"type":"click"}')
    ((3, 7200000), None)
    """
    if not raw.startswith(TICK_PREFIX):
        return None
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    partition, ts = data.get("partition"), data.get("ts")
    if (
        set(data) != {"type", "ts", "partition"}
        or type(partition) is not int
        or type(ts) is not int
    ):
        return None
    if partition < 0 or ts < 0:
        return None
    return partition, ts
