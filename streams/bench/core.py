"""`pulse bench core`: the in-process pipeline stage by stage, pinned to one core.

Stages are cumulative, so the difference between rows is the cost of the stage added:
parse JSON → validate (decode) → per-user features → the pipeline's bookkeeping with
lifecycle, value tiers, timers and de-duplication (no rule segments) → rule segments (the
sample config) → the churn model alone → all models (churn, personas, recommendations) →
the sample campaigns (the whole core) → `pulse replay` itself (reading the log file,
encoding and writing every output, the summary). The same whole pipeline then runs on a
purchase-only log with wide baskets.

Measured so that load on a shared machine is not charged to one stage: CPU time of this
process (`process_time`) beside wall time, and the stages run round-robin — round 1 runs
every stage once, round 2 again … — keeping each stage's best round. docs/benchmarks.md
says how to read the figures and how much they vary.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from models.suite import suite_factory
from streams.bench.memory import deep_size
from streams.config_loader import load_config
from streams.core.campaign_config import CampaignsConfig
from streams.core.config import PulseConfig
from streams.core.events import decode_event
from streams.core.features import UserFeatures
from streams.core.pipeline import Pipeline
from streams.core.timefmt import parse_ts
from streams.simulator.generator import SimulationSpec, simulate
from streams.simulator.retail import RetailSpec, retail_events


def _pin_to_one_core() -> str:
    try:
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity here)"


def _lines(users: int, days: int, seed: int) -> list[bytes]:
    events, _ = simulate(SimulationSpec(users, days, seed, parse_ts("2026-01-05T00:00:00Z")))
    return [orjson.dumps(event) for event in events]


def _retail_lines(customers: int, seed: int) -> list[bytes]:
    spec = RetailSpec(customers, 365, seed, parse_ts("2010-12-01T00:00:00Z"))
    events, _ = retail_events(spec)
    return [orjson.dumps(event) for event in events]


Stage = Callable[[list[bytes]], object]


def _time_once(stage: Stage, lines: list[bytes]) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) of one run of `stage`."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    stage(lines)
    return time.process_time() - cpu, time.perf_counter() - wall


def round_robin(
    stages: list[tuple[str, Stage, list[bytes]]],
    repeat: int,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, tuple[float, float]]:
    """Each stage's best (CPU, wall) seconds over `repeat` rounds of all stages in turn.

    >>> best = round_robin([("a", len, [b"x"]), ("b", sorted, [b"y"])], repeat=2)
    >>> sorted(best), all(cpu >= 0 and wall >= 0 for cpu, wall in best.values())
    (['a', 'b'], True)
    """
    best: dict[str, tuple[float, float]] = {}
    for round_number in range(1, repeat + 1):
        for index, (name, stage, lines) in enumerate(stages, start=1):
            progress(f"round {round_number}/{repeat}, stage {index}/{len(stages)}: {name}")
            cpu, wall = _time_once(stage, lines)
            held = best.get(name)
            best[name] = (min(cpu, held[0]), min(wall, held[1])) if held else (cpu, wall)
    return best


def _replay_stage(config: PulseConfig, directory: Path, lines: list[bytes]) -> Stage:
    """What `pulse replay LOG --out DIR` does: read the file, process, encode, write
    (the log file is written here, before any timing)."""
    from streams.replay import replay_to_dir

    directory.mkdir()
    log = directory / "bench.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")

    def run(_: list[bytes]) -> None:
        replay_to_dir(log, directory / "out", config)

    return run


def _parse(lines: list[bytes]) -> None:
    loads = orjson.loads
    for raw in lines:
        loads(raw)


def _decode(lines: list[bytes]) -> None:
    for raw in lines:
        decode_event(raw)


def _features(lines: list[bytes]) -> dict[str, UserFeatures]:
    users: dict[str, UserFeatures] = {}
    for raw in lines:
        event = decode_event(raw)
        features = users.get(event.user_id)
        if features is None:
            features = users[event.user_id] = UserFeatures()
        features.update(event)
    return users


def _pipeline(config: PulseConfig, models: bool = False) -> Callable[[list[bytes]], Pipeline]:
    def run(lines: list[bytes]) -> Pipeline:
        pipeline = Pipeline(config, suite_factory(config) if models else None)
        source = {"file": "bench", "line": 0}
        for raw in lines:
            pipeline.process(raw, source)
        return pipeline

    return run


def _only(config: PulseConfig, model: str) -> PulseConfig:
    """The configuration with every model but `model` switched off."""
    m = config.models
    return dataclasses.replace(
        config,
        models=dataclasses.replace(
            m,
            churn=dataclasses.replace(m.churn, enabled=model == "churn"),
            clusters=dataclasses.replace(m.clusters, enabled=model == "clusters"),
            recommendations=dataclasses.replace(
                m.recommendations, enabled=model == "recommendations"
            ),
        ),
    )


def _stderr(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def run_core_bench(args: argparse.Namespace, console: Console) -> int:
    pinned = _pin_to_one_core()
    _stderr(f"generating {args.users:,} users x {args.days} days (seed {args.seed}) ...")
    lines = _lines(args.users, args.days, args.seed)
    _stderr(f"generating a purchase-only log of {args.users:,} customers x 365 days ...")
    retail = _retail_lines(args.users, args.seed)
    full = load_config(None)
    config = dataclasses.replace(full, campaigns=CampaignsConfig())  # stages before campaigns
    no_rules = dataclasses.replace(config, segments=())
    with tempfile.TemporaryDirectory(prefix="pulse-bench-") as tmp:
        replay_clicks = _replay_stage(full, Path(tmp) / "clicks", lines)
        replay_purchases = _replay_stage(full, Path(tmp) / "purchases", retail)
        # (name, stage, log): the cumulative stages on the click-heavy log, then the log shapes.
        stages: list[tuple[str, Stage, list[bytes]]] = [
            ("parse JSON (orjson)", _parse, lines),
            ("+ validate (decode_event)", _decode, lines),
            ("+ per-user features", _features, lines),
            ("+ pipeline: lifecycle, value tiers, timers, dedup", _pipeline(no_rules), lines),
            (f"+ {len(config.segments)} rule segments", _pipeline(config), lines),
            ("+ churn model only", _pipeline(_only(config, "churn"), models=True), lines),
            ("+ churn, personas, recommendations", _pipeline(config, models=True), lines),
            (
                f"+ {len(full.campaigns.campaigns)} campaigns (the whole core)",
                _pipeline(full, models=True),
                lines,
            ),
            ("+ read, encode, write (pulse replay)", replay_clicks, lines),
            ("purchase-only, wide baskets: pulse replay", replay_purchases, retail),
        ]
        best = round_robin(stages, args.repeat, _stderr)
    _stderr("memory per user state ...")
    pipeline = _pipeline(full, models=True)(lines)
    states = [state for partition in pipeline.partitions for state in partition.store.values()]
    sample = states[:: max(1, len(states) // 2000)]
    per_user = sum(deep_size(state) for state in sample) / max(1, len(sample))
    figures = _figures(stages, best, args, pinned, per_user, len(states))
    if getattr(args, "json", False):
        console.print_json(data=figures)
        return 0
    _print(console, figures)
    return 0


def _figures(
    stages: list[tuple[str, Stage, list[bytes]]],
    best: dict[str, tuple[float, float]],
    args: argparse.Namespace,
    pinned: str,
    per_user: float,
    users: int,
) -> dict[str, Any]:
    rows = []
    previous = 0.0
    for name, _, log in stages:
        cpu, wall = best[name]
        cpu_us = cpu / len(log) * 1e6
        cumulative = not name.startswith("purchase-only")
        rows.append(
            {
                "stage": name,
                "events": len(log),
                "cpu_us_per_event": round(cpu_us, 2),
                "wall_us_per_event": round(wall / len(log) * 1e6, 2),
                "stage_cpu_us_per_event": round(cpu_us - previous, 2) if cumulative else None,
                "events_per_s_cpu": round(len(log) / cpu) if cpu else None,
            }
        )
        if cumulative:
            previous = cpu_us
    return {
        "bench": "core",
        "users": args.users,
        "days": args.days,
        "seed": args.seed,
        "rounds": args.repeat,
        "pinned": pinned,
        "stages": rows,
        "memory_per_user_bytes": round(per_user),
        "users_in_state": users,
    }


def _print(console: Console, figures: dict[str, Any]) -> None:
    clicks = figures["stages"][0]["events"]
    table = Table(
        title=f"pulse bench core: {clicks:,} click-heavy events, best of {figures['rounds']} "
        f"round-robin rounds, {figures['pinned']}",
        title_justify="left",
    )
    for header in (
        "stage (cumulative)",
        "events/s (CPU)",
        "CPU µs/event",
        "wall µs/event",
        "stage CPU µs/event",
    ):
        table.add_column(header, justify="left" if header.startswith("stage (") else "right")
    for row in figures["stages"]:
        stage = row["stage_cpu_us_per_event"]
        table.add_row(
            row["stage"] + ("" if stage is not None else f" ({row['events']:,} events)"),
            f"{row['events_per_s_cpu']:,}",
            f"{row['cpu_us_per_event']:.2f}",
            f"{row['wall_us_per_event']:.2f}",
            "" if stage is None else f"{stage:.2f}",
        )
    console.print(table)
    console.print(
        f"memory per user state: {figures['memory_per_user_bytes']:,} bytes (deep size, mean "
        f"over a sample; {figures['users_in_state']:,} users in state)"
    )
    console.print(
        "The last row is another log (purchases only, 365 days). CPU time is this process's "
        "own (load from other processes is not charged); wall time includes it. Targets: >= 50,000 events/s for features + segments, >= 30,000 "
        "for the whole core, >= 10,000 for the purchase-only log (one core)."
    )
