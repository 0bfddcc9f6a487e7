"""`GET /users/{id}`: what Pulse knows about a user now, from the worker that owns them.

A user lives in one partition (Kafka's partitioner over their id); the worker that owns it
answers with the user's current view — the same fields as their newest `user_profile`
record — read on the worker's event loop between records, so it is never a half-applied
event. Another worker answers `307` with the owner's address (from the consumer group's
assignment, as Faust's table routing does); during a rebalance nobody owns it: `503` with
`Retry-After`. An unknown user is `404`.

>>> from streams.core.state import UserState
>>> lookup = UserLookup(4, owner=lambda p: "http://a:9464", own_url="http://a:9464",
...                     view=lambda user_id: UserState(user_id, lifecycle="active"))
>>> reply = lookup.get("/users/u%201")
>>> reply.status, orjson.loads(reply.body)["user_id"], orjson.loads(reply.body)["lifecycle"]
(200, 'u 1', 'active')
>>> elsewhere = UserLookup(4, owner=lambda p: "http://b:9464", own_url="http://a:9464",
...                        view=lambda user_id: None)
>>> elsewhere.get("/users/u1").location
'http://b:9464/users/u1'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, unquote

import orjson

from streams.core.ids import partition_for
from streams.core.outputs import encode, user_profile
from streams.core.state import UserState

PREFIX = "/users/"
MAX_USER_ID_BYTES = 512


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    location: str | None = None
    retry_after: int | None = None


def _error(status: int, message: str, retry_after: int | None = None) -> Reply:
    return Reply(status, orjson.dumps({"error": message}) + b"\n", retry_after=retry_after)


class UserLookup:
    """Answers `GET /users/{id}` (called from the HTTP server's thread).

    `owner(partition)`: the URL of the worker that owns it, or None (unknown right now).
    `view(user_id)`: the user's state on this worker (None: no state), or raises
    `LookupError` when the partition is owned here but not ready.
    """

    def __init__(
        self,
        partitions: int,
        owner: Callable[[int], str | None],
        own_url: str,
        view: Callable[[str], UserState | None],
    ) -> None:
        self.partitions = partitions
        self.owner = owner
        self.own_url = own_url.rstrip("/")
        self.view = view

    def get(self, path: str) -> Reply:
        user_id = unquote(path[len(PREFIX) :])
        if not user_id or len(user_id.encode("utf-8")) > MAX_USER_ID_BYTES:
            return _error(400, f"give a user id of 1 to {MAX_USER_ID_BYTES} bytes: /users/ID")
        partition = partition_for(user_id, self.partitions)
        owner = self.owner(partition)
        if owner is None:
            return _error(503, f"no worker owns partition {partition} right now (rebalance)", 2)
        if owner.rstrip("/") != self.own_url:
            return Reply(307, b"", location=f"{owner.rstrip('/')}{PREFIX}{quote(user_id)}")
        try:
            state = self.view(user_id)
        except LookupError as exc:
            return _error(503, str(exc), 2)
        if state is None:
            return _error(404, "no state for this user (never seen, expired or erased)")
        profile = user_profile(state, state.touched, None).value
        return Reply(200, encode(profile) + b"\n")
