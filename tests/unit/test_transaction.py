"""streams/worker/transaction.py: at-least-once offset commits run beside processing, in
order, and a failed one is retried with the next."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faust.types import TP

from streams.worker import transaction
from streams.worker.transaction import Transactions


class Committer:
    """Stands in for compat.commit_offsets: each commit waits until released."""

    def __init__(self) -> None:
        self.started: list[dict[TP, int]] = []
        self.done: list[dict[TP, int]] = []
        self.release = asyncio.Event()
        self.fail_next = False

    async def __call__(self, app: Any, offsets: dict[TP, int]) -> None:
        self.started.append(dict(offsets))
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("broker away")
        self.done.append(dict(offsets))


def transactions() -> Transactions:
    return Transactions(
        app=None,
        runtime=None,  # type: ignore[arg-type]
        changelog="users-changelog",
        output_names={},
        assignment=set,
        exactly_once=False,
        commit_interval_s=1.0,
        event_timestamps=False,
        source="pulse/test",
    )


async def test_a_commit_runs_beside_processing_and_settles_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    committer = Committer()
    monkeypatch.setattr(transaction, "commit_offsets", committer)
    tx = transactions()
    tx.uncommitted = {TP("clicks", 0): 10}
    await tx.commit(force=True)
    await asyncio.sleep(0)
    assert committer.started == [{TP("clicks", 0): 10}] and not committer.done
    tx.uncommitted = {TP("clicks", 0): 20}  # records processed while it is in flight
    committer.release.set()
    await tx.commit(force=True, wait=True)  # the first lands before the second starts
    assert committer.done == [{TP("clicks", 0): 10}, {TP("clicks", 0): 20}]
    assert tx.committing is None and not tx.uncommitted


async def test_a_failed_commit_is_retried_unless_a_later_offset_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    committer = Committer()
    committer.release.set()
    committer.fail_next = True
    monkeypatch.setattr(transaction, "commit_offsets", committer)
    tx = transactions()
    tx.uncommitted = {TP("clicks", 0): 10, TP("clicks", 1): 5}
    await tx.commit(force=True)
    tx.uncommitted = {TP("clicks", 0): 12}  # a later offset of partition 0 is waiting
    await tx.settle()
    assert tx.uncommitted == {TP("clicks", 0): 12, TP("clicks", 1): 5}
    await tx.commit(force=True, wait=True)
    assert committer.done == [{TP("clicks", 0): 12, TP("clicks", 1): 5}]


class Runtime:
    """Stands in for WorkerRuntime: records which partition was flushed when."""

    def __init__(self, partitions: set[int]) -> None:
        self.partitions = dict.fromkeys(partitions)
        self.flushed: list[int] = []

    async def flush(self, partition: int, final: bool = False) -> int:
        self.flushed.append(partition)
        return 0


class Acked:
    """A processed record as the transaction sees it (`.message.tp`, `.message.offset`)."""

    def __init__(self, partition: int, offset: int) -> None:
        self.message = self
        self.tp = TP("clicks", partition)
        self.offset = offset


async def test_at_least_once_saves_one_partition_per_turn_then_commits_the_round(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    committer = Committer()
    committer.release.set()
    monkeypatch.setattr(transaction, "commit_offsets", committer)
    tx = transactions()
    runtime = tx.runtime = Runtime({0, 1, 2})  # type: ignore[assignment]
    for partition in (0, 1, 2):
        tx.processed(partition, [Acked(partition, 10)])
    tx.last_save -= 2.0  # a commit interval has passed
    tx.new_turn()
    await tx.after_records()
    await tx.after_records()  # the same turn: nothing more is saved
    assert runtime.flushed == [0] and tx.uncommitted == {TP("clicks", 0): 11}
    tx.processed(0, [Acked(0, 11)])  # after partition 0's save: waits for the next round
    tx.processed(2, [Acked(2, 11)])  # before partition 2's turn: saved in this round
    tx.new_turn()
    await tx.after_records()
    assert runtime.flushed == [0, 1] and not committer.done
    tx.new_turn()
    await tx.after_records()
    await tx.settle()
    assert runtime.flushed == [0, 1, 2]
    assert committer.done == [{TP("clicks", p): 11 if p < 2 else 12 for p in (0, 1, 2)}]
    assert tx.unsaved == {0: tx.unsaved[0]} and tx.unsaved_count == 1


async def test_a_final_save_takes_every_partition_at_once() -> None:
    tx = transactions()
    runtime = tx.runtime = Runtime({0, 1})  # type: ignore[assignment]
    tx.processed(0, [Acked(0, 3)])
    tx.processed(1, [Acked(1, 4)])
    tx.last_save -= 2.0
    tx.new_turn()
    await tx.after_records()  # a round starts with partition 0
    await tx.save(final=True)  # revocation: partition 1 now, and every partition's models
    assert runtime.flushed == [0, 1, 0] and not tx.saving
    assert tx.uncommitted == {TP("clicks", 0): 4, TP("clicks", 1): 5}
