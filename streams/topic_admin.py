"""Make sure Pulse's topics exist with the partition count the config expects."""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.core.errors import ConfigError
from streams.core.topics import ALL_TOPICS, INPUT_TOPICS


async def ensure_topics(
    options: dict[str, Any],
    partitions: int,
    config_source: str,
    prefix: str = "",
    replication_factor: int = 1,
) -> list[str]:
    """Create missing topics; fail clearly when an input topic has another partition count.

    Users are assigned to partitions by hashing their id over the partition count, so the
    input topics must have exactly `stream.partitions` partitions. New topics get
    `replication_factor` replicas (PULSE_REPLICATION_FACTOR: 3 on a production cluster).
    """
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        present = [prefix + name for name in INPUT_TOPICS if prefix + name in existing]
        if present:
            described = await admin.describe_topics(present)
            for topic in described:
                count = len(topic.get("partitions", []))
                if count and count != partitions:
                    raise ConfigError(
                        config_source,
                        None,
                        f"topic {topic['topic']!r} has {count} partitions but "
                        f"stream.partitions is {partitions}",
                        f"set 'stream.partitions: {count}' in the config, or recreate the topics",
                    )
        missing = [prefix + name for name in ALL_TOPICS if prefix + name not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(name, partitions, replication_factor) for name in missing]
            )
        return missing
    finally:
        await admin.close()
