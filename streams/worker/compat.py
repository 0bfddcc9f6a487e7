"""Every place the worker reaches into Faust's or aiokafka's internals, and only here.

Pinned to the versions in pyproject.toml (faust-streaming 0.15, aiokafka 0.10-0.14);
`tests/unit/test_compat.py` checks each attribute below still exists in the installed
versions, so an upgrade that moves one fails that test instead of a worker in production.
Each accessor degrades to "unknown" (None, a default) where the worker can go on without.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from faust.types import TP

log = logging.getLogger("pulse.worker")


def aiokafka_consumer(app: Any) -> Any:
    """The aiokafka consumer behind Faust's consumer thread (started on first use)."""
    return app.consumer._thread._ensure_consumer()


def set_fetch_wait(app: Any, wait_ms: int) -> None:
    """Faust 0.15 hard-codes the consumer's fetch wait at 1,500 ms; use ours instead.

    A broker that does not answer a waiting fetch when data arrives (tansu) makes every
    event wait for it, so it bounds latency; Apache Kafka answers early either way.
    """
    try:
        aiokafka_consumer(app)._fetcher._fetch_max_wait_ms = wait_ms
    except AttributeError as exc:  # another Faust/aiokafka layout: keep its default
        log.warning("cannot set the fetch wait (%r); Faust's default applies", exc)


def fetch_state(app: Any, topic: str, partition: int) -> tuple[int | None, int | None]:
    """(highwater, fetch position) of an assigned partition; (None, None) if unknown.
    Faust does not expose the fetch position: it is read from aiokafka's subscription."""
    try:
        assignment = aiokafka_consumer(app)._subscription.subscription.assignment
        state = assignment.state_value(TP(topic, partition))
    except Exception:  # noqa: BLE001 - not assigned or not started: unknown
        return None, None
    if state is None:
        return None, None
    position = state.position if state.has_valid_position else None
    return state.highwater, position


def committed_offset(app: Any, topic: str, partition: int) -> int | None:
    """The group's committed offset (next offset to read), as Faust keeps it after a seek."""
    value = getattr(app.consumer, "_committed_offset", {}).get(TP(topic, partition))
    return int(value) if value is not None else None


async def commit_offsets(app: Any, offsets: dict[Any, int]) -> None:
    """Commit exactly these offsets (Faust flushes its producer first; partitions no longer
    assigned are left out). Not `Consumer.commit()`: that commits what Faust counts as
    acked, gaps included (docs/streaming.md)."""
    await app.consumer._commit_offsets(offsets)


def called_from_faust_channels() -> bool:
    """True when the caller's caller is `faust.channels` (a stream's input buffer is being
    made): `PulseApp.FlowControlQueue` keeps those buffers across flow resumption."""
    return sys._getframe(2).f_globals.get("__name__") == "faust.channels"


def tables_recovered(app: Any) -> bool:
    """False while Faust restores tables from their changelogs."""
    recovery = getattr(app.tables, "recovery", None)
    return recovery is None or recovery.completed.is_set()


def partition_owner(app: Any, changelog_topic: str, partition: int) -> str | None:
    """The URL (Faust's `canonical_url`) of the worker that owns `partition`, from the
    group's last assignment; None while unknown (joining, rebalancing)."""
    try:
        owners = app.assignor._tps_url  # filled from every member's assignment metadata
    except AttributeError:
        return None
    url = owners.get(TP(changelog_topic, partition))
    return str(url) if url else None


def transactional_id(app: Any, changelog_topic: str, partition: int) -> str:
    """The id of Faust's transactional producer for an input partition (exactly-once):
    `{app id}-{topic group}-{partition}`, as its TransactionManager names them."""
    group = app.assignor.group_for_topic(changelog_topic)
    return f"{app.conf.id}-{group}-{partition}"


async def ensure_transaction(app: Any, transactional_id: str) -> None:
    """Make sure the partition's transactional producer exists and is in a transaction.

    Faust 0.15 stops and restarts these producers on every rebalance and can leave one
    outside a transaction (faust-streaming issue #323: "Can't send messages while not in
    transaction" crashed the worker in our two-worker test); begin one when it did.
    """
    producer = app.producer._transaction_producers.get(transactional_id)
    if producer is None or not producer._txn_manager.is_in_transaction():
        await app.producer.begin_transaction(transactional_id)


async def stop_unowned_transactions(
    app: Any, changelog_topic: str, owned: set[int], partitions: int
) -> list[str]:
    """Stop the transactional producers of input partitions this worker does not own.

    Faust 0.15 stops a revoked partition's producer only when the partition is not a
    standby here (`TransactionManager.on_rebalance` filters revoked partitions through
    `is_standby`): one that moved away but stayed a standby keeps its producer, which the
    new owner fences. If the partition comes back, Faust reuses that fenced producer, the
    first send fails and the worker stops (seen in the two-worker exactly-once test). A
    producer stopped here is made afresh, and fences properly, when the partition returns.
    Returns the transactional ids stopped.
    """
    producer = app.producer
    producers = getattr(producer, "_transaction_producers", None)
    if not producers:
        return []
    stopped = []
    for partition in range(partitions):
        if partition in owned:
            continue
        tid = transactional_id(app, changelog_topic, partition)
        stale = producers.pop(tid, None)
        if stale is not None:
            stopped.append(tid)
            try:
                await stale.stop()
            except Exception as exc:  # noqa: BLE001 - fenced or closed: it is gone either way
                log.info("stopping transactional producer %s: %r", tid, exc)
    return stopped


BatchHandler = Callable[[list[Any], int], Awaitable[None]]  # (messages, generation)


def stale_fetch(app: Any, generation: int) -> bool:
    """True when records fetched in consumer `generation` must not be processed now: a
    rebalance completed since, after which Faust seeks every assigned partition back to
    its committed offset, so they are fetched again (Faust's streams drop them too)."""
    return bool(generation != app.consumer_generation_id)


def drain_in_batches(consumer: Any, topics: frozenset[str], handler: BatchHandler) -> None:
    """Faust's fetch loop (`Consumer._drain_messages`), handing each fetched batch of
    `topics` to `handler` as one list instead of one record at a time.

    Faust's loop awaits `wait_first(callback(message), suspend_flow.wait())` per record —
    two tasks, a lock, an Event object and a queue put and get before the agent sees it:
    more than the core's own work per event. Everything else is Faust's: the same read
    offsets (a record read before is skipped), and records of other topics (changelog
    standbys) still go through Faust's callback one by one.

    The handler gets the consumer generation the batch was fetched in (a batch from an
    earlier one is not processed: `stale_fetch`). It is shielded: Faust cancels its
    fetcher on a rebalance, and a batch half done would leave records processed whose
    outputs were never sent. The worker's lock orders the batch and the revocation
    handler, whichever comes first.
    """

    async def drain(fetcher: Any) -> None:
        callback = consumer.callback
        consumer_stopped = consumer._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        read_offsets = consumer._read_offset
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                records = consumer.getmany(timeout=1.0)
                await consumer.sleep(0)  # as Faust: getmany may not yield to the loop
                if consumer.should_stop:
                    continue
                batch: list[Any] = []
                generation: int | None = None
                async for tp, message in records:
                    if generation is None:
                        # The generation the records were fetched in: read once the fetch
                        # has returned, as Faust's getmany does (and it stops yielding if
                        # the generation changes). Read before the fetch's wait, a
                        # rebalance completing during it labelled records fetched after
                        # Faust's seek as stale: dropped, never fetched again, and the
                        # partition's merger waited for them for ever.
                        generation = consumer.app.consumer_generation_id
                    offset, read = message.offset, read_offsets[tp]
                    if read is not None and offset < read:
                        continue  # read already (Faust drops these too)
                    read_offsets[tp] = offset
                    if tp.topic in topics:
                        batch.append(message)
                    else:
                        await consumer.wait_first(callback(message), consumer.suspend_flow.wait())
                if batch and generation is not None:
                    await asyncio.shield(handler(batch, generation))
        except consumer.consumer_stopped_errors:
            if consumer.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if consumer.transport.app.should_stop:
                return
            raise

    consumer._drain_messages = drain
