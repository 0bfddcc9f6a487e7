"""User state in a Faust table, with an in-memory cache and coalesced changelog writes.

The core works on `UserState` objects; decoding one from the table on every event would
cost more than processing it. So each partition keeps its users as objects, marks the
ones an event changed, and writes each changed user once per batch: to the table's store
and to its changelog partition (the partition of the events that changed it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from streams.core.state import UserState


def encode_state(state: UserState) -> bytes:
    return orjson.dumps(state.to_dict())


def decode_state(data: bytes) -> UserState:
    return UserState.from_dict(orjson.loads(data))


class TableStore:
    """A partition's users: cached objects over a Faust table (keys and values are bytes)."""

    def __init__(self, table: Any, partition: int, users: dict[str, UserState]) -> None:
        self.table = table
        self.partition = partition
        self.users = users
        self._dirty: set[str] = set()
        self._deleted: set[str] = set()
        self.writes = 0

    def get(self, user_id: str) -> UserState | None:
        return self.users.get(user_id)

    def put(self, state: UserState) -> None:
        self.users[state.user_id] = state
        self._dirty.add(state.user_id)
        self._deleted.discard(state.user_id)

    def delete(self, user_id: str) -> None:
        if self.users.pop(user_id, None) is not None:
            self._deleted.add(user_id)
            self._dirty.discard(user_id)

    def values(self) -> Iterable[UserState]:
        return self.users.values()

    def __len__(self) -> int:
        return len(self.users)

    def flush(self) -> int:
        """Write every changed user once; deleted users get a tombstone. Returns writes."""
        table, data = self.table, self.table.data
        for user_id in self._dirty:
            key = user_id.encode("utf-8")
            value = encode_state(self.users[user_id])
            data[key] = value
            table.send_changelog(self.partition, key, value)
        for user_id in self._deleted:
            key = user_id.encode("utf-8")
            data.pop(key, None)
            table.send_changelog(self.partition, key, None)
        written = len(self._dirty) + len(self._deleted)
        self._dirty.clear()
        self._deleted.clear()
        self.writes += written
        return written
