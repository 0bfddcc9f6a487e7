"""The worker's topology: the Faust app, its topics, the users table, and the wiring.

A record's path through the worker, one file each:

* here — the Faust app, the input topics, the `users` table (its changelog holds user
  states, progress records and model checkpoints), the consumer's batch handler, the
  rebalance signals and the 0.5 s timer;
* streams/worker/partition_task.py — where each record is taken and processed (the
  event-time merger and the core run through streams/worker/runtime.py);
* streams/worker/transaction.py — where its effects are saved and its offset committed,
  at-least-once or in one Kafka transaction per input partition;
* streams/worker/compat.py — every use of Faust's and aiokafka's internals, pinned by
  tests/unit/test_compat.py.

Two Faust 0.15 behaviours lose records, so the worker works around them (details in
docs/streaming.md): Faust clears stream buffers when flow resumes after a rebalance
(`PulseApp` keeps them), and its commit logic counts offset gaps as acknowledged (the
worker never acks through Faust; it commits the processed prefix itself, after saving).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust
from faust.types import TP

from streams.convert.formats import parse_formats
from streams.core.config import PulseConfig
from streams.core.ids import partition_for
from streams.core.outputs import OUTPUT_TOPICS
from streams.core.state import UserState
from streams.core.ticks import TICK_TOPIC
from streams.core.topics import INPUT_TOPICS
from streams.logs import json_logging
from streams.settings import Settings
from streams.worker.compat import (
    called_from_faust_channels,
    committed_offset,
    drain_in_batches,
    fetch_state,
    partition_owner,
    set_fetch_wait,
    stop_unowned_transactions,
    tables_recovered,
)
from streams.worker.kafka_clients import aiokafka_options, faust_credentials
from streams.worker.lookup import UserLookup
from streams.worker.partition_task import PartitionTask, on_records
from streams.worker.recovery import read_to_end, repair
from streams.worker.runtime import WorkerRuntime
from streams.worker.stall import StallWatch
from streams.worker.transaction import Transactions

log = logging.getLogger("pulse.worker")
USERS_TABLE = "users"
TICK_SECONDS = 0.5


class PulseApp(faust.App):
    """A Faust app whose input stream buffers survive flow resumption (see module doc),
    and whose consumer hands fetched input records over in batches (`batch_handler`)."""

    batch_handler: Any = None  # async (list of Faust messages, generation) -> None
    batch_topics: frozenset[str] = frozenset()

    def _new_consumer(self) -> Any:
        consumer = super()._new_consumer()
        if self.batch_handler is not None:
            drain_in_batches(consumer, self.batch_topics, self.batch_handler)
        return consumer

    def FlowControlQueue(self, maxsize: int | None = None, *, clear_on_resume: bool = False) -> Any:
        if called_from_faust_channels():
            # A record in the buffer was fetched for the current assignment (older
            # generations are skipped by the stream); dropping it loses it when Faust's
            # read offset has already moved past it. Duplicates are ignored downstream.
            clear_on_resume = False
        return super().FlowControlQueue(maxsize, clear_on_resume=clear_on_resume)


class PulseWorker:
    """Builds the Faust app for one worker process and wires its parts together."""

    def __init__(self, settings: Settings, config: PulseConfig) -> None:
        self.settings = settings
        self.config = config
        partitions = config.stream.partitions
        self.app = PulseApp(
            settings.app_id,
            broker=settings.broker_urls(),
            broker_credentials=faust_credentials(settings),
            store="memory://",
            datadir=str(settings.workdir),
            topic_partitions=partitions,
            topic_replication_factor=settings.replication_factor,
            broker_session_timeout=settings.session_timeout_s,
            broker_heartbeat_interval=max(0.5, settings.session_timeout_s / 5),
            broker_commit_interval=settings.commit_interval_s,
            consumer_auto_offset_reset="earliest",
            # exactly_once: Faust keeps one transactional producer per input partition
            # (fencing a zombie owner) and reads with isolation read_committed; the worker
            # puts everything a batch caused into that partition's transaction.
            processing_guarantee=settings.processing_guarantee,
            # Records are never acked through Faust (the worker commits its own offsets);
            # shutdown and rebalances must not wait for acks.
            stream_wait_empty=False,
            web_enabled=False,
            # Shared with the group in the assignment: where `GET /users/{id}` is answered.
            canonical_url=settings.lookup_url(),
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
        self._logical = {settings.topic(name): name for name in INPUT_TOPICS}
        # Keys and values are bytes (user id, JSON state); the app's default codec is raw.
        # The changelog is compacted (Faust's default for tables); rolling segments and a
        # maximum compaction lag bound how long an erased user's earlier states survive.
        self.table = self.app.Table(
            USERS_TABLE,
            partitions=partitions,
            key_type=bytes,
            value_type=bytes,
            extra_topic_configs={
                "cleanup.policy": "compact",
                "segment.ms": str(settings.changelog_segment_ms),
                "max.compaction.lag.ms": str(settings.changelog_max_compaction_lag_ms),
                "min.cleanable.dirty.ratio": "0.01",
                "delete.retention.ms": str(settings.changelog_max_compaction_lag_ms),
            },
        )
        self._changelog = self.table.changelog_topic.get_topic_name()
        # Restored tables are checked against a full read of the changelog on tansu (end
        # offsets under-reported: Faust's restore stops short), and always under
        # exactly-once: there the changelog holds aborted transactions' writes and their
        # markers, and a Kafka run without the check restored a state the replay never had
        # (two workers, one SIGKILLed: other segment changes than the replay).
        check = settings.tansu_quirks() or settings.exactly_once()
        verify = self._verify_partition if check else None
        self.runtime = WorkerRuntime(
            config,
            self.table,
            self._fetch_state,
            self._save_user,
            verify,
            self._committed,
            parse_formats(settings.input_format, INPUT_TOPICS),
            settings.input_currency.upper(),
            settings.merge_idle_ms / 1000,
        )
        self.transactions = Transactions(
            self.app,
            self.runtime,
            self._changelog,
            {name: settings.topic(name) for name in OUTPUT_TOPICS},
            lambda: self.task.assignment,
            settings.exactly_once(),
            settings.commit_interval_s,
            settings.event_timestamps(),
            f"pulse/{settings.app_id}",
        )
        # Live ticks (streams/core/ticks.py): idle partitions follow this worker's time.
        live_ticks = settings.publish_ticks and config.stream.idle_partition_lag_minutes > 0
        self.task = PartitionTask(
            self.app,
            self.runtime,
            self.transactions,
            self._logical,
            settings.topic(TICK_TOPIC) if live_ticks else None,
        )
        self.rebalances = 0
        self.stall = StallWatch(settings.stall_after_s)
        self._heartbeat: float | None = None  # when the loop last ran the timer
        self._loop: asyncio.AbstractEventLoop | None = None  # for lookups from other threads
        self.app.agent(self.inputs, name="pulse-events", concurrency=1)(on_records(self.task))
        if settings.fetch_batches:
            # Records of the input topics skip Faust's per-record stream: each fetched
            # batch comes straight to the partition task (streams/worker/compat.py says why).
            self.app.batch_topics = frozenset(self._logical)
            self.app.batch_handler = self.task.take_fetched
        # Faust calls handlers as (sender, revoked, signal=...); **_ takes the keyword.
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        self.app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]
        self.app.timer(interval=TICK_SECONDS, name="pulse-tick")(self._tick)
        self.app.on_before_shutdown.connect(self._on_shutdown)  # type: ignore[arg-type]

    # -- the table's changelog ---------------------------------------------------------

    async def _save_user(self, key: bytes, value: bytes | None, partition: int) -> Any:
        return await self.transactions.save_user(key, value, partition)

    def _fetch_state(self, topic: str, partition: int) -> tuple[int | None, int | None]:
        """(highwater, fetch position) of an input partition; (None, None) if unknown."""
        return fetch_state(self.app, self.settings.topic(topic), partition)

    def _committed(self, topic: str, partition: int) -> int | None:
        return committed_offset(self.app, self.settings.topic(topic), partition)

    async def _verify_partition(self, partition: int) -> int:
        topic = self._changelog
        options = aiokafka_options(self.settings)
        if self.transactions.exactly_once:  # what aborted transactions wrote is not state
            options["isolation_level"] = "read_committed"
        latest = await read_to_end(options, topic, partition)
        repaired = repair(self.table.data, latest)
        if repaired:
            log.warning(
                "table recovery missed %d updates in %s[%d]; repaired from a full read",
                repaired,
                topic,
                partition,
            )
        return repaired

    # -- rebalances, the timer, shutdown ------------------------------------------------

    async def _on_assigned(self, sender: Any, assigned: set[TP], **_: Any) -> None:
        self._loop = asyncio.get_running_loop()
        self.task.assignment = {tp for tp in assigned if tp.topic in self._logical}
        mine = sorted({tp.partition for tp in self.task.assignment})
        log.info("rebalance: partitions %s assigned", mine)
        # aiokafka's debug records cost ~4 % of the worker's time even when not shown.
        logging.getLogger("aiokafka").setLevel(max(logging.INFO, log.getEffectiveLevel()))
        set_fetch_wait(self.app, self.settings.fetch_max_wait_ms)
        if self.transactions.exactly_once:
            stopped = await stop_unowned_transactions(
                self.app, self._changelog, set(mine), self.config.stream.partitions
            )
            if stopped:
                log.info("stopped transactional producers of partitions moved away: %s", stopped)

    async def _on_revoked(self, sender: Any, revoked: set[TP], **_: Any) -> None:
        self.rebalances += 1
        moved = {tp.partition for tp in revoked if tp.topic in self._logical}
        log.info("rebalance: partitions %s revoked", sorted(moved))
        # What was taken is saved and committed, and the partitions forgotten, in one
        # turn of the lock: no record or batch runs between the save and the forgetting,
        # so nothing is processed that the save does not hold. (The assignment shrinks
        # only after the commit: exactly-once commits the transaction of every partition
        # that wrote, found through it — one left open would hold every read_committed
        # reader of the outputs until the transaction timeout.)
        async with self.task.lock:
            try:
                async with asyncio.timeout(5.0):
                    await self.transactions.save_everything(
                        commit=True
                    )  # the new owner re-reads less
            except Exception as exc:  # noqa: BLE001 - at-least-once: unsaved records are re-read
                log.warning("saving state before revocation failed: %r", exc)
            finally:
                self.task.forget(moved)

    async def _tick(self) -> None:
        self._heartbeat = time.monotonic()  # before the lock: the loop itself is alive
        await self.task.on_timer()

    async def _on_shutdown(self, sender: Any = None, **_: Any) -> None:
        """Save what was processed (the consumer is stopped; progress covers the rest)."""
        try:
            async with asyncio.timeout(10.0), self.task.lock:
                await self.transactions.save_everything(commit=False)
        except Exception as exc:  # noqa: BLE001 - at-least-once: unsaved records are re-read
            log.warning("saving state at shutdown failed: %r", exc)

    # -- lookups, health and lag (the metrics server's thread) --------------------------

    def user_lookup(self) -> UserLookup:
        """`GET /users/{id}` for the metrics server's thread (streams/worker/lookup.py)."""
        return UserLookup(
            self.config.stream.partitions,
            lambda partition: partition_owner(self.app, self._changelog, partition),
            self.settings.lookup_url(),
            self._view_from_thread,
        )

    def _view_from_thread(self, user_id: str) -> UserState | None:
        loop = self._loop
        if loop is None or loop.is_closed():
            raise LookupError("the worker has not joined its group yet")
        # Read on the event loop, between records: never a half-applied event.
        return asyncio.run_coroutine_threadsafe(self._view(user_id), loop).result(timeout=5.0)

    async def _view(self, user_id: str) -> UserState | None:
        partition = partition_for(user_id, self.config.stream.partitions)
        if partition not in {tp.partition for tp in self.task.assignment}:
            raise LookupError(f"partition {partition} is moving to another worker")
        if not tables_recovered(self.app):
            raise LookupError("restoring tables from the changelog")
        if partition not in self.runtime.partitions:
            await self.runtime.ensure_partition(partition)
        return self.runtime.partitions[partition].store.get(user_id)

    def liveness(self) -> tuple[bool, str]:
        """(alive?, why) for /healthz: the event loop ran its timer lately.

        The metrics server answers from its own thread, so without this a hung loop would
        still look healthy. Idle and caught up is alive: the timer runs regardless.
        """
        if self._heartbeat is None:
            return True, "starting"
        age = time.monotonic() - self._heartbeat
        if age > self.settings.liveness_after_s:
            return False, f"event loop stalled: its timer last ran {age:.0f} s ago"
        return True, f"ok: event loop ran {age:.1f} s ago"

    def readiness(self) -> tuple[bool, str]:
        """(ready?, why): partitions assigned and restored, no rebalance in progress."""
        app = self.app
        if not app.consumer_generation_id and not self.task.assignment and not self.rebalances:
            return False, "not joined to the consumer group yet"
        if getattr(app, "rebalancing", False):
            return False, "rebalancing"
        if not tables_recovered(app):
            return False, "restoring tables from the changelog"
        stuck = self.stall.observe(time.monotonic(), self.positions())
        if stuck:
            return False, "stuck: " + "; ".join(stuck[:3])
        return True, f"ready: {len(self.task.assignment)} input topic-partitions assigned"

    def positions(self) -> dict[tuple[str, int], tuple[int, int]]:
        """(committed offset, lag) per assigned input partition, where known."""
        found = {}
        for tp in list(self.task.assignment):
            logical = self._logical[tp.topic]
            highwater, _ = self._fetch_state(logical, tp.partition)
            if highwater is not None:
                committed = self._committed(logical, tp.partition) or 0
                found[(logical, tp.partition)] = (committed, max(0, highwater - committed))
        return found

    def lag(self) -> dict[tuple[str, int], int]:
        """Consumer lag per assigned input partition: log end offset − committed offset."""
        return {key: lag for key, (_, lag) in self.positions().items()}


def run_worker(settings: Settings, config: PulseConfig) -> int:
    """Run a worker until SIGTERM / Ctrl-C; returns the exit code."""
    worker = PulseWorker(settings, config)
    from streams.metrics import build_registry, serve

    for warning in settings.warnings():
        log.warning("insecure setting: %s", warning)

    registry = build_registry(worker, faust_sensors=settings.faust_sensors)
    try:
        serve(
            registry,
            settings.metrics_host,
            settings.metrics_port,
            worker.readiness,
            worker.liveness,
            worker.user_lookup() if settings.user_lookup else None,
        )
    except OSError as exc:
        log.error(
            "metrics endpoint %s:%d unavailable (%s); set --metrics-port / PULSE_METRICS_PORT",
            settings.metrics_host,
            settings.metrics_port,
            exc,
        )
    logging_config = json_logging(settings.log_level) if settings.log_format == "json" else None
    faust_worker = faust.Worker(
        worker.app,
        loglevel=settings.log_level,
        quiet=True,
        redirect_stdouts=False,
        logging_config=logging_config,
    )
    faust_worker.execute_from_commandline()
    return 0
