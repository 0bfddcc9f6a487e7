"""`pulse bench core`: the in-process pipeline stage by stage, pinned to one core.

Stages are cumulative, so the difference between rows is the cost of the stage added:
parse JSON → validate (decode) → per-user features → lifecycle, value tiers, timers and
de-duplication (the pipeline without rule segments) → rule segments (the sample config)
→ the churn model alone → all models (churn, personas, recommendations) → the sample
campaigns (the whole pipeline, as `pulse replay` runs it).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import time
from collections.abc import Callable

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


def _time(stage: Callable[[list[bytes]], object], lines: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        began = time.process_time()  # CPU time: background load is not charged to a stage
        stage(lines)
        best = min(best, time.process_time() - began)
    return best


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


def run_core_bench(args: argparse.Namespace, console: Console) -> int:
    pinned = _pin_to_one_core()
    console.print(f"generating {args.users:,} users x {args.days} days (seed {args.seed}) ...")
    lines = _lines(args.users, args.days, args.seed)
    full = load_config(None)
    config = dataclasses.replace(full, campaigns=CampaignsConfig())  # stages before campaigns
    no_rules = dataclasses.replace(config, segments=())
    stages = [
        ("parse JSON (orjson)", _parse),
        ("+ validate (decode_event)", _decode),
        ("+ per-user features", _features),
        ("+ lifecycle, value tiers, timers, dedup", _pipeline(no_rules)),
        (f"+ {len(config.segments)} rule segments", _pipeline(config)),
        ("+ churn model only", _pipeline(_only(config, "churn"), models=True)),
        ("+ churn, personas, recommendations", _pipeline(config, models=True)),
        (
            f"+ {len(full.campaigns.campaigns)} campaigns (whole pipeline)",
            _pipeline(full, models=True),
        ),
    ]
    table = Table(
        title=f"pulse bench core: {len(lines):,} events, best of {args.repeat}, {pinned}",
        title_justify="left",
    )
    for header in ("stage (cumulative)", "events/s", "µs/event", "stage µs/event"):
        table.add_column(header, justify="left" if header.startswith("stage (") else "right")
    previous = 0.0
    for name, stage in stages:
        seconds = _time(stage, lines, args.repeat)
        per_event = seconds / len(lines) * 1e6
        table.add_row(
            name, f"{len(lines) / seconds:,.0f}", f"{per_event:.2f}", f"{per_event - previous:.2f}"
        )
        previous = per_event
    console.print(table)
    # Real shops' logs are often purchases only, with wide baskets: each event costs more
    # (churn scoring, rescoring of quiet customers, line items), so it gets its own row.
    retail = _retail_lines(args.users, args.seed)
    retail_seconds = _time(_pipeline(full, models=True), retail, args.repeat)
    click_per_event = previous
    retail_per_event = retail_seconds / len(retail) * 1e6
    mix = Table(title="whole pipeline by log shape (CPU of this process)", title_justify="left")
    for header in ("log", "events", "events/s", "µs/event"):
        mix.add_column(header, justify="left" if header == "log" else "right")
    mix.add_row(
        "click-heavy (persona simulator)",
        f"{len(lines):,}",
        f"{1e6 / click_per_event:,.0f}",
        f"{click_per_event:.1f}",
    )
    mix.add_row(
        f"purchase-only, wide baskets (--profile retail, {args.users:,} customers x 365 d)",
        f"{len(retail):,}",
        f"{len(retail) / retail_seconds:,.0f}",
        f"{retail_per_event:.1f}",
    )
    console.print(mix)
    pipeline = _pipeline(full, models=True)(lines)
    states = [state for partition in pipeline.partitions for state in partition.store.values()]
    sample = states[:: max(1, len(states) // 2000)]
    per_user = sum(deep_size(state) for state in sample) / max(1, len(sample))
    console.print(
        f"memory per user state: {per_user:,.0f} bytes (deep size, mean of "
        f"{len(sample):,} users; {len(states):,} users in state)"
    )
    console.print(
        "targets: >= 50,000 events/s for features + segments, >= 30,000 for the whole "
        "pipeline (models and campaigns), on one core"
    )
    return 0
