"""User state in a Faust table, with an in-memory cache and coalesced changelog writes.

The core works on `UserState` objects; decoding one from the table on every event would
cost more than processing it. So each partition keeps its users as objects, marks the
ones an event changed, and writes each changed user once per batch: to the table's store
and to its changelog partition (the partition of the events that changed it).
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

import orjson

from models.checkpoint import inflate
from streams.core.state import UserState
from streams.core.state_check import checked

# Keys of per-partition bookkeeping records in the users table start with a NUL byte, which
# no user id does (the contract rejects control characters), so they never collide.
PROGRESS_PREFIX = b"\x00pulse-progress\x00"
MODEL_PREFIX = b"\x00pulse-model\x00"
LEDGER_PREFIX = b"\x00pulse-ledger\x00"
SEEN_PREFIX = b"\x00pulse-seen\x00"


def seen_key(partition: int) -> bytes:
    """Table key of a partition's seen-before filter (users whose state expired)."""
    return SEEN_PREFIX + str(partition).encode("ascii")


def ledger_key(partition: int) -> bytes:
    """Table key of a partition's campaign ledger (figures behind `campaign_stats`)."""
    return LEDGER_PREFIX + str(partition).encode("ascii")


def progress_key(partition: int) -> bytes:
    """Table key of a partition's progress record: the last processed offset per source."""
    return PROGRESS_PREFIX + str(partition).encode("ascii")


def model_key(partition: int, name: str) -> bytes:
    """Table key of one model checkpoint of a partition (`name`: churn, clusters, ...)."""
    return MODEL_PREFIX + str(partition).encode("ascii") + b"\x00" + name.encode("ascii")


def model_blobs(table: Any, partition: int) -> dict[str, bytes]:
    """The partition's saved model checkpoints, by model name."""
    prefix = MODEL_PREFIX + str(partition).encode("ascii") + b"\x00"
    blobs = {}
    for key, value in list(table.data.items()):
        raw_key = key if isinstance(key, bytes) else str(key).encode("utf-8")
        if raw_key.startswith(prefix) and value is not None:
            blobs[raw_key[len(prefix) :].decode("ascii", "replace")] = value
    return blobs


def is_user_key(key: bytes | str) -> bool:
    return not (key.startswith(b"\x00") if isinstance(key, bytes) else key.startswith("\x00"))


def read_progress(raw: bytes | None) -> tuple[dict[str, int], int | None, str]:
    """(offsets by topic, saved clock, problem): a damaged record reads as no progress.

    Without progress, redelivered records are caught by each user's recent event ids.

    >>> read_progress(b'{"offsets": {"clicks": 7}, "clock": 5}')
    ({'clicks': 7}, 5, '')
    >>> read_progress(b'{"offsets": {"clicks": "x"}}')[2]
    'progress record: offsets are not whole numbers'
    """
    if not raw:
        return {}, None, ""
    try:
        saved = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}, None, "progress record: not JSON"
    if not isinstance(saved, dict):
        return {}, None, "progress record: not an object"
    offsets = saved.get("offsets", saved)
    clock = saved.get("clock") if "offsets" in saved else None
    good_offsets = isinstance(offsets, dict) and all(
        isinstance(k, str) and type(v) is int for k, v in offsets.items()
    )
    if not good_offsets:
        return {}, None, "progress record: offsets are not whole numbers"
    if clock is not None and type(clock) is not int:
        return {}, None, "progress record: clock is not a whole number"
    return offsets, clock, ""


# A saved state is its JSON, deflated (zlib level 1: 2.2x smaller, ~40 µs — measured on
# simulated users), after this marker byte; a plain JSON state (older Pulse) starts with "{".
DEFLATED_STATE: Final = b"\x01"
MAX_STATE_JSON: Final = 1 << 20  # inflated size refused beyond this (a state stays < 128 KiB)


def encode_state(state: UserState) -> bytes:
    return DEFLATED_STATE + zlib.compress(orjson.dumps(state.to_dict()), 1)


def decode_state(data: bytes) -> UserState:
    """A saved state, type-checked (streams/core/state_check.py); ValueError/TypeError if bad.

    >>> decode_state(encode_state(UserState("u1", touched=5))).touched
    5
    >>> decode_state(b'{"user_id": "u2"}').user_id  # written before states were deflated
    'u2'
    """
    if data[:1] == DEFLATED_STATE:
        data = inflate(data[1:], MAX_STATE_JSON, "user state")  # (a ValueError if bad)
    return checked(UserState.from_dict(orjson.loads(data)))


class TableStore:
    """A partition's users: cached objects over a Faust table (keys and values are bytes)."""

    def __init__(
        self,
        table: Any,
        partition: int,
        users: dict[str, UserState],
        send: Callable[[bytes, bytes | None, int], Awaitable[Any]],
    ) -> None:
        self.table = table
        self.send = send  # (key, value, partition) onto the table's changelog
        self.partition = partition
        self.users = users
        self._dirty: set[str] = set()
        self._deleted: set[str] = set()
        self.writes = 0
        self.input_bytes = 0  # of records processed since the last flush (model budget)
        # Last processed offset per input topic, saved with the users it produced: on a
        # restart, records at or below it are redeliveries and are skipped, not re-applied.
        # The record is {"offsets": {topic: offset}, "clock": event time}; older ones were
        # the offsets alone. The clock is the partition's event time when the progress was
        # saved: a SIGKILL can leave some users of the next batch saved (their touched
        # time ahead of this); restarting from it keeps the redelivered records of that
        # batch from being judged too late.
        self.progress, self.saved_clock, self.progress_rejected = read_progress(
            table.data.get(progress_key(partition))
        )
        self.clock: Callable[[], int] = lambda: 0
        self._progress_dirty = False
        # The partition's models (see models/suite.py), saved with the users they saw.
        self.models: Any = None
        self.ledger: Any = None  # the partition's campaign Ledger, saved when it changed
        self.seen: Any = None  # the partition's SeenBefore filter, saved when it changed

    def mark_processed(self, topic: str, offset: int) -> None:
        if offset > self.progress.get(topic, -1):
            self.progress[topic] = offset
            self._progress_dirty = True

    def already_processed(self, topic: str, offset: int) -> bool:
        return offset <= self.progress.get(topic, -1)

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

    async def flush(self, final: bool = False) -> int:
        """Write every changed user once; deleted users get a tombstone. Returns writes.

        Model checkpoints are written by their byte budget (`Suite.dump_changed`); with
        `final` (revocation, shutdown) every changed model is written.

        Writes are awaited into the Kafka producer (not Faust's `send_soon` buffer, whose
        flush may return with messages still queued), so the flush Faust does before
        committing offsets covers them: a committed offset implies a saved state.
        """
        data, send = self.table.data, self.send
        for user_id in self._dirty:
            key = user_id.encode("utf-8")
            value = encode_state(self.users[user_id])
            data[key] = value
            await send(key, value, self.partition)
        for user_id in self._deleted:
            key = user_id.encode("utf-8")
            data.pop(key, None)
            await send(key, None, self.partition)
        if self.models is not None:
            # Models are written before the progress record. At revocation and shutdown a
            # restart restores users, models and progress from the same point of the
            # stream; after a crash a model resumes from its last checkpoint, which is at
            # most its own size in input behind (docs/streaming.md).
            budget = None if final else self.input_bytes
            self.input_bytes = 0
            for name, blob in self.models.dump_changed(budget).items():
                key = model_key(self.partition, name)
                data[key] = blob
                await send(key, blob, self.partition)
        if self.ledger is not None and self.ledger.dirty:
            key, value = ledger_key(self.partition), orjson.dumps(self.ledger.to_dict())
            data[key] = value
            await send(key, value, self.partition)
            self.ledger.dirty = False
        if self.seen is not None and self.seen.changed:
            key, value = seen_key(self.partition), self.seen.to_bytes()
            data[key] = value
            await send(key, value, self.partition)
            self.seen.changed = False
        if self._progress_dirty:
            # Written after the users, in the same partition: the changelog never holds
            # progress ahead of the state it stands for.
            record = {"offsets": self.progress, "clock": self.clock()}
            key, value = progress_key(self.partition), orjson.dumps(record)
            data[key] = value
            await send(key, value, self.partition)
            self._progress_dirty = False
        written = len(self._dirty) + len(self._deleted)
        self._dirty.clear()
        self._deleted.clear()
        self.writes += written
        return written
