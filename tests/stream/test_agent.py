"""The Faust agent, in memory: Faust's `test_context` runs the real agent loop (no broker).

Records are put into the agent's channel as Faust events with real topic names,
partitions and offsets; sends to output topics and the changelog are recorded, and the
offset commit is captured instead of reaching a broker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from faust.events import Event
from faust.types import TP, Message

from streams.config_loader import load_config
from streams.settings import Settings
from streams.worker.store import PROGRESS_PREFIX
from streams.worker.topology import PulseWorker


class Harness:
    def __init__(self, merge_idle_ms: int = 0) -> None:
        settings = Settings(
            broker="kafka://127.0.0.1:9",
            metrics_port=0,
            broker_quirks="none",
            commit_interval_s=0,
            merge_idle_ms=merge_idle_ms,
        )
        self.worker = PulseWorker(settings, load_config(None))
        self.sent: list[tuple[str, bytes, bytes | None]] = []
        self.committed: dict[TP, int] = {}
        worker = self.worker
        changelog = worker.table.changelog_topic.get_topic_name()

        async def send(
            topic: str,
            key: bytes,
            value: bytes | None,
            partition: int | None,
            record_headers: list[tuple[str, bytes]] | None = None,
            timestamp_ms: int | None = None,
            transactional: bool = True,
        ) -> None:
            self.sent.append(("changelog" if topic == changelog else topic, key, value))

        worker.transactions.send = send  # type: ignore[method-assign]
        worker.task.assigned = lambda message: True  # type: ignore[method-assign]
        self.ends: dict[tuple[str, int], int] = {}
        # Every source counts as read to its end once its last put record was delivered.
        worker.runtime.fetch_state = lambda topic, p: (self.ends.get((topic, p), 0), None)

        async def commit(force: bool = False, wait: bool = False) -> None:
            self.committed.update(worker.transactions.uncommitted)
            worker.transactions.uncommitted = {}

        worker.transactions.commit = commit  # type: ignore[method-assign]

    async def put(
        self, agent: Any, topic: str, offset: int, value: bytes, partition: int = 0
    ) -> None:
        self.ends[(topic, partition)] = max(self.ends.get((topic, partition), 0), offset + 1)
        message = Message(
            topic=topic,
            partition=partition,
            offset=offset,
            timestamp=time.time() - 0.05,  # produced 50 ms ago (seconds, as Faust)
            timestamp_type=0,
            headers=[],
            key=b"k",
            value=value,
            checksum=b"",
            generation_id=self.worker.app.consumer_generation_id,
        )
        event = Event(self.worker.app, b"k", value, [], message)
        taken = sum(self.worker.runtime.processing.counts)  # +1 when a record is fully taken
        await agent.channel.put(event)
        for _ in range(1000):  # the agent takes it on its own task
            await asyncio.sleep(0.005)
            if sum(self.worker.runtime.processing.counts) > taken:
                return
        raise AssertionError("the agent did not take the record within 5 s")

    def outputs(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(v) for name, _, v in self.sent if name == topic and v is not None]


def click(event_id: str, user: str, ts: str, action: str = "view") -> bytes:
    return orjson.dumps(
        {
            "type": "click",
            "event_id": event_id,
            "user_id": user,
            "ts": ts,
            "action": action,
            "item_id": "i1",
            "category": "books",
            "price": 10.0,
        }
    )


@pytest.fixture
async def running() -> AsyncIterator[tuple[Harness, Any]]:
    # The harness's commit interval is 0: every record is saved and committed at once.
    harness = Harness()
    agent = harness.worker.app.agents["pulse-events"]
    async with agent.test_context() as wrapped:
        yield harness, wrapped


async def test_events_flow_to_outputs_state_and_commits(running: tuple[Harness, Any]) -> None:
    harness, agent = running
    # u1 hashes to partition 0 of 4 (murmur2, as Kafka), the partition used here.
    await harness.put(agent, "clicks", 0, click("e1", "u1", "2026-03-01T10:00:00Z"))
    changes = harness.outputs("segment-changes")
    assert {c["dimension"] for c in changes} >= {"lifecycle"}
    assert all(c["cause_event_id"] == "e1" for c in changes)
    saved = [key for name, key, _ in harness.sent if name == "changelog"]
    # The user first, then the partition's progress record: progress never runs ahead.
    assert saved[-1].startswith(PROGRESS_PREFIX) and b"u1" in saved
    assert harness.committed == {TP("clicks", 0): 1}
    # Its end-to-end latency is observed: record timestamp → outputs sent (~50 ms here).
    runtime = harness.worker.runtime
    latency = runtime.record_latency
    assert sum(latency.counts) == 1 and 0.05 <= latency.total < 5


async def test_bad_record_is_a_dead_letter_and_the_agent_goes_on(
    running: tuple[Harness, Any],
) -> None:
    harness, agent = running
    await harness.put(agent, "searches", 0, b"{broken")
    await harness.put(agent, "clicks", 0, click("e2", "u1", "2026-03-01T10:00:00Z"))
    [letter] = harness.outputs("dead-letters")
    assert letter["reason"] == "malformed_json"
    assert letter["source"] == {"topic": "searches", "partition": 0, "offset": 0}
    assert harness.outputs("segment-changes"), "the next record is still processed"


async def test_a_record_delivered_twice_counts_once(running: tuple[Harness, Any]) -> None:
    harness, agent = running
    first = click("e3", "u1", "2026-03-01T10:00:00Z")
    await harness.put(agent, "clicks", 0, first)
    before = list(harness.sent)
    await harness.put(agent, "clicks", 0, first)  # same offset again (a refetch)
    assert harness.sent == before, "nothing new: not processed, not dead-lettered"


async def test_redelivery_after_restart_is_skipped_by_saved_progress(
    running: tuple[Harness, Any],
) -> None:
    harness, agent = running
    await harness.put(agent, "clicks", 0, click("e4", "u1", "2026-03-01T10:00:00Z"))
    # A new assignment: the runtime is rebuilt from the table, as after a restart.
    harness.worker.runtime.forget({0})
    harness.worker.task.acks.forget({0})
    before = len(harness.sent)
    await harness.put(agent, "clicks", 0, click("e4", "u1", "2026-03-01T10:00:00Z"))
    assert len(harness.sent) == before, "skipped: no duplicate dead letter, no output"
    assert harness.worker.runtime.redelivered == 1


async def test_a_failure_inside_the_pipeline_dead_letters_the_record_and_goes_on(
    running: tuple[Harness, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    harness, agent = running
    runtime = harness.worker.runtime
    real = runtime.process

    def flaky(partition: int, pending: Any) -> Any:
        if pending.decoded.event_id == "boom":
            raise ZeroDivisionError("a bug")
        return real(partition, pending)

    monkeypatch.setattr(runtime, "process", flaky)
    await harness.put(agent, "clicks", 0, click("boom", "u1", "2026-03-01T10:00:00Z"))
    await harness.put(agent, "clicks", 1, click("fine", "u1", "2026-03-01T10:01:00Z"))
    [letter] = harness.outputs("dead-letters")
    assert letter["reason"] == "processing_error" and "ZeroDivisionError" in letter["detail"]
    assert letter["source"] == {"topic": "clicks", "partition": 0, "offset": 0}
    assert any(c["cause_event_id"] == "fine" for c in harness.outputs("segment-changes"))
    assert harness.committed == {TP("clicks", 0): 2}, "the failed record is not retried forever"


async def test_merge_idle_waits_for_a_caught_up_topic_before_releasing_later_records() -> None:
    """PULSE_MERGE_IDLE_MS: a purchase published with a click but fetched after it is
    still processed first, by event time; a record waits at most the idle time since it
    arrived."""
    harness = Harness(merge_idle_ms=300)
    agent = harness.worker.app.agents["pulse-events"]
    purchase = orjson.dumps(
        {
            "type": "purchase",
            "event_id": "p1",
            "user_id": "u1",
            "ts": "2026-03-01T09:59:00Z",
            "order_id": "o1",
            "items": [{"item_id": "i1", "category": "books", "price": 10.0, "quantity": 1}],
            "total": 10.0,
            "currency": "EUR",
        }
    )
    async with agent.test_context() as wrapped:
        await harness.put(wrapped, "clicks", 0, click("c1", "u1", "2026-03-01T10:00:00Z"))
        assert not harness.outputs("segment-changes"), "held: purchases may hold earlier"
        await harness.put(wrapped, "purchases", 0, purchase)
        assert not harness.outputs("segment-changes"), "the purchase only just arrived"
        await asyncio.sleep(0.35)
        await harness.worker._tick()  # the worker's 0.5 s timer: the waits are over
        first = harness.outputs("segment-changes")[0]
        # Event time order, not fetch order: the purchase is the user's first activity.
        assert (first["dimension"], first["cause_event_id"]) == ("lifecycle", "p1"), first
        assert not len(harness.worker.runtime.partitions[0].merger), "the click went too"
        # A record that waited its time goes at once; a new one waits for empty topics.
        await harness.put(wrapped, "clicks", 1, click("c2", "u1", "2026-03-01T11:00:00Z"))
        assert len(harness.worker.runtime.partitions[0].merger) == 1


async def test_records_held_long_in_the_merger_are_explained_in_the_log(
    running: tuple[Harness, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    harness, agent = running
    # purchases says it holds offsets 0-4 that were never delivered: not read to its end.
    harness.ends[("purchases", 0)] = 5
    await harness.put(agent, "clicks", 0, click("e9", "u1", "2026-03-01T10:00:00Z"))
    monkeypatch.setattr("streams.worker.runtime.HELD_WARNING_S", 0.0)
    assert harness.worker.runtime.poll(0) == []
    [line] = [r.getMessage() for r in caplog.records if "event-time merger" in r.getMessage()]
    assert "clicks: 1 queued from 2026-03-01T10:00:00.000Z" in line
    assert "purchases: empty, last delivered None, committed None, end offset 5" in line


async def test_a_tick_ahead_of_older_records_on_its_topic_does_not_make_them_late(
    running: tuple[Harness, Any],
) -> None:
    """A worker far ahead in event time publishes a tick that lands in `clicks` before
    older clicks of this partition (its worker was behind, not idle): the tick waits in
    its own queue until the partition's records pass it, and nothing becomes too late."""
    from streams.core.ticks import tick_record
    from streams.core.timefmt import parse_ts

    harness, agent = running
    ahead = parse_ts("2026-03-20T00:00:00Z")  # 19 days after the click below
    harness.ends[("clicks", 0)] = 2  # both records are on the broker: one fetch's worth
    await harness.put(agent, "clicks", 0, tick_record(0, ahead))
    await harness.put(agent, "clicks", 1, click("old", "u1", "2026-03-01T10:00:00Z"))
    assert not harness.outputs("dead-letters"), harness.outputs("dead-letters")
    assert any(c["cause_event_id"] == "old" for c in harness.outputs("segment-changes"))
