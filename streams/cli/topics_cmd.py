"""`pulse topics`: create the input and output topics (and check existing ones)."""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from typing import Any

from streams.cli.render import console
from streams.cli.worker_cmd import add_connection_options, connect, settings_from
from streams.config_loader import load_config


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "topics",
        help="create the topics on a broker (one-shot; used by docker-compose)",
        description="Create missing input/output topics with the config's partition count; "
        "fail if an input topic exists with another count (users would move partitions).",
    )
    add_connection_options(parser, embedded=False)  # it never starts the embedded broker
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(settings_from(args).config)
    with ExitStack() as stack:
        settings = connect(settings_from(args), config, stack, embedded=False)
        if isinstance(settings, int):
            return settings
    console.print(
        f"topics ready on {settings.broker} ({config.stream.partitions} partitions, "
        f"prefix '{settings.topic_prefix}')"
    )
    return 0
