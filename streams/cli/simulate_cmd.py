"""`pulse simulate`: write a realistic, seeded event log and its ground truth."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from streams.cli.render import console, count_progress, counts_table, fail
from streams.core.timefmt import parse_ts
from streams.simulator.generator import SimulationSpec
from streams.simulator.retail import RetailSpec
from streams.simulator.writer import truth_path, write_simulation


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "simulate",
        help="write a simulated shop event log",
        description="Simulate shoppers and write their events as JSON Lines (gzipped if "
        ".gz). --profile personas (default): five personas who click, search and buy. "
        "--profile retail: a purchase log shaped like real shops' (heterogeneous buyers, "
        "one-off buyers, wholesale baskets, a Christmas peak and holiday closure), from any "
        "--start date.",
    )
    parser.add_argument(
        "--profile",
        choices=("personas", "retail"),
        default="personas",
        help="which simulator (default: personas)",
    )
    parser.add_argument(
        "--views-per-order",
        type=float,
        default=0.0,
        help="with --profile retail: product views around each order (default 0: purchases only)",
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
    parser.add_argument(
        "--uplift",
        default=None,
        help="close the loop: shoppers react to Pulse's campaign messages. Either one "
        "probability for everyone (0.2) or per persona (browser=0.1,bargain_hunter=0.3)",
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="with --uplift: the campaigns to run"
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
    spec: SimulationSpec | RetailSpec
    if args.profile == "retail":
        if args.uplift is not None:
            return fail("--uplift works with --profile personas only")
        spec = RetailSpec(
            args.users, args.days, args.seed, start, views_per_order=args.views_per_order
        )
        expected = int(args.users * (1 + args.days / 60) * (1 + args.views_per_order))
    else:
        spec = SimulationSpec(users=args.users, days=args.days, seed=args.seed, start_ms=start)
        if args.uplift is not None:
            return run_closed_loop(args, spec)
        expected = int(args.users * args.days * 2.5)  # rough events per user-day, for the bar
    began = time.perf_counter()
    with count_progress("simulating", expected, enabled=not args.quiet) as update:
        counts = write_simulation(args.out, spec, args.bad_rate, update)
    seconds = time.perf_counter() - began
    console.print(
        counts_table(f"Wrote {args.out} in {seconds:.1f}s", dict(sorted(counts.items())), "records")
    )
    console.print(f"ground truth (persona, churn time per user): {truth_path(args.out)}")
    return 0


def parse_uplift(text: str) -> dict[str, float]:
    """`0.2` → everyone; `browser=0.1,bargain_hunter=0.3` → per persona."""
    from streams.simulator.personas import PERSONA_NAMES

    try:
        if "=" not in text:
            value = float(text)
            pairs = {"*": value}
        else:
            pairs = {}
            for part in text.split(","):
                name, _, number = part.partition("=")
                if name.strip() not in PERSONA_NAMES:
                    raise ValueError(f"unknown persona {name.strip()!r}")
                pairs[name.strip()] = float(number)
    except ValueError as exc:
        raise ValueError(
            f"--uplift {text!r}: {exc}; use e.g. 0.2 or browser=0.1,bargain_hunter=0.3"
        ) from None
    if any(not 0.0 <= v <= 1.0 for v in pairs.values()):
        raise ValueError(f"--uplift {text!r}: probabilities must be between 0 and 1")
    return pairs


def run_closed_loop(args: argparse.Namespace, spec: SimulationSpec) -> int:
    from streams.config_loader import load_config
    from streams.simulator.loop import uplift_path, write_closed_loop

    if args.bad_rate:
        return fail("--uplift cannot be combined with --bad-rate", "drop one of them")
    try:
        uplift = parse_uplift(args.uplift)
    except ValueError as exc:
        return fail(str(exc))
    config = load_config(args.config)
    if not config.campaigns.campaigns:
        return fail(
            "the configuration has no campaigns", "add campaigns.active, or use the default config"
        )
    began = time.perf_counter()
    with console.status("simulating with Pulse in the loop ..."):
        truth = write_closed_loop(args.out, spec, config, uplift)
    console.print(
        f"wrote {truth['records']:,} events to {args.out} in {time.perf_counter() - began:.1f}s"
    )
    table = counts_table(
        "Added purchases (reactions to messages)",
        {name: row["added_purchases"] for name, row in truth["campaigns"].items()},
        "campaign",
    )
    console.print(table)
    console.print(f"true uplift per campaign: {uplift_path(args.out)}")
    return 0
