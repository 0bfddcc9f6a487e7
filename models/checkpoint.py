"""Versioned model checkpoints: a readable header checked *before* any unpickling.

A checkpoint is `PULSE-MODEL\\n` + one JSON header line + the pickled model. Loading
reads the header first and refuses anything it does not expect (another kind of model,
another format, another River major.minor, another configuration), so bytes that some
other producer wrote to a topic are never unpickled by accident.

>>> blob = dump({"w": 1.0}, kind="demo", config={"lr": 0.1})
>>> header(blob)["kind"], load(blob, kind="demo", config={"lr": 0.1})
('demo', {'w': 1.0})
>>> load(blob, kind="churn", config={"lr": 0.1})
Traceback (most recent call last):
...
models.checkpoint.CheckpointError: checkpoint holds a 'demo' model, not 'churn'; start from a fresh model or restore the right topic
"""

from __future__ import annotations

import json
import pickle
from importlib.metadata import version
from typing import Any, Final

MAGIC: Final = b"PULSE-MODEL\n"
FORMAT: Final = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored, with what to do about it."""


def _river_series() -> str:
    return ".".join(version("river").split(".")[:2])


def dump(model: Any, kind: str, config: dict[str, Any]) -> bytes:
    head = {"format": FORMAT, "kind": kind, "river": _river_series(), "config": config}
    return MAGIC + json.dumps(head, sort_keys=True).encode() + b"\n" + pickle.dumps(model)


def header(blob: bytes) -> dict[str, Any]:
    if not blob.startswith(MAGIC):
        raise CheckpointError("not a Pulse model checkpoint (no header); refusing to unpickle it")
    end = blob.find(b"\n", len(MAGIC))
    if end < 0:
        raise CheckpointError("checkpoint header is cut short")
    try:
        head = json.loads(blob[len(MAGIC) : end])
    except ValueError as exc:
        raise CheckpointError(f"checkpoint header is not JSON: {exc}") from None
    if not isinstance(head, dict):
        raise CheckpointError("checkpoint header is not an object")
    return head


def load(blob: bytes, kind: str, config: dict[str, Any]) -> Any:
    """The model in `blob`, if its header matches what this worker runs."""
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
    if head.get("river") != _river_series():
        raise CheckpointError(
            f"checkpoint made with River {head.get('river')}, this is {_river_series()}; "
            "start from a fresh model (pickles do not cross River versions safely)"
        )
    if head.get("config") != config:
        raise CheckpointError(
            "checkpoint made with another model configuration; start from a fresh model"
        )
    return pickle.loads(blob[blob.index(b"\n", len(MAGIC)) + 1 :])  # noqa: S301 - header checked
