"""`pulse backfill LOG --out DIR`: load a shop's history into state without messaging anyone.

Everything before `--until` (default: the whole log) builds users, segments and models;
its segment and churn outputs carry `backfill: true`, and no campaign decides on it. The
state is saved to DIR/state.jsonl.gz: `pulse replay NEW.jsonl --state DIR/state.jsonl.gz`
carries on from there (the worker's equivalent is `pulse worker --backfill-until TS`).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from streams.cli.render import byte_progress, console, fail, summary_tables
from streams.config_loader import load_config
from streams.core.config import PulseConfig
from streams.core.events import MAX_TS
from streams.core.timefmt import parse_ts


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "backfill",
        help="load history into state (no campaign messages) for a later replay or worker",
        description="Replay a shop's history in-process to build customers' state and models "
        "without deciding any campaign. Writes the outputs (flagged backfill: true), "
        "summary.json and state.jsonl.gz to --out; resume with pulse replay --state.",
    )
    parser.add_argument("log", type=Path, help="the history: events.jsonl or events.jsonl.gz")
    parser.add_argument("--out", type=Path, default=Path("backfill"), help="output directory")
    parser.add_argument(
        "--until",
        default=None,
        help="ISO-8601 time: only events before it are history (default: the whole log)",
    )
    parser.add_argument("--config", type=Path, default=None, help="config file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or tables")
    parser.set_defaults(run=run)


def add_backfill_until(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backfill-until",
        default=None,
        help="ISO-8601 time: events before it only build state (no campaign decisions; "
        "outputs flagged backfill: true)",
    )


def with_backfill(config: PulseConfig, until: str | None, whole_log: bool = False) -> PulseConfig:
    """The config with `stream.backfill_until` set from a command-line time; without one,
    unchanged, or (`whole_log`) everything is history. ValueError if `until` is no time."""
    if until is None and not whole_log:
        return config
    ms = MAX_TS if until is None else parse_ts(until)
    return dataclasses.replace(config, stream=dataclasses.replace(config.stream, backfill_until=ms))


def run(args: argparse.Namespace) -> int:
    if not args.log.is_file():
        return fail(f"log file {args.log} does not exist", "give the shop's history as JSONL")
    try:
        config = with_backfill(load_config(args.config), args.until, whole_log=True)
    except ValueError:
        return fail(f"--until {args.until!r} is not a time", "e.g. --until 2024-01-01T00:00:00Z")
    from streams.replay import replay_to_dir  # (loads the models: not for --help)
    from streams.snapshot import STATE_FILE, save_snapshot

    with byte_progress(f"backfilling {args.log.name}", enabled=not args.quiet) as update:
        result = replay_to_dir(args.log, args.out, config, update)
    users = save_snapshot(result.pipeline, args.out / STATE_FILE)
    if not args.quiet:
        for table in summary_tables(result.summary()):
            console.print(table)
            console.print()
    skipped = result.pipeline.stats.campaigns.backfill_skipped
    console.print(
        f"{users:,} users and the models saved to {args.out / STATE_FILE} "
        f"({skipped:,} campaign candidates in the history were not decided)"
    )
    console.print(f"carry on with: pulse replay NEW_EVENTS --state {args.out / STATE_FILE}")
    return 0
