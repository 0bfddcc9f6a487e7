"""`pulse report campaigns OUT_DIR | kafka://HOST:PORT`: did the campaigns work?"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import orjson
from rich.table import Table

from streams.cli.render import console, fail
from streams.core.uplift import campaign_table, merge, pool_variants
from streams.settings import check_broker_url


def register(commands: Any) -> None:
    parser = commands.add_parser("report", help="reports over outputs (campaigns)")
    targets = parser.add_subparsers(dest="target", metavar="WHAT", required=True)
    campaigns = targets.add_parser(
        "campaigns",
        help="treatment vs holdout per campaign and variant: conversion, revenue, uplift",
        description="Reads summary.json (or campaign_stats events) from a replay's output "
        "directory, or the campaign_stats events on the campaign-messages topic of a broker.",
    )
    campaigns.add_argument("source", help="OUT_DIR of pulse replay, or kafka://HOST:PORT")
    campaigns.add_argument(
        "--truth",
        type=Path,
        default=None,
        help="the .uplift.json of `pulse simulate --uplift`: show the true uplift beside",
    )
    campaigns.add_argument(
        "--json", action="store_true", help="print the figures as JSON (rows and outcomes)"
    )
    campaigns.set_defaults(run=run_campaigns)
    page = targets.add_parser(
        "html",
        help="one self-contained HTML page: uplift, outcomes, churn calibration, segments",
        description="Draws a replay's results (summary.json, segment-changes.jsonl) as one "
        "HTML file with inline charts: it opens offline in any browser and runs no script.",
    )
    page.add_argument("out_dir", type=Path, help="the --out folder of pulse replay")
    page.add_argument(
        "--to", type=Path, default=None, help="the page to write (default: OUT_DIR/report.html)"
    )
    page.set_defaults(run=run_html)


def latest_stats(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest campaign_stats per (partition, campaign): they are cumulative."""
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for value in values:
        if value.get("type") != "campaign_stats":
            continue
        key = (value["partition"], value["campaign"])
        if key not in latest or value["ts"] >= latest[key]["ts"]:
            latest[key] = value
    return list(latest.values())


def from_directory(path: Path) -> list[dict[str, Any]] | None:
    summary = path / "summary.json"
    if summary.is_file():
        campaigns = orjson.loads(summary.read_bytes()).get("campaigns")
        if campaigns:
            return list(campaigns["final_stats"])
    messages = path / "campaign-messages.jsonl"
    if not messages.is_file():
        return None
    return latest_stats([orjson.loads(line) for line in messages.read_bytes().splitlines() if line])


async def from_broker(url: str) -> list[dict[str, Any]]:
    from aiokafka import AIOKafkaConsumer

    from streams.settings import Settings
    from streams.worker.kafka_clients import aiokafka_options

    settings = Settings.from_env().override(broker=url)
    consumer = AIOKafkaConsumer(
        settings.topic("campaign-messages"),
        **aiokafka_options(settings),  # the cluster's TLS / SASL settings too
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    values = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    if record.value and b'"campaign_stats"' in record.value:
                        values.append(orjson.loads(record.value))
    finally:
        await consumer.stop()
    return latest_stats(values)


def print_truth(path: Path, stats: list[dict[str, Any]]) -> None:
    """The simulator's true uplift per campaign beside the measured one (variants pooled)."""
    if not path.is_file():
        console.print(f"[yellow]no truth file {path}[/]")
        return
    truth = orjson.loads(path.read_bytes()).get("campaigns", {})
    table = Table(title="Measured against the simulator's truth", title_justify="left")
    for header in ("campaign", "measured uplift (95% CI)", "true uplift", "inside?"):
        table.add_column(header, justify="left" if header == "campaign" else "right")
    for row in campaign_table(pool_variants(stats)):
        true = truth.get(row["campaign"], {}).get("true_uplift")
        if row["uplift"] is None or true is None:
            continue
        inside = row["uplift_low"] <= true <= row["uplift_high"]
        table.add_row(
            row["campaign"],
            f"{row['uplift']:+.1%} ({row['uplift_low']:+.1%}, {row['uplift_high']:+.1%})",
            f"{true:+.1%}",
            "yes" if inside else "no",
        )
    console.print(table)


def _group(row: dict[str, Any], group: str) -> str:
    """Users, conversion rate and revenue per user of one group, a line per currency."""
    per_currency = row.get("revenue_per_user_by_currency") or {}
    if per_currency:  # never a sum across currencies
        money = "\n".join(
            f"{'n/a' if values[group] is None else format(values[group], ',.2f')} {currency}/user"
            for currency, values in per_currency.items()
        )
    else:  # figures from before revenue was kept per currency
        revenue = row[f"{group}_revenue_per_user"]
        money = "n/a" if revenue is None else f"{revenue:,.2f}/user"
    return f"{row[group]:,} users\n{_pct(row[f'{group}_rate'])} conv.\n{money}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def run_campaigns(args: argparse.Namespace) -> int:
    source: str = args.source
    if "://" in source:
        check_broker_url(source)  # a typo fails at once, not after DNS retries
        stats = asyncio.run(from_broker(source))
    else:
        path = Path(source)
        if not path.is_dir():
            return fail(
                f"{path} is not a directory",
                "give the --out directory of `pulse replay`, or kafka://HOST:PORT",
            )
        found = from_directory(path)
        if found is None:
            return fail(
                f"no summary.json or campaign-messages.jsonl in {path}",
                "run: pulse replay LOG --out DIR first",
            )
        stats = found
    if not stats:
        return fail("no campaign figures found", "is a campaign configured? (campaigns.active)")
    if args.json:
        console.print_json(
            data={
                "campaigns": campaign_table(stats),
                "outcomes": {name: m["outcomes"] for name, m in sorted(merge(stats).items())},
            }
        )
        return 0
    table = Table(
        title="Campaigns: treated users vs the holdout (intent to treat)", title_justify="left"
    )
    for header in ("campaign / variant", "sent", "treatment", "holdout", "uplift (95% CI)"):
        table.add_column(header, justify="left" if header.startswith("campaign") else "right")
    for row in campaign_table(stats):
        uplift = (
            "n/a"
            if row["uplift"] is None
            else f"{row['uplift']:+.1%}\n({row['uplift_low']:+.1%}, {row['uplift_high']:+.1%})"
        )
        table.add_row(
            f"{row['campaign']}\n{row['variant']}",
            f"{row['sent']:,}",
            _group(row, "treatment"),
            _group(row, "holdout"),
            uplift,
        )
    console.print(table)
    console.print(
        "treatment = every user assigned to the treated group when a candidate passed "
        "consent (intent to treat), including those whose message then lost arbitration, "
        "hit a cap or cooldown, or expired; sent = messages that went out, per variant. "
        "The holdout is never messaged."
    )
    if args.truth is not None:
        print_truth(args.truth, stats)
    outcomes = Table(title="Outcomes by reason", title_justify="left")
    outcomes.add_column("campaign")
    outcomes.add_column("outcome")
    outcomes.add_column("count", justify="right")
    for campaign, merged in sorted(merge(stats).items()):
        for label, count in sorted(merged["outcomes"].items(), key=lambda kv: -kv[1]):
            outcomes.add_row(campaign, label, f"{count:,}")
    console.print(outcomes)
    return 0


def run_html(args: argparse.Namespace) -> int:
    from streams.report_html import ReportError, build

    if not args.out_dir.is_dir():
        return fail(f"{args.out_dir} is not a folder", "give the --out folder of pulse replay")
    try:
        page = build(args.out_dir)
    except ReportError as exc:
        return fail(str(exc), f"run: pulse replay LOG --out {args.out_dir} first")
    target = args.to or args.out_dir / "report.html"
    target.write_text(page, encoding="utf-8")
    console.print(f"wrote {target} ({len(page) // 1024:,} kB): open it in a browser")
    return 0
