"""Check a recovered table partition against a full read of its changelog.

Faust recovers a table by reading its changelog up to the end offset the broker reports.
The embedded broker (tansu 0.6) reports the start of the partition's last batch + 1, so
the rest of that batch is skipped and the table comes back with stale values. Reading
the changelog partition until it stays empty, then repairing the table with the latest
value per key, restores exactly what was written. On Kafka the check finds nothing.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


async def read_to_end(
    options: dict[str, Any], topic: str, partition: int, quiet_ms: int = 50
) -> dict[bytes, bytes | None]:
    """Latest value per key in one partition (None = tombstone), read to its true end.

    The reported end offset may fall inside the last batch; fetches return whole
    batches, so once the position passes the reported end the last batch is in, and one
    short extra poll picks up anything the broker still holds.
    """
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=quiet_ms,  # tansu answers a waiting fetch only at its deadline
        **options,
    )
    await consumer.start()
    latest: dict[bytes, bytes | None] = {}
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        last_poll = False
        while True:
            batch = await consumer.getmany(tp, timeout_ms=quiet_ms)
            for record in batch.get(tp, []):
                if record.key is not None:
                    latest[record.key] = record.value
            if last_poll:
                break
            last_poll = await consumer.position(tp) >= end and not batch.get(tp)
    finally:
        await consumer.stop()
    return latest


def repair(data: Any, latest: dict[bytes, bytes | None]) -> int:
    """Make the table's store match the changelog; returns how many keys were wrong."""
    repaired = 0
    for key, value in latest.items():
        current = data.get(key)
        if value is None:
            if current is not None:
                del data[key]
                repaired += 1
        elif current != value:
            data[key] = value
            repaired += 1
    return repaired
