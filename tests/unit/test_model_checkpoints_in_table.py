"""The worker keeps each partition's models in the users table, beside the users."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from streams.config_loader import load_config
from streams.core.events import decode_event
from streams.core.pipeline import Stats
from streams.worker.runtime import PartitionRuntime
from streams.worker.store import encode_state, is_user_key, model_key, progress_key
from tests.helpers import T0, purchase, raw


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
    assert "refusing to unpickle" in caplog.text and "starting that model afresh" in caplog.text
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
