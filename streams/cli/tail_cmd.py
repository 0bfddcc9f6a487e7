"""`pulse tail TOPIC`: print output events as they arrive."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from streams.cli.render import console, fail
from streams.core.topics import ALL_TOPICS
from streams.settings import Settings


def register(commands: Any) -> None:
    parser = commands.add_parser("tail", help="print events from a topic as they arrive")
    parser.add_argument("topic", choices=ALL_TOPICS)
    parser.add_argument("--broker", default=None, help="kafka://HOST:PORT (default: $PULSE_BROKER)")
    parser.add_argument("--from-beginning", action="store_true")
    parser.add_argument("--limit", type=int, default=0, help="stop after N events (0: never)")
    form = parser.add_mutually_exclusive_group()
    form.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per line, as on the topic (the default when piped: | jq works)",
    )
    form.add_argument(
        "--pretty",
        action="store_true",
        help="one readable line per event (the default on a terminal)",
    )
    parser.set_defaults(run=run)


def describe(value: bytes) -> str:
    """One readable line per event; anything that is not JSON is shown as it is."""
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value.decode("utf-8", "replace")
    if not isinstance(event, dict):
        return value.decode("utf-8", "replace")
    kind = event.get("type")
    if kind == "segment_change":
        return (
            f"{event['ts']}  {event['user_id']:<12} {event['dimension']}: "
            f"{event['from']} → {event['to']}  ({event['reason']})"
        )
    if kind == "dead_letter":
        return (
            f"{event.get('ts')}  {event.get('user_id')}  DEAD {event['reason']}: {event['detail']}"
        )
    return orjson.dumps(event).decode()


def _write_raw(value: bytes) -> None:
    """The record's bytes on one line, unwrapped, flushed (for `| jq`, `| head`)."""
    sys.stdout.buffer.write(value.replace(b"\n", b" ") + b"\n")
    sys.stdout.buffer.flush()


def _write_readable(value: bytes) -> None:
    console.print(describe(value), highlight=False, markup=False)


async def _tail(
    settings: Settings, topic: str, from_beginning: bool, limit: int, raw: bool = False
) -> None:
    from streams.worker.kafka_clients import aiokafka_options

    consumer = AIOKafkaConsumer(
        settings.topic(topic),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **aiokafka_options(settings),
    )
    try:
        await consumer.start()
    except Exception:
        await consumer.stop()  # closes what start() opened before it failed
        raise
    shown = 0
    write = _write_raw if raw else _write_readable
    try:
        async for record in consumer:
            # A tombstone (a removed user on `user-profiles`) shows as JSON null.
            write(record.value if record.value is not None else b"null")
            shown += 1
            if limit and shown >= limit:
                return
    finally:
        await consumer.stop()


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env().override(broker=args.broker)
    if not settings.broker:
        return fail("no broker given", "pass --broker kafka://HOST:PORT (pulse demo prints it)")
    try:
        raw = args.json or (not args.pretty and not sys.stdout.isatty())
        asyncio.run(_tail(settings, args.topic, args.from_beginning, args.limit, raw))
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `| head` closed the pipe: done, not an error
        return 0
    return 0
