"""The worker keeps each partition's models in the users table, beside the users."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from streams.config_loader import load_config
from streams.core.events import decode_event
from streams.core.ids import partition_for
from streams.core.pipeline import Stats
from streams.worker.runtime import PartitionRuntime
from streams.worker.store import (
    encode_state,
    is_user_key,
    ledger_key,
    model_key,
    progress_key,
    seen_key,
)
from tests.helpers import T0, profile, purchase, raw


class FakeTable:
    def __init__(self) -> None:
        self.data: dict[bytes, Any] = {}


def runtime(table: FakeTable, sent: list[bytes]) -> PartitionRuntime:
    async def send(key: bytes, value: bytes | None, partition: int) -> None:
        sent.append(key)

    return PartitionRuntime(0, load_config(None), table, Stats(), send)


def test_models_are_saved_before_progress_and_restored_from_the_table() -> None:
    table, sent = FakeTable(), []
    first = runtime(table, sent)
    for n in range(3):
        event = purchase("u5", T0 + n * 1000)
        first.pipeline.process(decode_event(raw(event)), raw(event), {})
    first.store.mark_processed("purchases", 2)
    asyncio.run(first.store.flush())
    model_keys = [key for key in sent if key.startswith(b"\x00pulse-model")]
    assert model_key(0, "churn") in model_keys and model_key(0, "recommendations") in model_keys
    assert sent[-1] == progress_key(0)  # progress last: never ahead of models and users
    assert not any(is_user_key(key) for key in model_keys)
    again = runtime(table, [])
    assert again.rejected_checkpoints == []
    assert again.pipeline.models is not None
    assert (
        again.pipeline.models.recommender.popularity == first.pipeline.models.recommender.popularity
    )


def test_a_foreign_checkpoint_is_refused_with_an_error_and_the_model_starts_afresh(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = FakeTable()
    table.data[model_key(0, "churn")] = b"\x80\x04 a pickle someone else wrote"
    with caplog.at_level(logging.ERROR, logger="pulse.worker"):
        restored = runtime(table, [])
    assert len(restored.rejected_checkpoints) == 1
    assert "no header" in caplog.text and "starting that model afresh" in caplog.text
    assert restored.pipeline.models is not None and restored.pipeline.models.churn.labels == 0


def test_a_restart_resumes_from_the_clock_saved_with_the_progress() -> None:
    """Users of a torn batch may be ahead of the progress record; the clock must not be."""
    table, sent = FakeTable(), []
    first = runtime(table, sent)
    event = purchase("u5", T0)
    first.pipeline.process(decode_event(raw(event)), raw(event), {})
    first.store.mark_processed("purchases", 0)
    asyncio.run(first.store.flush())
    assert orjson.loads(table.data[progress_key(0)])["clock"] == T0
    # A later batch saved one user, then the worker died before the progress record.
    ahead = purchase("u7", T0 + 5 * 3_600_000)
    first.pipeline.process(decode_event(raw(ahead)), raw(ahead), {})
    table.data[b"u7"] = encode_state(first.store.users["u7"])
    again = runtime(table, [])
    assert again.pipeline.clock == T0  # not u7's time: u7's batch comes again
    assert again.store.already_processed("purchases", 0)


def test_a_torn_batch_is_not_applied_twice_to_the_users_it_saved() -> None:
    """SIGKILL between saving one user and the progress record: that user's redelivered
    records are skipped by the offsets saved in its own state, the others are applied."""
    from streams.worker.runtime import Pending, WorkerRuntime

    config = load_config(None)
    table = FakeTable()

    async def send(key: bytes, value: bytes | None, partition: int) -> None:
        return None

    def new_worker() -> WorkerRuntime:
        return WorkerRuntime(config, table, lambda topic, p: (None, None), send)

    def pending(event: dict, offset: int) -> Pending:
        data = raw(event)
        return Pending(
            None, decode_event(data), data, {"topic": "clicks", "partition": 0, "offset": offset}
        )

    from streams.core.ids import partition_for

    events = [purchase("u5", T0 + n * 60_000) for n in range(3)]
    part = partition_for("u5", config.stream.partitions)
    first = new_worker()
    asyncio.run(first.ensure_partition(part))
    for offset, event in enumerate(events):
        first.process(part, pending(event, offset))
    # The crash: only u5's state reached the table, no progress record.
    u5 = first.partitions[part].store.users["u5"]
    table.data[b"u5"] = encode_state(u5)
    again = new_worker()
    asyncio.run(again.ensure_partition(part))
    for offset, event in enumerate(events):  # everything is redelivered
        again.process(part, pending(event, offset))
    assert again.partitions[part].store.users["u5"].features.orders == 3  # not 6
    assert again.redelivered == 3


def test_damaged_saved_records_are_skipped_with_an_error_never_a_crash_at_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table, sent = FakeTable(), []
    first = runtime(table, sent)
    partitions = first.pipeline.config.stream.partitions
    mine = [u for u in (f"u{n}" for n in range(100)) if partition_for(u, partitions) == 0][:2]
    for user in mine:
        event = purchase(user, T0)
        first.pipeline.process(decode_event(raw(event)), raw(event), {})
    first.store.mark_processed("purchases", 1)
    asyncio.run(first.store.flush())
    good = runtime(table, [])
    users = {state.user_id for state in good.store.values()}
    assert users and good.rejected_records == []
    damaged = sorted(users)[0]
    table.data[damaged.encode()] = b'{"user_id": 5, "features": "x"'  # cut short
    other = next(u for u in (f"x{n}" for n in range(100)) if partition_for(u, partitions) == 0)
    table.data[other.encode()] = table.data[sorted(users)[-1].encode()]  # another user's
    table.data[ledger_key(0)] = b'{"groups": {"a": "b"}}'
    table.data[progress_key(0)] = b'{"offsets": {"purchases": "seven"}}'
    with caplog.at_level(logging.ERROR, logger="pulse.worker"):
        restored = runtime(table, [])
    kinds = " ".join(restored.rejected_records)
    assert "campaign ledger" in kinds and "progress record" in kinds
    assert f"user state {damaged!r}" in kinds
    assert f"user state {other!r}" in kinds
    assert "damaged and is skipped" in caplog.text
    later = purchase(damaged, T0 + 1000)  # the partition goes on; that user starts afresh
    outputs = restored.pipeline.process(decode_event(raw(later)), raw(later), {})
    assert outputs and restored.store.get(damaged) is not None


def test_the_seen_before_filter_is_saved_when_it_changes_and_restored() -> None:
    table, sent = FakeTable(), []
    first = runtime(table, sent)
    first.pipeline.seen.add("gone-user")
    asyncio.run(first.store.flush())
    assert seen_key(0) in sent
    sent.clear()
    asyncio.run(first.store.flush())
    assert seen_key(0) not in sent  # unchanged: not written again
    again = runtime(table, [])
    assert "gone-user" in again.pipeline.seen and "other" not in again.pipeline.seen
    table.data[seen_key(0)] = b"short"
    assert "seen-before filter" in " ".join(runtime(table, []).rejected_records)


def test_one_users_state_stays_far_below_the_producer_request_size() -> None:
    """Every per-user list and map is capped, so no user's own valid events (however
    many, however wide) can grow their state past what the changelog can take."""
    table, sent = FakeTable(), []
    first = runtime(table, sent)
    partitions = first.pipeline.config.stream.partitions
    user = next(u for u in (f"u{n}" for n in range(100)) if partition_for(u, partitions) == 0)
    events = []
    for n in range(60):
        attributes = {f"{n:02d}-{k:02d}-" + "k" * 58: "v" * 1024 for k in range(32)}
        events.append(profile(user, T0 + n * 1000, attributes=attributes, timezone="Europe/Paris"))
        events.append(purchase(user, T0 + n * 1000 + 1, category="c" * 200 + str(n)))
    for event in events:
        first.pipeline.process(decode_event(raw(event)), raw(event), {})
    size = len(encode_state(first.store.users[user]))
    assert size < 128 * 1024, size
