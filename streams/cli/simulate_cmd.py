"""`pulse simulate`: write a realistic, seeded event log and its ground truth."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from streams.cli.render import console, count_progress, counts_table, fail
from streams.core.timefmt import parse_ts
from streams.simulator.generator import SimulationSpec
from streams.simulator.writer import truth_path, write_simulation


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "simulate",
        help="write a simulated shop event log",
        description="Simulate shoppers (five personas) and write "
        "their events as JSON Lines (gzipped if .gz).",
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--start",
        default="2026-01-05T00:00:00Z",
        help="event time of the first day (ISO-8601 with offset)",
    )
    parser.add_argument(
        "--bad-rate",
        type=float,
        default=0.0,
        help="share of records followed by a deliberately bad one (0..1)",
    )
    parser.add_argument("--out", type=Path, default=Path("sim.jsonl.gz"))
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.users < 1 or args.days < 1:
        return fail("--users and --days must be at least 1")
    if not 0.0 <= args.bad_rate <= 1.0:
        return fail("--bad-rate must be between 0 and 1")
    try:
        start = parse_ts(args.start)
    except ValueError as exc:
        return fail(f"--start: {exc}", "e.g. --start 2026-01-05T00:00:00Z")
    spec = SimulationSpec(users=args.users, days=args.days, seed=args.seed, start_ms=start)
    began = time.perf_counter()
    expected = int(args.users * args.days * 2.5)  # rough events per user-day, for the bar
    with count_progress("simulating", expected, enabled=not args.quiet) as update:
        counts = write_simulation(args.out, spec, args.bad_rate, update)
    seconds = time.perf_counter() - began
    console.print(
        counts_table(f"Wrote {args.out} in {seconds:.1f}s", dict(sorted(counts.items())), "records")
    )
    console.print(f"ground truth (persona, churn time per user): {truth_path(args.out)}")
    return 0
