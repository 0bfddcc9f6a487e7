"""Make sure Pulse's topics exist with the partition count the config expects."""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.core.errors import ConfigError
from streams.core.topics import ALL_TOPICS, INPUT_TOPICS, TOPIC_CONFIGS


async def ensure_topics(
    options: dict[str, Any],
    partitions: int,
    config_source: str,
    prefix: str = "",
    replication_factor: int = 1,
    configs: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    """Create missing topics; fail clearly when an input topic has another partition count.

    Users are assigned to partitions by hashing their id over the partition count, so the
    input topics must have exactly `stream.partitions` partitions. New topics get
    `replication_factor` replicas (PULSE_REPLICATION_FACTOR: 3 on a production cluster)
    and `configs` per logical topic (default `TOPIC_CONFIGS`; see `topic_configs`).
    """
    configs = TOPIC_CONFIGS if configs is None else configs
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
        missing = [name for name in ALL_TOPICS if prefix + name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        prefix + name,
                        partitions,
                        replication_factor,
                        topic_configs=configs.get(name, {}),
                    )
                    for name in missing
                ]
            )
        return [prefix + name for name in missing]
    finally:
        await admin.close()


def topic_configs(segment_ms: int, max_compaction_lag_ms: int) -> dict[str, dict[str, str]]:
    """`TOPIC_CONFIGS` with the compacted topics bounded like the users changelog: a
    segment rolls after `segment_ms` and is compacted within `max_compaction_lag_ms`, so
    an erased user's earlier profiles are gone within that time.

    >>> topic_configs(60_000, 120_000)["user-profiles"]["max.compaction.lag.ms"]
    '120000'
    """
    bounded = {"segment.ms": str(segment_ms), "max.compaction.lag.ms": str(max_compaction_lag_ms)}
    return {
        name: {**config, **bounded} if config.get("cleanup.policy") == "compact" else config
        for name, config in TOPIC_CONFIGS.items()
    }
