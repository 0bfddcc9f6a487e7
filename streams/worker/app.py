"""The Faust application: topics, the users table, one thin agent and rebalance hooks.

The agent only moves records: it hands each one to the runtime (decode, merge, core),
sends what comes back, saves changed users, and acks what was processed.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.types import TP

from streams.core.config import PulseConfig
from streams.core.outputs import OUTPUT_TOPICS, Output, encode
from streams.core.topics import INPUT_TOPICS
from streams.settings import Settings
from streams.worker.kafka_clients import aiokafka_options, faust_credentials
from streams.worker.recovery import read_to_end, repair
from streams.worker.runtime import WorkerRuntime

log = logging.getLogger("pulse.worker")
USERS_TABLE = "users"


class PulseWorker:
    """Builds the Faust app for one worker process and wires it to a WorkerRuntime."""

    def __init__(self, settings: Settings, config: PulseConfig) -> None:
        self.settings = settings
        self.config = config
        partitions = config.stream.partitions
        self.app = faust.App(
            settings.app_id,
            broker=settings.broker_urls(),
            broker_credentials=faust_credentials(settings),
            store="memory://",
            datadir=str(settings.workdir),
            topic_partitions=partitions,
            topic_replication_factor=1,
            broker_session_timeout=settings.session_timeout_s,
            broker_heartbeat_interval=max(0.5, settings.session_timeout_s / 5),
            broker_commit_interval=settings.commit_interval_s,
            consumer_auto_offset_reset="earliest",
            processing_guarantee="at_least_once",
            web_enabled=False,
            key_serializer="raw",
            value_serializer="raw",
        )
        self.inputs = self.app.topic(
            *(settings.topic(name) for name in INPUT_TOPICS),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )
        self.outputs = {
            name: self.app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw")
            for name in OUTPUT_TOPICS
        }
        self._logical = {settings.topic(name): name for name in INPUT_TOPICS}
        # Keys and values are bytes (user id, JSON state); the app's default codec is raw.
        self.table = self.app.Table(
            USERS_TABLE, partitions=partitions, key_type=bytes, value_type=bytes
        )
        verify = self._verify_partition if settings.verify_recovery else None
        self.runtime = WorkerRuntime(config, self.table, self._highwater, verify)
        self.rebalances = 0
        self.app.agent(self.inputs, name="pulse-events", concurrency=1)(self._agent)
        # Faust calls handlers as (sender, revoked, signal=...); **_ takes the keyword.
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]

    def _highwater(self, topic: str, partition: int) -> int | None:
        try:
            value = self.app.consumer.highwater(TP(self.settings.topic(topic), partition))
        except Exception:  # noqa: BLE001 - unknown yet: do not hold records back for it
            return None
        return int(value) if value is not None and value >= 0 else None

    async def _verify_partition(self, partition: int) -> int:
        topic = self.table.changelog_topic.get_topic_name()
        latest = await read_to_end(aiokafka_options(self.settings), topic, partition)
        repaired = repair(self.table.data, latest)
        if repaired:
            log.warning(
                "table recovery missed %d updates in %s[%d]; repaired from a full read",
                repaired,
                topic,
                partition,
            )
        return repaired

    async def _on_revoked(self, sender: Any, revoked: set[TP], **_: Any) -> None:
        self.rebalances += 1
        self.runtime.forget({tp.partition for tp in revoked if tp.topic in self._logical})

    def _emit(self, output: Output) -> None:
        self.outputs[output.topic].send_soon(
            key=output.key.encode("utf-8"), value=encode(output.value)
        )

    async def _agent(self, stream: Any) -> None:
        stream = stream.noack()
        async for event in stream.events():
            message = event.message
            partition = message.partition
            await self.runtime.ensure_partition(partition)
            immediate, ready, rekey_to = self.runtime.accept(
                self._logical[message.topic],
                partition,
                message.offset,
                message.key,
                event.value,
                event,
                message.topic,
            )
            if rekey_to is not None:
                # Not keyed by user id: send it again, keyed, to the partition owning the user.
                await self.app.topic(
                    message.topic, key_serializer="raw", value_serializer="raw"
                ).send(key=rekey_to.encode("utf-8"), value=event.value)
                await stream.ack(event)
                continue
            for output in immediate:
                self._emit(output)
            if immediate:
                await stream.ack(event)
            for pending in ready:
                for output in self.runtime.process(partition, pending):
                    self._emit(output)
            # Save changed users before acking: a committed offset implies saved state.
            self.runtime.flush(partition)
            for pending in ready:
                await stream.ack(pending.event)


def run_worker(settings: Settings, config: PulseConfig) -> int:
    """Run a worker until SIGTERM / Ctrl-C; returns the exit code."""
    worker = PulseWorker(settings, config)
    faust_worker = faust.Worker(
        worker.app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False
    )
    faust_worker.execute_from_commandline()
    return 0
