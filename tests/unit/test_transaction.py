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
