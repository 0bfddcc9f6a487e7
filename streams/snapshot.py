"""A replay's state in a file: `pulse backfill` writes it, `pulse replay --state` resumes it.

The worker keeps users, models, campaign figures and the seen-before filter in its table;
in-process, the same records go to one gzipped JSON Lines file, so history loaded once
need not be replayed again. Resuming gives exactly the state an uninterrupted replay would
have at that point: users (with their recent event ids, so duplicates are still caught),
model checkpoints (models/checkpoint.py: data, checked field by field), each partition's
event-time clock, campaign ledger and seen-before filter, and the end of the history
(nothing triggered before it is decided after the resume). Population ranks, segment
counts and due times are rebuilt from the users, as after a worker restart.
"""

from __future__ import annotations

import base64
import gzip
from pathlib import Path
from typing import Any

import orjson

from models.suite import Suite, restore_suite
from streams.core.campaigns import Ledger
from streams.core.pipeline import DictStore, PartitionPipeline, Pipeline
from streams.core.seen import SeenBefore
from streams.core.state import UserState
from streams.core.state_check import checked

FORMAT = "pulse-snapshot/1"
STATE_FILE = "state.jsonl.gz"


class SnapshotError(ValueError):
    """A snapshot that cannot be resumed, with what to do about it."""


def save_snapshot(pipeline: Pipeline, path: Path) -> int:
    """Write the pipeline's state to `path`; returns the number of users written."""
    users = 0
    with gzip.open(path, "wb") as out:
        # What the history covered: a resumed replay decides no campaign triggered before it
        # (a pattern in the history's last hours is noticed only after it), as one replay
        # with --backfill-until would not.
        end = max(partition.clock for partition in pipeline.partitions) + 1
        head = {
            "format": FORMAT,
            "partitions": len(pipeline.partitions),
            "backfill_until": min(pipeline.config.stream.backfill_until, max(end, 0)),
        }
        out.write(orjson.dumps(head) + b"\n")
        for partition in pipeline.partitions:
            models = partition.models.dump_all() if isinstance(partition.models, Suite) else {}
            record = {
                "partition": partition.partition,
                "clock": partition.clock,
                "ledger": partition.ledger.to_dict(),
                "seen": base64.b64encode(partition.seen.to_bytes()).decode("ascii"),
                "models": {
                    name: base64.b64encode(blob).decode("ascii") for name, blob in models.items()
                },
            }
            out.write(orjson.dumps(record) + b"\n")
            for state in partition.store.values():
                out.write(
                    orjson.dumps({"partition": partition.partition, "state": state.to_dict()})
                )
                out.write(b"\n")
                users += 1
    return users


def load_snapshot(pipeline: Pipeline, path: Path) -> int:
    """Replace the (fresh) pipeline's state with the snapshot's; returns users loaded."""
    try:
        with gzip.open(path, "rb") as source:
            lines = [orjson.loads(line) for line in source if line.strip()]
    except (OSError, EOFError, orjson.JSONDecodeError) as exc:
        raise SnapshotError(f"{path} is not a readable Pulse snapshot ({exc})") from None
    if not lines or not isinstance(lines[0], dict) or lines[0].get("format") != FORMAT:
        raise SnapshotError(f"{path} is not a Pulse snapshot (no '{FORMAT}' header)")
    count = len(pipeline.partitions)
    if lines[0].get("partitions") != count:
        raise SnapshotError(
            f"{path} was made with {lines[0].get('partitions')} partitions, this config has "
            f"{count}; use the same stream.partitions"
        )
    backfill_until = lines[0].get("backfill_until", 0)
    if type(backfill_until) is not int:
        raise SnapshotError(f"{path} has a damaged header")
    parts: dict[int, dict[str, Any]] = {}
    users: dict[int, list[UserState]] = {index: [] for index in range(count)}
    try:
        for line in lines[1:]:
            index = int(line["partition"])
            if "state" in line:
                users[index].append(checked(UserState.from_dict(line["state"])))
            else:
                parts[index] = line
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"{path} holds a damaged record ({exc!r:.200})") from None
    for index in range(count):
        part = parts.get(index)
        if part is None:
            raise SnapshotError(f"{path} has no record for partition {index}")
        blobs = {name: base64.b64decode(blob) for name, blob in part["models"].items()}
        suite, problems = restore_suite(pipeline.config, blobs)
        if problems:
            raise SnapshotError(
                f"{path}: models do not fit this configuration ({'; '.join(problems)}); "
                "backfill again with the same --config"
            )
        restored = PartitionPipeline(index, pipeline.config, DictStore(), pipeline.stats, suite)
        restored.restore_ledger(Ledger.from_dict(part["ledger"]))
        restored.seen = SeenBefore.from_bytes(base64.b64decode(part["seen"]))
        for state in users[index]:
            restored.store.put(state)
        restored.rebuild(users[index])
        restored.clock = int(part["clock"])
        restored.resume_backfill(backfill_until)
        pipeline.partitions[index] = restored
    return sum(len(states) for states in users.values())
