"""Versioned model checkpoints: parameters as data (JSON), never code.

A checkpoint is `PULSE-MODEL\\n` + one JSON header line + one JSON body: the model's
parameters (weights, scaler statistics, centroids, counts), written by its `to_state()`
and read back by its `from_state()`, which checks every field's type before using it.
The body is deflated (`"body": "zlib"` in the header: about 2x smaller on the changelog),
and refused if it would inflate beyond `MAX_BODY` bytes.
Nothing read from a topic is ever unpickled or executed: a forged or damaged checkpoint is
refused with a reason and the model starts fresh.

>>> blob = dump({"w": 1.0}, kind="demo", config={"lr": 0.1})
>>> header(blob)["kind"], load(blob, kind="demo", config={"lr": 0.1})
('demo', {'w': 1.0})
>>> load(blob, kind="churn", config={"lr": 0.1})
Traceback (most recent call last):
...
models.checkpoint.CheckpointError: checkpoint holds a 'demo' model, not 'churn'; start from a fresh model or restore the right topic
>>> number_map({"a": 1, "b": "x"}, "weights")
Traceback (most recent call last):
...
models.checkpoint.CheckpointError: checkpoint field weights['b'] is not a finite number
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any, Final, Protocol

import orjson

MAGIC: Final = b"PULSE-MODEL\n"
FORMAT: Final = 2  # 1 was a pickle: refused, never loaded
LARGEST: Final = 1e15  # beyond any weight, count or event time (ms) a model keeps
MAX_BODY: Final = 64 << 20  # inflated bytes: far above any capped model, far below a bomb


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored, with what to do about it."""


class Restorable(Protocol):
    def to_state(self) -> dict[str, Any]: ...

    def restore(self, state: Mapping[str, Any]) -> None: ...


def dump(state: Mapping[str, Any], kind: str, config: dict[str, Any]) -> bytes:
    """A checkpoint of `state` (JSON-serialisable: numbers, strings, lists, dicts)."""
    head = {"format": FORMAT, "kind": kind, "config": config, "body": "zlib"}
    body = zlib.compress(orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS), 1)
    return MAGIC + orjson.dumps(head, option=orjson.OPT_SORT_KEYS) + b"\n" + body


def header(blob: bytes) -> dict[str, Any]:
    if not blob.startswith(MAGIC):
        raise CheckpointError("not a Pulse model checkpoint (no header); start from a fresh model")
    end = blob.find(b"\n", len(MAGIC))
    if end < 0:
        raise CheckpointError("checkpoint header is cut short")
    try:
        head = orjson.loads(blob[len(MAGIC) : end])
    except orjson.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint header is not JSON: {exc}") from None
    if not isinstance(head, dict):
        raise CheckpointError("checkpoint header is not an object")
    return head


def load(blob: bytes, kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The state in `blob`, if its header matches what this worker runs."""
    head = header(blob)
    if head.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint format {head.get('format')!r}, this Pulse reads {FORMAT}; "
            "start from a fresh model"
        )
    if head.get("kind") != kind:
        raise CheckpointError(
            f"checkpoint holds a {head.get('kind')!r} model, not {kind!r}; "
            "start from a fresh model or restore the right topic"
        )
    if head.get("config") != config:
        raise CheckpointError(
            "checkpoint made with another model configuration; start from a fresh model"
        )
    body = blob[blob.index(b"\n", len(MAGIC)) + 1 :]
    if head.get("body") == "zlib":
        body = inflate(body, MAX_BODY, "checkpoint body")
    elif "body" in head:
        raise CheckpointError(f"checkpoint body encoding {head['body']!r} is unknown")
    try:
        state = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint body is not JSON: {exc}") from None
    if not isinstance(state, dict):
        raise CheckpointError("checkpoint body is not an object")
    return state


def inflate(data: bytes, limit: int, what: str) -> bytes:
    """`data` deflated by zlib, refused (CheckpointError, a ValueError) when it is not a
    whole zlib stream or would inflate beyond `limit` bytes (a bomb in a forged record).

    >>> inflate(zlib.compress(b"abc"), 10, "demo")
    b'abc'
    >>> inflate(zlib.compress(b"abc")[:-2], 10, "demo")
    Traceback (most recent call last):
    ...
    models.checkpoint.CheckpointError: demo is cut short
    """
    stream = zlib.decompressobj()
    try:
        raw = stream.decompress(data, limit)
    except zlib.error as exc:
        raise CheckpointError(f"{what} does not inflate: {exc}") from None
    if stream.unconsumed_tail:
        raise CheckpointError(f"{what} inflates beyond {limit:,} bytes")
    if not stream.eof:  # the stream (and its checksum) did not end: cut short
        raise CheckpointError(f"{what} is cut short")
    return raw


# Readers for `from_state`: each checks one field and says which one is wrong.


def field(state: Mapping[str, Any], name: str) -> Any:
    if name not in state:
        raise CheckpointError(f"checkpoint has no field {name}")
    return state[name]


def number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CheckpointError(f"checkpoint field {where} is not a finite number")
    if abs(value) > LARGEST:
        raise CheckpointError(f"checkpoint field {where} is out of range")
    return float(value)


def count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= LARGEST:
        raise CheckpointError(f"checkpoint field {where} is not a count")
    return value


def numbers(value: Any, where: str, length: int | None = None) -> list[float]:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        wanted = f" of {length}" if length is not None else ""
        raise CheckpointError(f"checkpoint field {where} is not a list{wanted} of numbers")
    return [number(v, f"{where}[{i}]") for i, v in enumerate(value)]


def number_map(value: Any, where: str, limit: int = 1_000_000) -> dict[str, float]:
    if not isinstance(value, dict) or len(value) > limit:
        raise CheckpointError(f"checkpoint field {where} is not a map of numbers")
    return {str(k): number(v, f"{where}[{k!r}]") for k, v in value.items()}
