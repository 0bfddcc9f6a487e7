"""`pulse replay LOG --out DIR`: run a recorded log through the pipeline in-process."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

from streams.cli.backfill_cmd import add_backfill_until, with_backfill
from streams.cli.render import byte_progress, console, fail, summary_tables
from streams.config_loader import load_config
from streams.core.config import PulseConfig
from streams.core.pipeline import Stats
from streams.logfile import sniff


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "replay",
        help="replay a recorded log in-process into output files",
        description="Replay a JSON Lines log (optionally gzipped) through Pulse in-process. "
        "Writes one JSONL file per output topic, and summary.json, to --out.",
    )
    parser.add_argument("log", type=Path, help="events.jsonl or events.jsonl.gz")
    parser.add_argument(
        "--out", type=Path, default=Path("out"), help="output directory (in-process replay)"
    )
    parser.add_argument(
        "--broker",
        default=None,
        help="kafka://HOST:PORT: produce the log onto the input topics instead",
    )
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=float,
        default=None,
        help="with --broker: replay event-time gaps N times faster (e.g. 60)",
    )
    pace.add_argument("--max", action="store_true", help="with --broker: as fast as possible")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: the sample shipped with Pulse)",
    )
    parser.add_argument(
        "--all-scores",
        action="store_true",
        help="also write churn-scores.jsonl: one line per churn prediction point",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="resume from the state a `pulse backfill` saved (its state.jsonl.gz)",
    )
    add_backfill_until(parser)
    parser.add_argument(
        "--send-expired",
        action="store_true",
        help="decide campaign messages that expired before today as the log's own time "
        "would (default: suppressed as expired, so an old log messages nobody)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or tables")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.log.is_dir():
        return fail(
            f"{args.log} is a directory; give one log file (JSON Lines, optionally gzipped)",
            "for example: pulse replay out/sim.jsonl.gz --out out/",
        )
    if not args.log.is_file():
        return fail(
            f"log file {args.log} does not exist",
            "make one with: pulse simulate --out sim.jsonl.gz",
        )
    if args.out.exists() and not args.out.is_dir():
        return fail(
            f"--out {args.out} is a file; it names the folder the outputs go to",
            f"pick a folder, e.g. --out {args.out.with_suffix('')}-out/",
        )
    if args.state is not None and not args.state.is_file():
        return fail(
            f"state file {args.state} does not exist",
            "make one with: pulse backfill HISTORY.jsonl.gz --out state/ (then --state "
            "state/state.jsonl.gz)",
        )
    try:
        config = with_backfill(load_config(args.config), args.backfill_until)
    except ValueError:
        return fail(
            f"--backfill-until {args.backfill_until!r} is not a time",
            "e.g. --backfill-until 2024-01-01T00:00:00Z",
        )
    if args.broker:
        return produce(args, config)
    if not args.send_expired:
        config = expire_before_now(config)
    # Imported here: the models (River, SciPy) take most of a second to load, and
    # `pulse --help` or a refused argument should not wait for them.
    from streams.replay import replay_to_dir
    from streams.snapshot import SnapshotError

    try:
        with byte_progress(f"replaying {args.log.name}", enabled=not args.quiet) as update:
            result = replay_to_dir(
                args.log, args.out, config, update, args.all_scores, resume=args.state
            )
    except SnapshotError as exc:
        return fail(str(exc), "resume with the --config the backfill used, or backfill again")
    if not args.quiet:
        for table in summary_tables(result.summary()):
            console.print(table)
            console.print()
    console.print(f"outputs in {args.out}/ (summary.json has the figures above)")
    return check_input(args.log, result.pipeline.stats)


def check_input(log: Path, stats: Stats) -> int:
    """0, or an error when the log was empty or mostly refused (the outputs are written:
    dead-letters.jsonl says why each record was refused)."""
    if not stats.records:
        return fail(f"{log} holds no records", "give a JSON Lines log: one event object per line")
    refused = stats.mostly_rejected()
    if refused is None:
        return 0
    rejected, reasons = refused
    found = sniff(log)
    hint = (
        "see dead-letters.jsonl for each record's reason (docs/events.md: the contract)"
        if found == "JSON Lines"
        else f"convert it first: pulse convert {log} --from csv --mapping MAPPING --out "
        "log.jsonl.gz (mappings: rees46, taobao, or your own YAML), or --from segment"
    )
    return fail(
        f"{rejected:,} of {stats.records:,} records of {log} were refused ({reasons}); "
        f"the file looks like {found}",
        hint,
    )


def expire_before_now(config: PulseConfig) -> PulseConfig:
    """Messages that expired before this moment are suppressed (the wall clock enters here,
    at the command line, never in the core)."""
    policy = dataclasses.replace(config.campaigns.policy, expired_before=int(time.time() * 1000))
    campaigns = dataclasses.replace(config.campaigns, policy=policy)
    return dataclasses.replace(config, campaigns=campaigns)


def produce(args: argparse.Namespace, config: Any) -> int:
    from streams.cli.render import counts_table
    from streams.producer import produce_log
    from streams.settings import Settings
    from streams.topic_admin import ensure_topics
    from streams.worker.kafka_clients import aiokafka_options

    if args.speed is not None and args.speed <= 0:
        return fail("--speed must be above 0", "e.g. --speed 60 replays an hour per minute")
    settings = Settings.from_env().override(broker=args.broker)
    options = aiokafka_options(settings)

    async def main(update: Any) -> Any:
        await ensure_topics(
            options,
            config.stream.partitions,
            config.source,
            settings.topic_prefix,
            settings.replication_factor,
        )
        return await produce_log(
            args.log,
            options,
            None if args.max else args.speed,
            update,
            prefix=settings.topic_prefix,
            config=config,
        )

    with byte_progress(f"producing {args.log.name}", enabled=not args.quiet) as update:
        try:
            counts = asyncio.run(main(update))
        except OSError as exc:
            return fail(f"cannot reach the broker at {args.broker}: {exc}")
    console.print(counts_table(f"Produced to {args.broker}", dict(counts), "topic"))
    return 0
