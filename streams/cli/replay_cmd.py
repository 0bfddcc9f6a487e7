"""`pulse replay LOG --out DIR`: run a recorded log through the pipeline in-process."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from streams.cli.render import byte_progress, console, fail, summary_tables
from streams.config_loader import load_config
from streams.replay import replay_to_dir


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "replay",
        help="replay a recorded log in-process into output files",
        description="Replay a JSON Lines log (optionally gzipped) through Pulse in-process. "
        "Writes one JSONL file per output topic, and summary.json, to --out.",
    )
    parser.add_argument("log", type=Path, help="events.jsonl or events.jsonl.gz")
    parser.add_argument("--out", type=Path, default=Path("out"), help="output directory")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: the sample shipped with Pulse)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or tables")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.log.is_file():
        return fail(
            f"log file {args.log} does not exist",
            "make one with: pulse simulate --out sim.jsonl.gz",
        )
    config = load_config(args.config)
    with byte_progress(f"replaying {args.log.name}", enabled=not args.quiet) as update:
        result = replay_to_dir(args.log, args.out, config, update)
    if not args.quiet:
        for table in summary_tables(result.summary()):
            console.print(table)
            console.print()
    console.print(f"outputs in {args.out}/ (summary.json has the figures above)")
    return 0
