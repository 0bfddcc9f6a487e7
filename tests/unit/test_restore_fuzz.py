"""Fuzzing the restore path: whatever a user's record on the changelog holds, a worker
starts (the record is used or skipped with an error), never crash-loops."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.config_loader import load_config
from streams.core.events import decode_event
from streams.core.ids import partition_for
from streams.core.pipeline import Stats
from streams.worker.runtime import PartitionRuntime
from streams.worker.store import decode_state
from tests.helpers import T0, click, profile, purchase, raw

CONFIG = load_config(None)
USER = next(
    u for u in (f"u{n}" for n in range(100)) if partition_for(u, CONFIG.stream.partitions) == 0
)


class FakeTable:
    def __init__(self) -> None:
        self.data: dict[bytes, Any] = {}


def runtime(table: FakeTable) -> PartitionRuntime:
    async def send(key: bytes, value: bytes | None, partition: int) -> None:
        return None

    return PartitionRuntime(0, CONFIG, table, Stats(), send)


def saved_state() -> dict[str, Any]:
    table = FakeTable()
    first = runtime(table)
    for event in (
        profile(USER, T0, consent={"email": True}),
        click(USER, T0 + 1),
        purchase(USER, T0 + 2),
    ):
        first.pipeline.process(decode_event(raw(event)), raw(event), {})
    asyncio.run(first.store.flush())
    return decode_state(table.data[USER.encode()]).to_dict()


GOOD = saved_state()
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**62), 2**62)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(sorted(GOOD)),
    value=JSON,
    feature=st.sampled_from(sorted(GOOD["features"])),
)
def test_any_damaged_user_record_is_used_or_skipped_never_a_crash(
    field: str, value: Any, feature: str
) -> None:
    state = {**GOOD, "features": dict(GOOD["features"])}
    if field == "features":
        state["features"][feature] = value
    else:
        state[field] = value
    table = FakeTable()
    table.data[USER.encode()] = orjson.dumps(state)
    restored = runtime(table)  # must not raise
    kept = restored.store.get(USER) is not None
    assert kept or restored.rejected_records
