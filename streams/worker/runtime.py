"""Per-partition processing in the worker: merge the input topics, run the core, emit.

Faust delivers records of the four input topics in fetch order. For each partition the
runtime queues decoded events per topic in a `SourceMerger` and processes them in event
time order (see streams/core/merge.py). Records are acknowledged only once processed, so
a record still queued when the worker stops is redelivered, never lost.
"""

from __future__ import annotations

import gc
import logging
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from models.suite import restore_suite
from streams.convert.formats import PULSE, to_pulse
from streams.core.campaigns import Ledger
from streams.core.config import PulseConfig
from streams.core.errors import InvalidEvent
from streams.core.events import AnyEvent, decode_event
from streams.core.ids import partition_for
from streams.core.merge import SourceMerger
from streams.core.outputs import Output
from streams.core.pipeline import PartitionPipeline, Stats, undecodable
from streams.core.seen import SeenBefore
from streams.core.ticks import TickClock, read_tick
from streams.core.timefmt import MS_PER_DAY, format_ts
from streams.core.topics import INPUT_TOPICS
from streams.worker.store import (
    TableStore,
    decode_state,
    is_user_key,
    ledger_key,
    model_blobs,
    seen_key,
)

log = logging.getLogger("pulse.worker")
# Upper bounds (seconds) of the processing-time histogram buckets.
LATENCY_BOUNDS: tuple[float, ...] = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
)

# Upper bounds (seconds) of the record latency histogram: input record timestamp → its
# outputs handed to the producer. Fine steps up to a second: p99 is read from them.
RECORD_LATENCY_BOUNDS: tuple[float, ...] = (
    0.001,
    0.002,
    0.003,
    0.004,
    0.005,
    0.006,
    0.008,
    0.01,
    0.012,
    0.015,
    0.02,
    0.025,
    0.03,
    0.04,
    0.05,
    0.06,
    0.08,
    0.1,
    0.12,
    0.15,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.6,
    0.8,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    30.0,
    60.0,
)


class Histogram:
    """Observations counted into fixed buckets: a Prometheus histogram's raw counts
    (`streams.metrics.histogram` exports it)."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last: above every bound
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


HELD_WARNING_S = 30.0  # records held this long in the merger are explained in the log
# Ticks wait in a merger queue of their own, not in the FIFO of the topic they ride on:
# a tick published by a worker far ahead in event time can sit in that topic before
# records older than it. In the topic's queue it would be released before them (each
# source's queue is in offset order), jump the clock, and make them too late; in its own
# queue it goes only once every source is past it or read to its end — so it moves the
# clock of an idle partition, and of a partition whose worker is merely behind, nothing.
# First in the order: at a tie it comes before events, as in-process (a tick is applied
# before the event that produced it is processed).
TICKS = "ticks"


@dataclass(frozen=True, slots=True)
class Tick:
    """A tick record waiting in the merger: the log's event time reached `ts`."""

    ts: int


@dataclass(slots=True)
class Pending:
    """A decoded record waiting in the merger, with what is needed to ack and explain it."""

    event: Any  # the Faust event, acked once processed
    decoded: AnyEvent | Tick
    raw: bytes
    source: dict[str, Any]
    arrived: float = 0.0  # time.monotonic() when it was taken (PULSE_MERGE_IDLE_MS)


class PartitionRuntime:
    def __init__(
        self,
        partition: int,
        config: PulseConfig,
        table: Any,
        stats: Stats,
        send: Callable[[bytes, bytes | None, int], Awaitable[Any]],
    ) -> None:
        users: dict[str, Any] = {}
        partitions = config.stream.partitions
        # Records read back from the changelog are checked: a damaged one is logged,
        # counted and skipped (that user starts afresh), never a crash at every start.
        self.rejected_records: list[str] = []
        for key, value in list(table.data.items()):
            if not is_user_key(key) or value is None:
                continue
            user_id = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
            if partition_for(user_id, partitions) != partition:
                continue
            try:
                state = decode_state(value)
                if state.user_id != user_id:
                    raise ValueError(f"holds user {state.user_id[:64]!r}")
            except Exception as exc:  # noqa: BLE001 - any damage: skip, never crash-loop
                self._reject_record(partition, f"user state {user_id[:64]!r}: {exc!r:.200}")
                continue
            users[user_id] = state
        self.store = TableStore(table, partition, users, send)
        if self.store.progress_rejected:
            self._reject_record(partition, self.store.progress_rejected)
        suite, self.rejected_checkpoints = restore_suite(config, model_blobs(table, partition))
        for problem in self.rejected_checkpoints:
            log.error(
                "partition %d: model checkpoint rejected, starting that model afresh: %s",
                partition,
                problem,
                extra={"partition": partition},
            )
        self.store.models = suite
        self.pipeline = PartitionPipeline(partition, config, self.store, stats, suite)
        saved_ledger = table.data.get(ledger_key(partition))
        if saved_ledger:
            try:
                self.pipeline.restore_ledger(Ledger.from_dict(orjson.loads(saved_ledger)))
            except Exception as exc:  # noqa: BLE001 - the figures restart, the worker runs
                self._reject_record(partition, f"campaign ledger: {exc!r:.200}")
        self.store.ledger = self.pipeline.ledger
        saved_seen = table.data.get(seen_key(partition))
        if saved_seen:
            try:
                self.pipeline.seen = SeenBefore.from_bytes(saved_seen)
            except ValueError as exc:
                self._reject_record(partition, f"seen-before filter: {exc}")
        self.store.seen = self.pipeline.seen
        self.pipeline.rebuild(self.store.values())
        if self.store.saved_clock is not None:
            self.pipeline.clock = self.store.saved_clock
        self.store.clock = lambda: self.pipeline.clock
        self.merger: SourceMerger[Pending] = SourceMerger((TICKS, *INPUT_TOPICS))
        self.last_offset: dict[str, int] = {}
        self.explained_at = 0.0  # when a long wait in the merger was last logged

    def _reject_record(self, partition: int, problem: str) -> None:
        self.rejected_records.append(problem)
        log.error(
            "partition %d: a saved record was damaged and is skipped: %s",
            partition,
            problem,
            extra={"partition": partition},
        )


class WorkerRuntime:
    """State of one worker: a runtime per assigned partition and the shared stats."""

    def __init__(
        self,
        config: PulseConfig,
        table: Any,
        fetch_state: Callable[[str, int], tuple[int | None, int | None]],
        send_changelog: Callable[[bytes, bytes | None, int], Awaitable[Any]],
        verify: Callable[[int], Awaitable[int]] | None = None,
        committed: Callable[[str, int], int | None] | None = None,
        formats: dict[str, str] | None = None,
        currency: str = "USD",
        merge_idle_s: float = 0.0,
    ) -> None:
        self.config = config
        # A record released past an empty, caught-up source must have waited this long
        # since it arrived (see `_ripe`).
        self.merge_idle_s = max(0.0, merge_idle_s)
        # Topics whose records come in another format (PULSE_INPUT_FORMAT): converted
        # before decoding; the original bytes stay what a dead letter shows.
        self.formats = {topic: name for topic, name in (formats or {}).items() if name != PULSE}
        self.currency = currency
        self.table = table
        self.send_changelog = send_changelog  # (key, value, partition) onto the changelog
        self.fetch_state = fetch_state
        self.verify = verify
        self.committed = committed or (lambda topic, partition: None)
        self.recovery_repairs = 0
        self.recovery_seconds = 0.0
        self.rejected_checkpoints = 0
        self.rejected_records = 0
        self.stats = Stats()
        self.partitions: dict[int, PartitionRuntime] = {}
        self.rekeyed = 0
        # The worker's own view of the log's event time, for the ticks it publishes.
        self.tick_clock = TickClock(
            config.stream.partitions, config.stream.max_future_days * MS_PER_DAY
        )
        self.ticks_published = 0
        self.redelivered = 0
        self.consumed: Counter[str] = Counter()  # records taken, by input topic
        self.changelog_writes = 0
        # Processing time per record (decode → outputs), and every processed event's
        # latency from its Kafka record timestamp to its outputs sent.
        self.processing = Histogram(LATENCY_BOUNDS)
        self.record_latency = Histogram(RECORD_LATENCY_BOUNDS)
        self.last_event_ms: dict[int, int] = {}

    async def ensure_partition(self, number: int) -> PartitionRuntime:
        """The runtime of an assigned partition, built from the (verified) table on first use."""
        runtime = self.partitions.get(number)
        if runtime is None:
            began = time.monotonic()
            if self.verify is not None:
                self.recovery_repairs += await self.verify(number)
            runtime = self.partitions[number] = PartitionRuntime(
                number, self.config, self.table, self.stats, self.send_changelog
            )
            self.recovery_seconds += time.monotonic() - began
            # Everything alive now — modules, the app, the restored users and models — is
            # long-lived: moved out of the cyclic collector's reach. Each full collection
            # otherwise walked it all, a ~100 ms pause of the event loop (the p99 tail of
            # the worker bench's latency on the embedded broker). Done once per restored
            # partition; objects frozen are still freed by reference counting.
            gc.freeze()
            self.rejected_checkpoints += len(runtime.rejected_checkpoints)
            self.rejected_records += len(runtime.rejected_records)
            clock = runtime.pipeline.clock
            log.info(
                "partition %d: %d users restored, event time %s, %.2fs",
                number,
                len(runtime.store),
                format_ts(clock) if clock > 0 else "none yet",
                time.monotonic() - began,
            )
        return runtime

    def forget(self, numbers: set[int]) -> list[Pending]:
        """Partitions moved away: drop their runtimes; queued records are redelivered."""
        dropped: list[Pending] = []
        for number in numbers:
            runtime = self.partitions.pop(number, None)
            if runtime is not None:
                dropped.extend(runtime.merger.clear())
        return dropped

    def _drained(self, runtime: PartitionRuntime, partition: int) -> Callable[[str], bool]:
        def drained(topic: str) -> bool:
            """True when every record the broker has for this source was delivered to us."""
            if topic == TICKS:
                return True  # ticks are optional: an empty tick queue holds nothing back
            highwater, fetch_position = self.fetch_state(topic, partition)
            if highwater is None:
                return False  # not fetched yet: it may hold earlier records
            if topic in runtime.last_offset:
                next_offset = runtime.last_offset[topic] + 1
            else:
                # Nothing delivered from this source since the partition was (re)assigned:
                # the consumer starts at the committed offset (0 if none).
                next_offset = self.committed(topic, partition) or 0
            # The fetch position covers records fetched but not yet handed to the agent,
            # and a broker that under-reports its end offset (tansu reports the start of
            # the last batch + 1).
            return next_offset >= highwater and (
                fetch_position is None or next_offset >= fetch_position
            )

        return drained

    def _ripe(self) -> Callable[[Pending], bool] | None:
        """With PULSE_MERGE_IDLE_MS (Kafka Streams' max.task.idle.ms): a record is released
        past a source that is empty and read to its end only once it has waited that long
        since it arrived. Records published to several topics at the same moment become
        visible one partition at a time, and the end offsets seen are those of the last
        fetch: the wait lets the other topics' records of the same moment arrive before
        later ones are released (the 0.5 s timer releases a record whose wait is over)."""
        if not self.merge_idle_s:
            return None
        since = time.monotonic() - self.merge_idle_s
        return lambda pending: pending.arrived <= since

    def seen(self, topic: str, partition: int, offset: int) -> bool:
        """True for a record already delivered since the partition was assigned."""
        return offset <= self.partitions[partition].last_offset.get(topic, -1)

    def accept(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        event: Any,
        physical_topic: str | None = None,
    ) -> tuple[list[Output], list[Pending], Any] | None:
        """Take one record. Returns (immediate outputs, processed records, rekey target),
        or None for a redelivered record that the saved state already includes.

        Immediate outputs are dead letters for undecodable records (acked at once). A
        valid record whose user belongs to another partition is returned as a rekey
        target: the caller re-sends it keyed by user id, so it reaches the partition that
        owns the user's state.
        """
        raw = value if value is not None else b""
        source = {"topic": physical_topic or topic, "partition": partition, "offset": offset}
        runtime = self.partitions[partition]  # ensure_partition() ran before accept()
        runtime.last_offset[topic] = offset
        if runtime.store.already_processed(topic, offset):
            # At-least-once delivery after a crash: its effects and outputs are saved.
            self.redelivered += 1
            return None
        tick = read_tick(raw)
        if tick is not None:
            # The log's event time, from Pulse's producer (streams/core/ticks.py): merged
            # with this partition's records by time, like any event. A tick meant for
            # another partition number is ignored.
            if tick[0] != partition:
                return [], [], None
            arrived = time.monotonic()
            runtime.merger.push(TICKS, tick[1], Pending(event, Tick(tick[1]), raw, source, arrived))
            return [], self._pop_ready(runtime, partition), None
        self.stats.records += 1
        self.consumed[topic] += 1
        try:
            event_bytes = raw
            if topic in self.formats:
                event_bytes = to_pulse(
                    raw, self.formats[topic], self.currency, self.config.stream.max_event_bytes
                )
            decoded = decode_event(
                event_bytes,
                self.config.stream.max_event_bytes,
                self.config.stream.earliest_event_time,
            )
        except InvalidEvent as exc:
            return [undecodable(self.stats, self.config, raw, exc, source)], [], None
        owner = partition_for(decoded.user_id, self.config.stream.partitions)
        if owner != partition:
            self.rekeyed += 1
            self.stats.records -= 1  # counted again where it lands
            return [], [], decoded.user_id
        arrived = time.monotonic()
        runtime.merger.push(topic, decoded.ts, Pending(event, decoded, raw, source, arrived))
        return [], self._pop_ready(runtime, partition), None

    def live_ticks(self, partition: int, pending: Pending) -> list[tuple[int, int]]:
        """(partition, hour) ticks to publish after a processed event: every other
        partition hears that this worker's event time crossed an hour."""
        if isinstance(pending.decoded, Tick):
            return []  # a tick moves clocks; only events announce hours
        hours = self.tick_clock.feed(partition, pending.decoded.ts)
        ticks = [
            (other, hour)
            for hour in hours
            for other in range(self.config.stream.partitions)
            if other != partition
        ]
        self.ticks_published += len(ticks)
        return ticks

    def poll(self, partition: int) -> list[Pending]:
        """Records of a partition that became ready without a new arrival."""
        runtime = self.partitions.get(partition)
        if runtime is None or not len(runtime.merger):
            return []
        ready = self._pop_ready(runtime, partition)
        if not ready and len(runtime.merger):
            self._explain_wait(runtime, partition)
        return ready

    def _explain_wait(self, runtime: PartitionRuntime, partition: int) -> None:
        """Records held in the merger for long: say, once a minute, what they wait for
        (which source is not known to be read to its end, and why)."""
        now = time.monotonic()
        heads = runtime.merger.heads()
        oldest = min(head[2].arrived for head in heads.values() if head is not None)
        if now - oldest < HELD_WARNING_S or now - runtime.explained_at < HELD_WARNING_S:
            return
        runtime.explained_at = now
        sources = []
        for topic, head in heads.items():
            if topic == TICKS:
                continue
            highwater, position = self.fetch_state(topic, partition)
            delivered = runtime.last_offset.get(topic)
            committed = self.committed(topic, partition)
            queued = f"{head[0]} queued from {format_ts(head[1])}" if head else "empty"
            sources.append(
                f"{topic}: {queued}, last delivered {delivered}, committed {committed}, "
                f"end offset {highwater}, fetch position {position}"
            )
        log.warning(
            "partition %d: records held %.0f s in the event-time merger; %s",
            partition,
            now - oldest,
            "; ".join(sources),
            extra={"partition": partition},
        )

    def _pop_ready(self, runtime: PartitionRuntime, partition: int) -> list[Pending]:
        return runtime.merger.pop_ready(self._drained(runtime, partition), self._ripe())

    def process(self, partition: int, pending: Pending) -> list[Output]:
        runtime = self.partitions[partition]
        if isinstance(pending.decoded, Tick):
            return runtime.pipeline.tick(pending.decoded.ts)
        topic, offset = pending.source["topic"], pending.source["offset"]
        user_id = pending.decoded.user_id
        saved = runtime.store.get(user_id)
        if saved is not None and saved.applied.get(topic, -1) >= offset:
            # Redelivered after a crash that saved this user but not the partition's
            # progress: the user's state already has it; applying it again would count
            # it twice (the duplicate window may not reach back that far).
            self.redelivered += 1
            return []
        outputs = runtime.pipeline.process(pending.decoded, pending.raw, pending.source)
        runtime.store.input_bytes += len(pending.raw)
        state = runtime.store.get(user_id)
        if state is not None:
            state.applied[topic] = offset
        self.last_event_ms[partition] = runtime.pipeline.clock
        return outputs

    def mark_processed(self, partition: int, topic: str, offset: int) -> None:
        runtime = self.partitions.get(partition)
        if runtime is not None:
            runtime.store.mark_processed(topic, offset)

    async def flush(self, partition: int, final: bool = False) -> int:
        """Save a partition's changed state (`final`: every changed model too)."""
        runtime = self.partitions.get(partition)
        written = await runtime.store.flush(final) if runtime is not None else 0
        self.changelog_writes += written
        return written
