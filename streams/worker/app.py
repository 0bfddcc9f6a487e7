"""The Faust application: topics, the users table, one thin agent and rebalance hooks.

The agent only moves records (with PULSE_FETCH_BATCHES=1 the consumer hands each fetch
to the worker as one batch instead, past Faust's per-record stream): it hands each one
to the runtime (decode, merge, core), sends what comes back, saves changed users and
their progress, and commits the offsets of what was processed. Two Faust 0.15 behaviours lose records, so the worker works around
them (details in docs/streaming.md):

* Faust clears stream buffers when flow resumes after a rebalance, while a fetch that
  started before its seek to the committed offsets can still set the read offset past
  them: the cleared records are then skipped. `PulseApp` keeps the input buffers.
* Faust's commit logic counts offset "gaps" as acknowledged and commits past records that
  were acked out of order. The worker never acks through Faust; it commits the processed
  prefix of each partition itself, after the state it stands for is saved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import faust
from faust.types import TP

from streams.convert.formats import parse_formats
from streams.core.config import PulseConfig
from streams.core.events import PROCESSING_ERROR
from streams.core.ids import partition_for
from streams.core.outputs import (
    OUTPUT_TOPICS,
    Output,
    encode,
    headers,
    is_tombstone,
    record_time,
)
from streams.core.pipeline import reject
from streams.core.state import UserState
from streams.core.ticks import TICK_TOPIC, tick_record
from streams.core.topics import INPUT_TOPICS
from streams.logs import json_logging
from streams.settings import Settings
from streams.worker.acks import AckSequencer
from streams.worker.compat import (
    called_from_faust_channels,
    commit_offsets,
    committed_offset,
    drain_in_batches,
    ensure_transaction,
    fetch_state,
    partition_owner,
    set_fetch_wait,
    stale_fetch,
    tables_recovered,
    transactional_id,
)
from streams.worker.kafka_clients import aiokafka_options, faust_credentials
from streams.worker.lookup import UserLookup
from streams.worker.recovery import read_to_end, repair
from streams.worker.runtime import WorkerRuntime
from streams.worker.stall import StallWatch

log = logging.getLogger("pulse.worker")
USERS_TABLE = "users"
TICK_SECONDS = 0.5
# Changed users are saved per batch, then their offsets committed: every commit interval
# (PULSE_COMMIT_INTERVAL_S), or after this many processed records if that comes first.
# Saving more often than committing would only write more states (each changed user is
# written once per save): at 0.25 s the changelog held 1.7x the input's bytes.
SAVE_RECORDS = 5_000


class Taken:
    """A fetched input record as the worker handles it: Faust's message and its value
    (what a Faust event carries, without building one)."""

    __slots__ = ("message", "value")

    def __init__(self, message: Any) -> None:
        self.message = message
        self.value = message.value


class PulseApp(faust.App):
    """A Faust app whose input stream buffers survive flow resumption (see module doc),
    and whose consumer hands fetched input records over in batches (`batch_handler`)."""

    batch_handler: Any = None  # async (list of Faust messages) -> None
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
    """Builds the Faust app for one worker process and wires it to a WorkerRuntime."""

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
            # puts everything a batch caused into that partition's transaction (below).
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
        self._output_names = {name: settings.topic(name) for name in OUTPUT_TOPICS}
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
        verify = self._verify_partition if settings.verify_recovery else None
        self.runtime = WorkerRuntime(
            config,
            self.table,
            self._fetch_state,
            self._save_user,
            verify,
            self._committed,
            parse_formats(settings.input_format, INPUT_TOPICS),
            settings.input_currency.upper(),
        )
        self._assignment: set[TP] = set()
        self.acks = AckSequencer()
        self._uncommitted: dict[TP, int] = {}
        self._last_commit = time.monotonic()
        self._lock = asyncio.Lock()  # the agent and the tick take turns on the runtime
        self._unsaved: dict[int, list[Any]] = {}  # partition → processed, state not saved
        self._unsaved_count = 0
        self._last_flush = time.monotonic()
        self.rebalances = 0
        self.stall = StallWatch(settings.stall_after_s)
        self._heartbeat: float | None = None  # when the loop last ran the timer
        self._loop: asyncio.AbstractEventLoop | None = None  # for lookups from other threads
        # Live ticks (streams/core/ticks.py): idle partitions follow this worker's time.
        self._publish_ticks = (
            settings.publish_ticks and config.stream.idle_partition_lag_minutes > 0
        )
        self._tick_topic = settings.topic(TICK_TOPIC)
        self._source = f"pulse/{settings.app_id}"  # ce_source of every output
        self._event_timestamps = settings.event_timestamps()
        self._exactly_once = settings.exactly_once()
        self._current = 0  # the input partition whose records are being handled
        self._in_transaction: set[int] = set()  # partitions with writes since their commit
        # Exactly-once: a record's immediate outputs, held until its offset is released.
        self._held: dict[tuple[Any, int], tuple[list[Output], str | None]] = {}
        self.app.agent(self.inputs, name="pulse-events", concurrency=1)(self._agent)
        if settings.fetch_batches:
            # Records of the input topics skip Faust's per-record stream: each fetched
            # batch comes straight to `_take_batch` (streams/worker/compat.py says why).
            self.app.batch_topics = frozenset(self._logical)
            self.app.batch_handler = self._take_fetched
        # Faust calls handlers as (sender, revoked, signal=...); **_ takes the keyword.
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        self.app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]
        self.app.timer(interval=TICK_SECONDS, name="pulse-tick")(self._tick)
        self.app.on_before_shutdown.connect(self._on_shutdown)  # type: ignore[arg-type]

    async def _on_assigned(self, sender: Any, assigned: set[TP], **_: Any) -> None:
        self._loop = asyncio.get_running_loop()
        self._assignment = {tp for tp in assigned if tp.topic in self._logical}
        mine = sorted({tp.partition for tp in self._assignment})
        log.info("rebalance: partitions %s assigned", mine)
        # aiokafka's debug records cost ~4 % of the worker's time even when not shown.
        logging.getLogger("aiokafka").setLevel(max(logging.INFO, log.getEffectiveLevel()))
        set_fetch_wait(self.app, self.settings.fetch_max_wait_ms)

    def _fetch_state(self, topic: str, partition: int) -> tuple[int | None, int | None]:
        """(highwater, fetch position) of an input partition; (None, None) if unknown."""
        return fetch_state(self.app, self.settings.topic(topic), partition)

    def _committed(self, topic: str, partition: int) -> int | None:
        return committed_offset(self.app, self.settings.topic(topic), partition)

    async def _verify_partition(self, partition: int) -> int:
        topic = self._changelog
        options = aiokafka_options(self.settings)
        if self._exactly_once:  # what aborted transactions wrote is not state
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
        async with self._lock:
            try:
                async with asyncio.timeout(5.0):
                    await self._save_everything(commit=True)  # the new owner re-reads less
            except Exception as exc:  # noqa: BLE001 - at-least-once: unsaved records are re-read
                log.warning("saving state before revocation failed: %r", exc)
            finally:
                self._forget(moved)

    def _forget(self, moved: set[int]) -> None:
        """Drop every trace of partitions that moved away (they are read again from their
        committed offsets by whoever owns them next)."""
        self._assignment = {tp for tp in self._assignment if tp.partition not in moved}
        self.runtime.forget(moved)
        self.acks.forget(moved)
        self._held = {key: held for key, held in self._held.items() if key[0][1] not in moved}
        for partition in moved:
            self._unsaved_count -= len(self._unsaved.pop(partition, ()))
        self._uncommitted = {
            tp: offset for tp, offset in self._uncommitted.items() if tp.partition not in moved
        }

    async def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        record_headers: list[tuple[str, bytes]] | None = None,
        timestamp_ms: int | None = None,
        transactional: bool = True,
    ) -> Any:
        # Straight into Faust's producer: the Topic/Channel path costs more than the
        # core's work per event, and `send_soon`'s buffer may not be flushed before a
        # commit. The producer's flush before each commit covers what is sent here.
        # Faust's producer takes seconds and truncates `s * 1000.0` back to ms; half a ms
        # more keeps float rounding from ever landing one ms early.
        timestamp = (timestamp_ms + 0.5) / 1000 if timestamp_ms is not None else None
        transaction = None
        if self._exactly_once and transactional:
            # Into the transaction of the input partition whose records caused it.
            transaction = transactional_id(self.app, self._changelog, self._current)
            await ensure_transaction(self.app, transaction)
            self._in_transaction.add(self._current)
        return await self.app.producer.send(
            topic, key, value, partition, timestamp, record_headers, transactional_id=transaction
        )

    async def _save_user(self, key: bytes, value: bytes | None, partition: int) -> Any:
        self._current = partition
        return await self._send(self._changelog, key, value, partition)

    async def _emit(self, output: Output) -> None:
        await self._send(
            self._output_names[output.topic],
            output.key.encode("utf-8"),
            None if is_tombstone(output) else encode(output.value),
            None,
            headers(output, self._source),
            record_time(output) if self._event_timestamps else None,
        )

    async def _commit(self, force: bool = False) -> None:
        """Commit the processed prefix of each partition (at most every commit interval).

        At-least-once: flushes the producer first, so every output and saved state
        before these offsets is on the broker. Exactly-once: commits each partition's
        transaction with its offsets — the caller saved everything first, in the same
        turn, so the transaction holds exactly what these offsets caused.
        """
        if self._exactly_once:
            await self._commit_transactions()
            return
        if not self._uncommitted or not (force or self._commit_due(time.monotonic())):
            return
        offsets, self._uncommitted = self._uncommitted, {}
        self._last_commit = time.monotonic()
        await commit_offsets(self.app, offsets)  # (partitions no longer assigned left out)

    async def _commit_transactions(self) -> None:
        offsets, self._uncommitted = self._uncommitted, {}
        self._last_commit = time.monotonic()
        # A partition that wrote but moved no offset (a batch still in the merger) commits
        # its current offsets again, so no transaction stays open to time out.
        moved = {tp.partition for tp in offsets}
        for partition in self._in_transaction - moved:
            for tp in self._assignment:
                if tp.partition == partition and tp not in offsets:
                    committed = committed_offset(self.app, tp.topic, partition)
                    if committed is not None:
                        offsets[tp] = committed
        self._in_transaction = set()
        if offsets:
            await commit_offsets(self.app, offsets)

    def _commit_due(self, now: float) -> bool:
        return (
            bool(self._uncommitted) and now - self._last_commit >= self.settings.commit_interval_s
        )

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
        if partition not in {tp.partition for tp in self._assignment}:
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
        if not app.consumer_generation_id and not self._assignment and not self.rebalances:
            return False, "not joined to the consumer group yet"
        if getattr(app, "rebalancing", False):
            return False, "rebalancing"
        if not tables_recovered(app):
            return False, "restoring tables from the changelog"
        stuck = self.stall.observe(time.monotonic(), self.positions())
        if stuck:
            return False, "stuck: " + "; ".join(stuck[:3])
        return True, f"ready: {len(self._assignment)} input topic-partitions assigned"

    def positions(self) -> dict[tuple[str, int], tuple[int, int]]:
        """(committed offset, lag) per assigned input partition, where known."""
        found = {}
        for tp in list(self._assignment):
            logical = self._logical[tp.topic]
            highwater, _ = self._fetch_state(logical, tp.partition)
            if highwater is not None:
                committed = self._committed(logical, tp.partition) or 0
                found[(logical, tp.partition)] = (committed, max(0, highwater - committed))
        return found

    def lag(self) -> dict[tuple[str, int], int]:
        """Consumer lag per assigned input partition: log end offset − committed offset."""
        return {key: lag for key, (_, lag) in self.positions().items()}

    def _assigned(self, message: Any) -> bool:
        # Kept from the rebalance signals: asking the consumer builds a new set each time.
        return message.tp in self._assignment

    async def _agent(self, stream: Any) -> None:
        # With fetch_batches on, input records arrive through `_take_fetched` and this
        # stream stays empty (it still subscribes the topics); by default, and in the
        # agent's test context, it carries every record.
        stream = stream.noack()
        async for event in stream.events():
            await self._take_batch((event,))

    async def _take_fetched(self, messages: list[Any], generation: int) -> None:
        await self._take_batch([Taken(message) for message in messages], generation)

    async def _take_batch(self, records: Sequence[Any], generation: int | None = None) -> None:
        """Records in fetch order (each with `.message` and `.value`), in one turn.

        A batch fetched in an earlier consumer generation, or during a rebalance, is left
        alone, as Faust's streams leave such records: after the rebalance every partition
        is read again from its committed offset, with its table restored first.
        """
        async with self._lock:
            if generation is not None and stale_fetch(self.app, generation):
                log.info(
                    "a batch of %d records fetched before the rebalance is read again", len(records)
                )
                return
            observe, clock = self.runtime.observe, time.perf_counter
            for record in records:
                began = clock()
                await self._take_one(record)
                observe(clock() - began)

    async def _take_one(self, event: Any) -> None:
        message = event.message
        if not self._assigned(message):
            return  # fetched before a rebalance; redelivered to the new owner
        partition, tp = message.partition, (message.topic, message.partition)
        self._current = partition
        if partition not in self.runtime.partitions:  # an await per record costs; skip it
            await self.runtime.ensure_partition(partition)
        logical = self._logical[message.topic]
        if self.runtime.seen(logical, partition, message.offset):
            return  # delivered twice in one assignment: the first copy counts
        self.acks.delivered(tp, message.offset, event)
        accepted = self.runtime.accept(
            logical, partition, message.offset, message.key, event.value, event, message.topic
        )
        finished = [(tp, message.offset)]
        ready: list[Any] = []
        if accepted is not None:
            immediate, ready, rekey_to = accepted
            if self._exactly_once and (immediate or rekey_to is not None):
                # Sent when the record's turn comes (every earlier record of its
                # partition done), so they go in the transaction that commits its offset:
                # a kill can never leave them committed and the record to be read again.
                self._held[(tp, message.offset)] = (immediate, rekey_to)
            else:
                await self._send_immediate(message, event.value, immediate, rekey_to)
            if rekey_to is None and not immediate:
                finished = []  # queued in the merger; finished when processed
        await self._finish(partition, ready, finished)

    async def _send_immediate(
        self, message: Any, value: bytes | None, immediate: list[Output], rekey_to: str | None
    ) -> None:
        """A record's own outputs that need no processing: its dead letter, or the record
        itself re-sent, keyed by user id, to the partition owning the user."""
        if rekey_to is not None:
            await self._send(message.topic, rekey_to.encode("utf-8"), value, None)
        for output in immediate:
            await self._emit(output)

    async def _finish(self, partition: int, ready: list[Any], finished: list[Any]) -> None:
        """Process released records, save state and progress, then commit."""
        self._current = partition
        for pending in ready:
            for output in self._process(partition, pending):
                await self._emit(output)
            if self._publish_ticks:
                for target, hour in self.runtime.live_ticks(partition, pending):
                    # Outside the transaction: an open transaction on an input topic would
                    # hold every later record of that partition from read_committed
                    # consumers (the worker itself) until it commits. A tick only moves
                    # clocks forward, so one sent again after a crash changes nothing.
                    tick = tick_record(target, hour)
                    await self._send(self._tick_topic, None, tick, target, transactional=False)
            done = pending.event.message
            finished.append(((done.topic, done.partition), done.offset))
        released = [acked for done in finished for acked in self.acks.done(*done)]
        for acked in released:
            done = acked.message
            held = self._held.pop((done.tp, done.offset), None) if self._held else None
            if held is not None:
                await self._send_immediate(done, acked.value, *held)
            self.runtime.mark_processed(partition, self._logical[done.topic], done.offset)
        if released:
            self._unsaved.setdefault(partition, []).extend(released)
            self._unsaved_count += len(released)
        now = time.monotonic()
        if self._exactly_once:
            if now - self._last_commit >= self.settings.commit_interval_s:
                await self._save_and_commit()
            return
        if self._save_due(now):  # checked here: an await per record costs
            await self._save()
            await self._commit(force=True)

    def _save_due(self, now: float) -> bool:
        """At-least-once: a commit interval since the last save, or a full batch."""
        return bool(self._unsaved) and (
            self._unsaved_count >= SAVE_RECORDS
            or now - self._last_flush >= self.settings.commit_interval_s
        )

    async def _save_and_commit(self) -> None:
        """Exactly-once: users, models, ledger and progress of every partition, then each
        partition's transaction with its offsets — one turn, no record in between, so a
        transaction holds exactly what its offsets caused (models too: after a crash the
        partition restarts from a consistent point and replays to the same outputs)."""
        await self._save(final=True)
        await self._commit_transactions()

    def _process(self, partition: int, pending: Any) -> list[Output]:
        try:
            return self.runtime.process(partition, pending)
        except Exception as exc:
            source = pending.source
            decoded = pending.decoded
            event_id = getattr(decoded, "event_id", None)  # a tick has none
            log.error(
                "processing failed; the record goes to dead letters",
                exc_info=True,
                extra={**source, "event_id": event_id, "error": repr(exc)},
            )
            letter = reject(
                self.runtime.stats,
                self.runtime.config,
                pending.raw,
                PROCESSING_ERROR,
                repr(exc)[:500],
                source,
                getattr(decoded, "user_id", None),
                decoded.ts,
            )
            return [letter]

    async def _save(self, final: bool = False) -> None:
        """Save changed users and progress, then make their offsets committable.

        Outputs were sent as records were processed; saving after them means a committed
        offset implies saved state, and saved progress implies sent outputs. `final`
        (revocation, shutdown): every partition's changed models are written too.
        """
        unsaved, self._unsaved, self._unsaved_count = self._unsaved, {}, 0
        self._last_flush = time.monotonic()
        for partition, released in unsaved.items():
            if partition not in self.runtime.partitions:
                continue  # moved away: the new owner re-reads from the last commit
            self._current = partition
            await self.runtime.flush(partition, final)
            for acked in released:
                self._uncommitted[acked.message.tp] = acked.message.offset + 1
        if final:
            for partition in list(self.runtime.partitions):
                if partition not in unsaved:
                    self._current = partition
                    await self.runtime.flush(partition, final)

    async def _save_everything(self, commit: bool) -> None:
        """Every partition's changed users and models (revocation, shutdown). Exactly-once
        commits each partition's transaction with them; at-least-once commits only if
        `commit`."""
        if self._exactly_once:
            await self._save_and_commit()
        else:
            await self._save(final=True)
            if commit:
                await self._commit(force=True)

    async def _on_shutdown(self, sender: Any = None, **_: Any) -> None:
        """Save what was processed (the consumer is stopped; progress covers the rest)."""
        try:
            async with asyncio.timeout(10.0), self._lock:
                await self._save_everything(commit=False)
        except Exception as exc:  # noqa: BLE001 - at-least-once: unsaved records are re-read
            log.warning("saving state at shutdown failed: %r", exc)

    async def _tick(self) -> None:
        """Release records the merger holds once their sources turn out to be drained.

        Records only arrive when someone produces; without this a quiet partition would
        keep its last records queued until the next one comes.
        """
        self._heartbeat = time.monotonic()  # before the lock: the loop itself is alive
        async with self._lock:
            for partition in list(self.runtime.partitions):
                ready = self.runtime.poll(partition)
                if ready:
                    await self._finish(partition, ready, [])
            if self._exactly_once:
                if time.monotonic() - self._last_commit >= self.settings.commit_interval_s:
                    await self._save_and_commit()
                return
            if self._save_due(time.monotonic()):
                await self._save()
            await self._commit()


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
