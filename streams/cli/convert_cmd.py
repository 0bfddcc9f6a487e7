"""`pulse convert INPUT --from csv|segment|rudderstack|snowplow --out LOG`: other formats
onto Pulse's."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from streams.cli.render import console, counts_table, fail


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "convert",
        help="convert a CSV (with a mapping) or a Segment/RudderStack/Snowplow export to a Pulse log",
        description="Writes one Pulse event per line, sorted by event time, to --out; records "
        "that have no Pulse event go to <out>.unmapped.jsonl with the reason. Mappings for "
        "the REES46 and Taobao logs ship with Pulse (--mapping rees46 / taobao).",
    )
    parser.add_argument("input", type=Path, help="the CSV or the JSON-lines export (.gz too)")
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        choices=("csv", "segment", "rudderstack", "snowplow"),
    )
    parser.add_argument(
        "--mapping", default=None, help="with --from csv: rees46, taobao or a mapping YAML file"
    )
    parser.add_argument("--out", type=Path, required=True, help="the Pulse log (.jsonl[.gz])")
    parser.add_argument("--currency", default="USD", help="for orders that name none (default USD)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.convert import csv_mapping
    from streams.convert.formats import LINE_FORMATS
    from streams.convert.result import unmapped_path, write

    if not args.input.is_file():
        return fail(f"{args.input} does not exist", "give the file exported from your shop")
    if args.out.exists() and args.out.is_dir():
        return fail(f"--out {args.out} is a folder", "name the log file, e.g. --out shop.jsonl.gz")
    lines = csv_mapping.read_text_lines(args.input)
    if args.source == "csv":
        if args.mapping is None:
            return fail(
                "--from csv needs --mapping",
                f"use one of {', '.join(csv_mapping.SHIPPED)}, or write a mapping YAML "
                "(streams/defaults/mappings/rees46.yaml is a complete example)",
            )
        results = csv_mapping.convert(csv_mapping.load_mapping(args.mapping), lines)
    else:
        convert_line, currency = LINE_FORMATS[args.source], args.currency.upper()
        results = (
            convert_line(line, number, currency)
            for number, line in enumerate(lines, start=1)
            if line.strip()
        )
    outcome = write(results, args.out)
    console.print(counts_table(f"Wrote {args.out}", dict(outcome.by_type), "events"))
    if outcome.unmapped:
        unmapped = dict(outcome.unmapped.most_common(10))
        console.print(counts_table("Not converted (first 10 reasons)", unmapped, "reason"))
        console.print(f"every record not converted, with its reason: {unmapped_path(args.out)}")
    if not outcome.events:
        return fail(
            f"no record of {args.input} became a Pulse event",
            "check --from / --mapping against the file's columns and kinds",
        )
    console.print(f"next: pulse replay {args.out} --out out/")
    return 0
