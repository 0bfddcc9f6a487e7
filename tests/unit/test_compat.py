"""The Faust and aiokafka internals streams/worker/compat.py relies on exist in the
installed versions (the ones pyproject.toml pins): an upgrade that moves one fails here."""

from __future__ import annotations

import inspect
from importlib.metadata import version

import aiokafka.consumer.fetcher as fetcher
import aiokafka.consumer.subscription_state as subscription
import faust.assignor.partition_assignor as assignor
import faust.channels
import faust.tables.manager
import faust.transport.consumer as consumer
import faust.transport.drivers.aiokafka as driver

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

    from streams.worker.app import PulseApp

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
