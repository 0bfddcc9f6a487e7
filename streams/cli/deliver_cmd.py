"""`pulse deliver SOURCE --webhook URL`: post the sends to an HTTP endpoint (reference sink)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streams.cli.render import console, counts_table, fail


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "deliver",
        help="post campaign-sends to a webhook: de-duplicated, expiry honoured, retried",
        description="Reads campaign-sends (kafka://HOST:PORT, consumer group pulse-deliver, "
        "or a replay's campaign-sends.jsonl) and POSTs each message once to --webhook with "
        "its id as Idempotency-Key; retries connection errors, 429 and 5xx with backoff.",
    )
    parser.add_argument("source", help="kafka://HOST:PORT or OUT_DIR/campaign-sends.jsonl")
    parser.add_argument("--webhook", required=True, help="http(s)://… to POST each message to")
    parser.add_argument("--attempts", type=int, default=5, help="tries per message")
    parser.add_argument(
        "--ignore-expiry",
        action="store_true",
        help="post messages already past expires_at (replays of old logs, demos)",
    )
    parser.add_argument("--limit", type=int, default=0, help="stop after N records (0: never)")
    parser.set_defaults(run=run)


def _from_file(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


async def _from_broker(url: str, limit: int) -> list[bytes]:
    from aiokafka import AIOKafkaConsumer

    from streams.settings import Settings
    from streams.worker.kafka_clients import aiokafka_options

    settings = Settings.from_env().override(broker=url)
    consumer = AIOKafkaConsumer(
        settings.topic("campaign-sends"),
        group_id=settings.app_id + "-deliver",
        auto_offset_reset="earliest",
        **aiokafka_options(settings),
    )
    await consumer.start()
    taken: list[bytes] = []
    try:
        while not limit or len(taken) < limit:
            batch = await consumer.getmany(timeout_ms=2000)
            if not batch and limit:
                break
            for records in batch.values():
                taken += [record.value or b"" for record in records]
    finally:
        await consumer.stop()
    return taken


def run(args: argparse.Namespace) -> int:
    from streams.deliver import Delivery

    if not args.webhook.startswith(("http://", "https://")):
        return fail(
            f"--webhook {args.webhook!r} is not an http(s) URL",
            "e.g. --webhook http://127.0.0.1:8080/send",
        )
    delivery = Delivery(args.webhook, attempts=max(1, args.attempts))
    if args.ignore_expiry:
        delivery.now_ms = lambda: 0
    if "://" in args.source and not args.source.startswith("file://"):
        from streams.settings import check_broker_url

        check_broker_url(args.source)
        records: Any = asyncio.run(_from_broker(args.source, args.limit))
    else:
        path = Path(args.source)
        if path.is_dir():
            path = path / "campaign-sends.jsonl"
        if not path.is_file():
            return fail(
                f"{path} does not exist",
                "give a replay's campaign-sends.jsonl or kafka://HOST:PORT",
            )
        records = _from_file(path)
    outcomes = delivery.run(records)
    console.print(counts_table("Deliveries", dict(sorted(outcomes.items())), "outcome"))
    return 0 if not outcomes.get("failed") else 1
