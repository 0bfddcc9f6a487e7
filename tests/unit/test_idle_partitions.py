"""A partition with no more events follows the others' event time (streams/core/ticks.py)."""

from __future__ import annotations

from streams.core.config import build_config
from streams.core.ids import partition_for
from streams.core.pipeline import Pipeline
from streams.core.timefmt import parse_ts
from tests.helpers import DAY, T0, click, purchase, raw

PARTITIONS = 4


def users_in_two_partitions() -> tuple[str, str]:
    alone = "buyer-1"
    other = next(
        f"clicker-{n}"
        for n in range(100)
        if partition_for(f"clicker-{n}", PARTITIONS) != partition_for(alone, PARTITIONS)
    )
    return alone, other


def lifecycle(outputs: list[dict], user: str) -> list[tuple[str, int]]:
    return [
        (o["to"], parse_ts(o["ts"]))
        for o in outputs
        if o.get("dimension") == "lifecycle" and o["user_id"] == user
    ]


def run(config: dict) -> list[dict]:
    alone, other = users_in_two_partitions()
    events = [purchase(alone, T0)] + [click(other, T0 + d * DAY) for d in range(1, 200)]
    pipeline = Pipeline(build_config({"stream": {"partitions": PARTITIONS, **config}}, "t.yaml"))
    return [o.value for e in events for o in pipeline.process(raw(e), {})]


def test_a_customer_alone_in_a_quiet_partition_becomes_dormant_then_churned() -> None:
    alone, _ = users_in_two_partitions()
    moves = lifecycle(run({}), alone)
    assert [state for state, _ in moves] == ["new", "active", "dormant", "churned"]
    # Each change carries its own due time, whenever the tick noticed it.
    assert [ts for _, ts in moves[1:]] == [T0 + 14 * DAY, T0 + 30 * DAY, T0 + 90 * DAY]


def test_without_idle_following_the_quiet_partition_stops_time() -> None:
    alone, _ = users_in_two_partitions()
    moves = lifecycle(run({"idle_partition_lag_minutes": 0}), alone)
    assert [state for state, _ in moves] == ["new"]  # what issue 12 reported


def test_a_record_that_fails_keeps_the_other_partitions_tick_outputs() -> None:
    """A bug on one record dead-letters that record only: what the ticks it carried did to
    other partitions (a quiet customer turning dormant) is still emitted."""
    alone, other = users_in_two_partitions()
    pipeline = Pipeline(build_config({"stream": {"partitions": PARTITIONS}}, "t.yaml"))
    busy = pipeline.partition_of(other)
    working = busy.process

    def fails_after_day_29(event, raw, source):  # type: ignore[no-untyped-def]
        if event.ts > T0 + 29 * DAY:
            raise RuntimeError("a bug")
        return working(event, raw, source)

    busy.process = fails_after_day_29  # type: ignore[method-assign]
    events = [purchase(alone, T0)] + [click(other, T0 + d * DAY) for d in range(1, 200)]
    outputs = [o.value for e in events for o in pipeline.process(raw(e), {})]
    letters = [o for o in outputs if o["type"] == "dead_letter"]
    assert letters and all(o["reason"] == "processing_error" for o in letters)
    assert [state for state, _ in lifecycle(outputs, alone)] == [
        "new",
        "active",
        "dormant",
        "churned",
    ]
