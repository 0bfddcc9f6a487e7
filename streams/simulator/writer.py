"""Write a simulated log (JSON Lines, gzipped by extension) and its ground-truth sidecar."""

from __future__ import annotations

import gzip
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, cast

import orjson

from streams.simulator.generator import SimulationSpec, simulate
from streams.simulator.noise import bad_record
from streams.simulator.retail import RetailSpec, retail_events


def truth_path(log_path: Path) -> Path:
    """`sim.jsonl.gz` → `sim.truth.jsonl`."""
    name = log_path.name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return log_path.with_name(f"{name}.truth.jsonl")


def open_text_out(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "wb", compresslevel=5))
    return path.open("wb")


def write_simulation(
    path: Path,
    spec: SimulationSpec | RetailSpec,
    bad_rate: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> Counter[str]:
    """Write the log; returns counts by event type (and `bad:<reason>` for injected noise).

    A `RetailSpec` writes a real-shop-shaped purchase log (streams/simulator/retail.py).
    """
    events, users = retail_events(spec) if isinstance(spec, RetailSpec) else simulate(spec)
    noise_rng = random.Random(f"noise:{spec.seed}")
    counts: Counter[str] = Counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_text_out(path) as out:
        for index, event in enumerate(events):
            line = orjson.dumps(event)
            out.write(line + b"\n")
            counts[event["type"]] += 1
            if bad_rate and noise_rng.random() < bad_rate:
                reason, bad = bad_record(noise_rng, event, line)
                out.write(bad + b"\n")
                counts[f"bad:{reason}"] += 1
            if progress is not None and index % 20_000 == 0:
                progress(index)
        if progress is not None:
            progress(sum(counts.values()))  # the real count: the bar ends at 100 %
    with truth_path(path).open("wb") as truth:
        for user in users:
            truth.write(orjson.dumps(user.truth().to_dict()) + b"\n")
    return counts
