"""`pulse worker`: the Faust worker, on a given Kafka or on the embedded broker."""

from __future__ import annotations

import argparse
import asyncio
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from streams.cli.backfill_cmd import add_backfill_until, with_backfill
from streams.cli.render import console, fail
from streams.config_loader import load_config
from streams.core.config import PulseConfig
from streams.settings import Settings


def add_connection_options(parser: argparse.ArgumentParser, embedded: bool = True) -> None:
    parser.add_argument(
        "--broker",
        default=None,
        help="kafka://HOST:PORT (default: $PULSE_BROKER"
        + (", else the embedded broker)" if embedded else "; required)"),
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: $PULSE_CONFIG, else the shipped sample)",
    )


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "worker",
        help="run the streaming worker (Faust)",
        description="Consume clicks, searches, purchases and profiles; emit segment changes, "
        "churn risk, campaign messages and dead letters. Without --broker and "
        "PULSE_BROKER, starts the embedded development broker first.",
    )
    add_connection_options(parser)
    parser.add_argument("--workdir", type=Path, default=None, help="Faust data directory")
    parser.add_argument("--app-id", default=None, help="consumer group id (default: pulse)")
    parser.add_argument("--metrics-port", type=int, default=None)
    parser.add_argument("--log-level", default=None, help="debug, info, warning (default)")
    add_backfill_until(parser)
    parser.set_defaults(run=run)


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env().override(
        broker=getattr(args, "broker", None),
        config=getattr(args, "config", None),
        workdir=getattr(args, "workdir", None),
        app_id=getattr(args, "app_id", None),
        metrics_port=getattr(args, "metrics_port", None),
        log_level=getattr(args, "log_level", None),
    )


def connect(
    settings: Settings, config: PulseConfig, stack: ExitStack, embedded: bool = True
) -> Settings | int:
    """Settings pointing at a broker with the topics in place, or an exit code.

    Without a broker in the settings, starts the embedded one (stopped by `stack`).
    """
    from streams.broker import BrokerError, EmbeddedBroker
    from streams.topic_admin import ensure_topics, topic_configs
    from streams.worker.kafka_clients import aiokafka_options

    if not settings.broker:
        if not embedded:
            return fail("no broker given", "pass --broker kafka://HOST:PORT or set PULSE_BROKER")
        if settings.exactly_once():
            return fail(
                "PULSE_PROCESSING_GUARANTEE=exactly_once needs transactions, which the "
                "embedded broker does not have",
                "pass --broker kafka://HOST:PORT (Apache Kafka), or use at_least_once",
            )
        try:
            broker = stack.enter_context(EmbeddedBroker().start())
        except BrokerError as exc:
            return fail(str(exc))
        settings = settings.override(broker=broker.url)
        console.print(f"embedded broker (tansu, memory only) on {broker.url}")
    try:
        asyncio.run(
            ensure_topics(
                aiokafka_options(settings),
                config.stream.partitions,
                config.source,
                settings.topic_prefix,
                settings.replication_factor,
                topic_configs(
                    settings.changelog_segment_ms, settings.changelog_max_compaction_lag_ms
                ),
            )
        )
    except OSError as exc:
        return fail(
            f"cannot reach the broker at {settings.broker}: {exc}",
            "check --broker / PULSE_BROKER, or omit both to use the embedded broker",
        )
    return settings


def run(args: argparse.Namespace) -> int:
    from streams.worker.topology import run_worker

    try:
        config = with_backfill(load_config(settings_from(args).config), args.backfill_until)
    except ValueError:
        return fail(
            f"--backfill-until {args.backfill_until!r} is not a time",
            "e.g. --backfill-until 2024-01-01T00:00:00Z",
        )
    with ExitStack() as stack:
        settings = connect(settings_from(args).check(), config, stack)
        if isinstance(settings, int):
            return settings
        console.print(
            f"worker '{settings.app_id}' on {settings.broker} "
            f"({config.stream.partitions} partitions); Ctrl-C stops it"
        )
        return run_worker(settings, config)
    return 0
