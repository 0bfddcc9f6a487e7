"""Where a record is taken and processed: each fetched batch, record by record.

Records arrive in fetch order — a fetch's records as one batch (`take_batch`, from
compat.drain_in_batches), or one at a time from Faust's stream with
PULSE_FETCH_BATCHES=0 — and are handled in one turn of the worker's lock:

1. a record of a partition this worker no longer owns, or one delivered twice in an
   assignment, is skipped (its owner reads it from the committed offset);
2. the runtime decodes it (bad → a dead letter), re-sends one keyed to another
   partition's user there, or queues it in the partition's event-time merger;
3. records the merger releases run through the pure core; their outputs are sent;
4. the processed prefix of each partition is marked done (`AckSequencer`) and handed to
   the transaction (streams/worker/transaction.py), which saves and commits per batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from faust.types import TP

from streams.core.events import PROCESSING_ERROR
from streams.core.outputs import Output
from streams.core.pipeline import reject
from streams.core.ticks import tick_record
from streams.worker.acks import AckSequencer
from streams.worker.compat import stale_fetch
from streams.worker.runtime import Pending, Tick, WorkerRuntime
from streams.worker.transaction import Transactions

log = logging.getLogger("pulse.worker")


class Taken:
    """A fetched input record as the worker handles it: Faust's message and its value
    (what a Faust event carries, without building one)."""

    __slots__ = ("message", "value")

    def __init__(self, message: Any) -> None:
        self.message = message
        self.value = message.value


class PartitionTask:
    """Takes input records of the assigned partitions and runs them through the core."""

    def __init__(
        self,
        app: Any,
        runtime: WorkerRuntime,
        transactions: Transactions,
        logical: dict[str, str],
        tick_topic: str | None,
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.transactions = transactions
        self.logical = logical  # physical input topic → logical name
        self.tick_topic = tick_topic  # None: no live ticks published
        self.assignment: set[TP] = set()  # input topic-partitions, from the rebalance signals
        self.acks = AckSequencer()
        self.lock = asyncio.Lock()  # records, the timer and rebalances take turns
        # Exactly-once: a record's immediate outputs, held until its offset is released.
        self.held: dict[tuple[Any, int], tuple[list[Output], str | None]] = {}

    def assigned(self, message: Any) -> bool:
        return message.tp in self.assignment

    async def take_fetched(self, messages: list[Any], generation: int) -> None:
        """The consumer's batch handler: one fetch's input records."""
        await self.take_batch([Taken(message) for message in messages], generation)

    async def take_batch(self, records: Sequence[Any], generation: int | None = None) -> None:
        """Records in fetch order (each with `.message` and `.value`), in one turn.

        A batch fetched in an earlier consumer generation, or during a rebalance, is left
        alone, as Faust's streams leave such records: after the rebalance every partition
        is read again from its committed offset, with its table restored first.
        """
        async with self.lock:
            if generation is not None and stale_fetch(self.app, generation):
                log.info(
                    "a batch of %d records fetched before the rebalance is read again", len(records)
                )
                return
            self.transactions.new_turn()
            observe, clock = self.runtime.processing.observe, time.perf_counter
            for record in records:
                began = clock()
                await self._take_one(record)
                observe(clock() - began)

    async def _take_one(self, event: Any) -> None:
        message = event.message
        if not self.assigned(message):
            return  # fetched before a rebalance; redelivered to the new owner
        partition, tp = message.partition, (message.topic, message.partition)
        self.transactions.current = partition
        if partition not in self.runtime.partitions:  # an await per record costs; skip it
            await self.runtime.ensure_partition(partition)
        logical = self.logical[message.topic]
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
            if self.transactions.exactly_once and (immediate or rekey_to is not None):
                # Sent when the record's turn comes (every earlier record of its
                # partition done), so they go in the transaction that commits its offset:
                # a kill can never leave them committed and the record to be read again.
                self.held[(tp, message.offset)] = (immediate, rekey_to)
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
        send = self.transactions
        if rekey_to is not None:
            await send.send(message.topic, rekey_to.encode("utf-8"), value, None)
        for output in immediate:
            await send.emit(output)

    async def _finish(self, partition: int, ready: list[Pending], finished: list[Any]) -> None:
        """Process released records, hand the processed prefix to the transaction."""
        transactions = self.transactions
        transactions.current = partition
        for pending in ready:
            for output in self._process(partition, pending):
                await transactions.emit(output)
            if self.tick_topic is not None:
                for target, hour in self.runtime.live_ticks(partition, pending):
                    # Outside the transaction: an open transaction on an input topic would
                    # hold every later record of that partition from read_committed
                    # consumers (the worker itself) until it commits. A tick only moves
                    # clocks forward, so one sent again after a crash changes nothing.
                    tick = tick_record(target, hour)
                    await transactions.send(
                        self.tick_topic, None, tick, target, transactional=False
                    )
            done = pending.event.message
            finished.append(((done.topic, done.partition), done.offset))
            if not isinstance(pending.decoded, Tick) and done.timestamp:
                # Every event, with or without outputs: the record's timestamp (its
                # producer's clock, seconds) to now, its outputs handed to the producer.
                # (A producer clock ahead of this one counts as 0.)
                self.runtime.record_latency.observe(max(0.0, time.time() - done.timestamp))
        released = [acked for done in finished for acked in self.acks.done(*done)]
        for acked in released:
            done = acked.message
            held = self.held.pop((done.tp, done.offset), None) if self.held else None
            if held is not None:
                await self._send_immediate(done, acked.value, *held)
            self.runtime.mark_processed(partition, self.logical[done.topic], done.offset)
        transactions.processed(partition, released)
        await transactions.after_records()

    def _process(self, partition: int, pending: Pending) -> list[Output]:
        """The core's outputs for one released record; a bug is its dead letter."""
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

    async def on_timer(self) -> None:
        """Release records the merger holds once their sources turn out to be drained,
        then save and commit what is due.

        Records only arrive when someone produces; without this a quiet partition would
        keep its last records queued until the next one comes.
        """
        async with self.lock:
            self.transactions.new_turn()
            for partition in list(self.runtime.partitions):
                ready = self.runtime.poll(partition)
                if ready:
                    await self._finish(partition, ready, [])
            await self.transactions.on_timer()

    def forget(self, moved: set[int]) -> None:
        """Drop every trace of partitions that moved away (they are read again from their
        committed offsets by whoever owns them next)."""
        self.assignment = {tp for tp in self.assignment if tp.partition not in moved}
        self.runtime.forget(moved)
        self.acks.forget(moved)
        self.held = {key: held for key, held in self.held.items() if key[0][1] not in moved}
        self.transactions.forget(moved)


def on_records(task: PartitionTask) -> Callable[[Any], Any]:
    """The Faust agent over the input topics (PULSE_FETCH_BATCHES=0, and the agent's
    test context): each event as a batch of one."""

    async def agent(stream: Any) -> None:
        # With fetch batches on, input records arrive through `take_fetched` and this
        # stream stays empty (it still subscribes the topics).
        stream = stream.noack()
        async for event in stream.events():
            await task.take_batch((event,))

    return agent
