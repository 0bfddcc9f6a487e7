"""`pulse topics`: create the input and output topics (and check existing ones)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from streams.cli.render import console, fail
from streams.cli.worker_cmd import add_connection_options, settings_from
from streams.config_loader import load_config


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "topics",
        help="create the topics on a broker (one-shot; used by docker-compose)",
        description="Create missing input/output topics with the config's partition count; "
        "fail if an input topic exists with another count (users would move partitions).",
    )
    add_connection_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.topic_admin import ensure_topics
    from streams.worker.kafka_clients import aiokafka_options

    settings = settings_from(args)
    if not settings.broker:
        return fail("no broker given", "pass --broker kafka://HOST:PORT or set PULSE_BROKER")
    config = load_config(settings.config)
    try:
        created = asyncio.run(
            ensure_topics(
                aiokafka_options(settings),
                config.stream.partitions,
                config.source,
                settings.topic_prefix,
            )
        )
    except OSError as exc:
        return fail(f"cannot reach the broker at {settings.broker}: {exc}")
    console.print(
        f"topics ready on {settings.broker} ({config.stream.partitions} partitions); "
        f"created: {', '.join(created) if created else 'none'}"
    )
    return 0
