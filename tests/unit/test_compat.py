"""The Faust and aiokafka internals streams/worker/compat.py relies on exist in the
installed versions (the ones pyproject.toml pins): an upgrade that moves one fails here."""

from __future__ import annotations

import asyncio
import inspect
from importlib.metadata import version
from typing import Any

import aiokafka.consumer.fetcher as fetcher
import aiokafka.consumer.subscription_state as subscription
import faust
import faust.assignor.partition_assignor as assignor
import faust.channels
import faust.tables.manager
import faust.transport.consumer as consumer
import faust.transport.drivers.aiokafka as driver
from faust.types import TP

from streams.worker import compat


def test_the_installed_versions_are_the_pinned_ones() -> None:
    assert version("faust-streaming").startswith("0.15.")
    major, minor = (int(part) for part in version("aiokafka").split(".")[:2])
    assert (major, minor) >= (0, 10) and (major, minor) < (0, 15)


def test_every_internal_the_worker_reads_is_where_compat_looks() -> None:
    # set_fetch_wait: Faust's consumer thread makes the aiokafka consumer; its fetcher's wait.
    assert "def _ensure_consumer" in inspect.getsource(driver.AIOKafkaConsumerThread)
    assert "self._fetch_max_wait_ms = " in inspect.getsource(fetcher.Fetcher.__init__)
    # fetch_state: the subscription's assignment and each partition's state.
    assert hasattr(subscription.Assignment, "state_value")
    partition_state = inspect.getsource(subscription.TopicPartitionState)
    assert "self.highwater" in partition_state and "def has_valid_position" in partition_state
    assert "self._subscription = " in inspect.getsource(
        __import__("aiokafka").AIOKafkaConsumer.__init__
    )
    # committed_offset / commit_offsets: Faust's consumer keeps and commits offsets itself.
    assert "self._committed_offset = " in inspect.getsource(consumer.Consumer.__init__)
    assert inspect.iscoroutinefunction(consumer.Consumer._commit_offsets)
    # called_from_faust_channels: the stream buffer is made in faust.channels, by keyword.
    assert "clear_on_resume=True" in inspect.getsource(faust.channels)
    # tables_recovered: the table manager's recovery service and its `completed` event.
    assert "recovery" in inspect.getsource(faust.tables.manager.TableManager)
    # transactional_id / ensure_transaction: Faust's per-partition transactional producers.
    assert "_transaction_producers" in driver.Producer.__annotations__
    assert "transactional_id_format" in inspect.getsource(consumer.TransactionManager)
    assert "self._txn_manager = TransactionManager(" in inspect.getsource(
        __import__("aiokafka").AIOKafkaProducer.__init__
    )
    # partition_owner: the assignor's map of (changelog topic, partition) → worker URL.
    assert "self._tps_url = " in inspect.getsource(assignor.PartitionAssignor.__init__)


def test_accessors_say_unknown_instead_of_failing_on_another_layout() -> None:
    class Elsewhere:  # nothing where compat looks
        consumer = None
        tables = None

    assert compat.fetch_state(Elsewhere(), "clicks", 0) == (None, None)
    assert compat.partition_owner(Elsewhere(), "changelog", 0) is None
    assert compat.tables_recovered(Elsewhere())
    compat.set_fetch_wait(Elsewhere(), 100)  # logs a warning, keeps Faust's default


def _make_buffer(app: object) -> object:
    return app.FlowControlQueue(10, clear_on_resume=True)  # type: ignore[attr-defined]


def test_stream_buffers_made_by_faust_channels_survive_flow_resumption(
    monkeypatch: object,
) -> None:
    import types

    import faust

    from streams.worker.topology import PulseApp

    made: list[bool] = []
    monkeypatch.setattr(  # type: ignore[attr-defined]
        faust.App,
        "FlowControlQueue",
        lambda self, maxsize=None, *, clear_on_resume=False: made.append(clear_on_resume),
    )
    app = PulseApp.__new__(PulseApp)
    # The same call, once as if made in faust.channels (its module globals), once not.
    from_channels = types.FunctionType(_make_buffer.__code__, {"__name__": "faust.channels"})
    from_channels(app)
    _make_buffer(app)
    assert made == [False, True]


def test_the_fetch_loop_compat_replaces_is_faust_s_own() -> None:
    # drain_in_batches: the fetcher awaits `consumer._drain_messages(fetcher)`; the loop
    # reads `getmany`, the read offsets and the per-record callback.
    assert "consumer._drain_messages(self)" in inspect.getsource(consumer.Fetcher)
    drain = inspect.getsource(consumer.Consumer._drain_messages)
    for used in ("self.callback", "self.getmany", "self._read_offset", "self.suspend_flow"):
        assert used in drain, used
    assert "consumer_stopped_errors" in inspect.getsource(driver.Consumer)
    assert "app.consumer_generation_id = generation" in inspect.getsource(driver)
    assert "def _new_consumer" in inspect.getsource(faust.App)


class _Stopped:
    def __init__(self) -> None:
        self.stop = False

    def is_set(self) -> bool:
        return self.stop


class _FakeConsumer:
    """Faust's consumer as the batch drain sees it: two fetches, then stop."""

    consumer_stopped_errors = ()

    def __init__(self, fetches: list[list[tuple[str, int]]]) -> None:
        self._stopped = _Stopped()
        self._read_offset: dict[TP, int | None] = {}
        self.fetches = fetches
        self.one_by_one: list[int] = []
        self.should_stop = False
        self.app = type("App", (), {"consumer_generation_id": 7, "should_stop": False})()
        self.transport = type("Transport", (), {"app": self.app})()
        self.suspend_flow = asyncio.Event()

    async def callback(self, message: Any) -> None:
        self.one_by_one.append(message.offset)

    def getmany(self, timeout: float) -> Any:
        async def records() -> Any:
            for topic, offset in self.fetches.pop(0):
                tp = TP(topic, 0)
                self._read_offset.setdefault(tp, None)
                yield tp, type("Message", (), {"offset": offset, "value": b"v"})()
            if not self.fetches:
                self._stopped.stop = True

        return records()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait_first(self, *coroutines: Any) -> None:
        await coroutines[0]
        coroutines[1].close()


def test_each_fetch_of_the_input_topics_is_one_batch() -> None:
    fake = _FakeConsumer(
        [
            [("clicks", 0), ("changelog", 40), ("clicks", 1), ("searches", 5)],
            [("clicks", 0), ("clicks", 2)],  # offset 0 again: read already, skipped
        ]
    )
    batches: list[tuple[list[int], int]] = []

    async def handler(messages: list[Any], generation: int) -> None:
        batches.append(([message.offset for message in messages], generation))

    compat.drain_in_batches(fake, frozenset({"clicks", "searches"}), handler)
    fetcher = type("Fetcher", (), {"_stopped": _Stopped()})()
    asyncio.run(fake._drain_messages(fetcher))  # type: ignore[attr-defined]
    assert batches == [([0, 1, 5], 7), ([2], 7)]
    assert fake.one_by_one == [40]  # another topic: Faust's own path, record by record
    assert compat.stale_fetch(fake.app, 7) is False
    fake.app.consumer_generation_id = 8  # a rebalance since the fetch
    assert compat.stale_fetch(fake.app, 7) is True


def test_a_batch_carries_the_generation_it_was_fetched_in_not_the_one_before_the_wait() -> None:
    """A rebalance that completes while the fetch waits: the records come after Faust's
    seek, in the new generation, and must not be dropped as stale (they would never be
    fetched again)."""
    fake = _FakeConsumer([[("clicks", 10), ("clicks", 11)]])
    real = fake.getmany

    def getmany_across_a_rebalance(timeout: float) -> Any:
        async def records() -> Any:
            fake.app.consumer_generation_id = 8  # completed during the fetch's wait
            async for row in real(timeout):
                yield row

        return records()

    fake.getmany = getmany_across_a_rebalance  # type: ignore[method-assign]
    batches: list[tuple[list[int], int]] = []

    async def handler(messages: list[Any], generation: int) -> None:
        batches.append(([message.offset for message in messages], generation))

    compat.drain_in_batches(fake, frozenset({"clicks"}), handler)
    fetcher = type("Fetcher", (), {"_stopped": _Stopped()})()
    asyncio.run(fake._drain_messages(fetcher))  # type: ignore[attr-defined]
    assert batches == [([10, 11], 8)]
    assert not compat.stale_fetch(fake.app, batches[0][1])


def test_faust_keeps_the_producer_of_a_revoked_partition_that_became_a_standby() -> None:
    # stop_unowned_transactions exists because on_rebalance filters revoked partitions
    # through is_standby before stopping their producers; if Faust stops doing that, this
    # fails and the workaround can go.
    source = inspect.getsource(consumer.TransactionManager)
    assert "if not assignor.is_standby(tp)" in source
    assert "_stop_transactions" in source


def test_producers_of_partitions_not_owned_are_stopped_and_forgotten() -> None:
    stopped: list[str] = []

    class Producer:
        def __init__(self, name: str) -> None:
            self.name = name

        async def stop(self) -> None:
            stopped.append(self.name)

    class Assignor:
        def group_for_topic(self, topic: str) -> int:
            return 1

    class App:
        conf = type("Conf", (), {"id": "pulse"})()
        assignor = Assignor()
        producer = type("FaustProducer", (), {})()

    app = App()
    app.producer._transaction_producers = {  # type: ignore[attr-defined]
        f"pulse-1-{p}": Producer(f"pulse-1-{p}") for p in (0, 1, 2)
    }
    gone = asyncio.run(compat.stop_unowned_transactions(app, "users-changelog", {2, 3}, 4))
    assert gone == stopped == ["pulse-1-0", "pulse-1-1"]
    assert list(app.producer._transaction_producers) == ["pulse-1-2"]  # type: ignore[attr-defined]
